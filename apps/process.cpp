// process.cpp — threads, peak memory, progress and the shared flags (see process.h).
#include "apps/process.h"

#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

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

bool interactive() { return isatty(STDERR_FILENO) && std::getenv("CI") == nullptr; }

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60)
                   : fmt::format("{}m{:02}s", s / 60, s % 60);
}

std::string recorded_path(const std::string& path) {
  if (path.empty()) return path;
  return std::filesystem::absolute(path).lexically_normal().string();
}

std::string progress_line(const TrainProgress& p) {
  const double done = (static_cast<double>(p.epoch) +
                       static_cast<double>(p.batch + 1) / static_cast<double>(p.batches)) /
                      static_cast<double>(p.epochs);
  const double eta = p.seconds * (1.0 / std::max(done, 1e-9) - 1.0);
  return fmt::format("epoch {}/{} batch {}/{} loss {:.4f} {:.0f} img/s ETA {}", p.epoch + 1,
                     p.epochs, p.batch + 1, p.batches, p.loss, p.images_per_second,
                     format_duration(eta));
}

void add_training_flags(CLI::App* cmd, TrainingFlags& f) {
  cmd->add_option("--image-size", f.image_size, "input size N (N×N)")->check(CLI::Range(8, 1024));
  cmd->add_option("--width", f.width, "MobileNetV2 width multiplier")->check(CLI::Range(0.1, 2.0));
  cmd->add_option("--epochs", f.epochs, "training epochs")->check(CLI::Range(1, 100000));
  cmd->add_option("--batch", f.batch, "batch size")->check(CLI::Range(2, 65536));
  cmd->add_option("--lr", f.lr, "learning rate")->check(CLI::Range(1e-12, 10.0));
}

void apply_training_flags(const TrainingFlags& f, MethodOptions& m) {
  if (f.image_size > 0) m.preprocess.height = m.preprocess.width = f.image_size;
  if (f.width > 0) m.width = f.width;
  if (f.epochs > 0) m.epochs = f.epochs;
  if (f.batch > 0) m.batch_size = f.batch;
  if (f.lr > 0) m.lr = f.lr;
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
