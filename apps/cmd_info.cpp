// cmd_info.cpp — `kizuki info`: library versions, threads and the CPU's vector extensions.
#include <omp.h>

#include <fstream>
#include <set>
#include <sstream>

#include <dnnl.hpp>
#include <fmt/format.h>

#include "apps/commands.h"
#include "tensor/blas.h"

namespace kz {

namespace {
// The vector-extension flags of /proc/cpuinfo that matter for kernels.
std::string cpu_vector_extensions() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  const std::set<std::string> wanted{"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                     "avx512vl", "avx512_bf16", "avx512_vnni", "amx_tile"};
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w, found;
    while (words >> w)
      if (wanted.count(w)) found += (found.empty() ? "" : " ") + w;
    return found;
  }
  return "unknown";
}
}  // namespace

void add_info_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "versions, threads and CPU features");
  cmd->callback([] {
    const dnnl_version_t* v = dnnl_version();
    fmt::print("kizuki   {}\n", KIZUKI_VERSION);
    fmt::print("oneDNN   {}.{}.{} ({})\n", v->major, v->minor, v->patch, v->hash);
    fmt::print("OpenBLAS {}\n", blas_info());
    fmt::print("threads  {} (OpenMP), {} (OpenBLAS)\n", omp_get_max_threads(),
               blas_num_threads());
    fmt::print("CPU      {}\n", cpu_vector_extensions());
  });
}

}  // namespace kz
