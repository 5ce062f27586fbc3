// process.cpp — threads and peak memory of the process (see process.h).
#include "apps/process.h"

#include <omp.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include "tensor/blas.h"
#include "tensor/error.h"

namespace kz {

void set_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);   // oneDNN (its OpenMP runtime) and kizuki's kernels
  blas_set_num_threads(threads);  // OpenBLAS keeps its own count
}

int64_t peak_rss_bytes() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string format_bytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
}

void add_data_parallel_flags(CLI::App* cmd, bool& data_parallel, bool& sync_bn,
                             double& bucket_mb) {
  cmd->add_flag("--data-parallel", data_parallel,
                "under mpirun: all processes train each model together, each on its shard of "
                "every batch, gradients averaged (in the benchmark: instead of spreading the "
                "trials)");
  cmd->add_flag("--sync-bn", sync_bn,
                "with --data-parallel: batch-norm statistics of the whole batch over all "
                "processes (default: each process's own shard)");
  cmd->add_option("--bucket-mb", bucket_mb,
                  "with --data-parallel: gradient bucket size in MiB (0: one bucket after "
                  "backward, no overlap; default 4)")
      ->check(CLI::Range(0.0, 4096.0));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::vector<int64_t> parse_widths(const std::string& text, const std::string& where) {
  std::vector<int64_t> widths;
  for (const std::string& w : split_list(text)) {
    int64_t v = 0;
    try {
      v = std::stoll(w);
    } catch (const std::exception&) {
    }
    KZ_CHECK(v >= 1, where, "--mlp-widths: '{}' is not a positive width", w);
    widths.push_back(v);
  }
  return widths;
}

}  // namespace kz
