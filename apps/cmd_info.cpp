// cmd_info.cpp — `kizuki info`: library versions, threads and the CPU's vector extensions
// (the versions come from the library: tensor/build_info.h).
#include <omp.h>

#include <fmt/format.h>

#include "apps/commands.h"
#include "tensor/blas.h"
#include "tensor/build_info.h"

namespace kz {

void add_info_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "versions, threads and CPU features");
  cmd->callback([] {
    const BuildInfo b = build_info();
    fmt::print("kizuki   {}\n", b.kizuki);
    fmt::print("oneDNN   {} ({}), kernels for {}\n", b.onednn, b.onednn_hash, b.onednn_isa);
    fmt::print("OpenBLAS {}\n", b.openblas);
    fmt::print("compiler {} (for {})\n", b.compiler, b.built_for);
    fmt::print("threads  {} (OpenMP), {} (OpenBLAS)\n", omp_get_max_threads(),
               blas_num_threads());
    fmt::print("CPU      {}\n", b.cpu);
  });
}

}  // namespace kz
