// main.cpp — the `kizuki` command-line program. Thin: each subcommand parses its flags and
// calls the library; the subcommands live in apps/cmd_*.cpp. It owns the MPI session
// (dist/mpi.h): started here when mpirun launched the program, finalised when main returns.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.h"
#include "dist/mpi.h"

int main(int argc, char** argv) {
  std::unique_ptr<kz::MpiSession> session;
  try {
    session = std::make_unique<kz::MpiSession>(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kizuki: {}\n", e.what());
    return 1;
  }
  kz::Communicator& world = session->world();
  CLI::App app{"kizuki — metric-learning anomaly detection from scratch"};
  app.require_subcommand(1);
  kz::add_info_command(app);
  kz::add_benchmark_command(app, world);
  kz::add_model_commands(app, world);
  kz::add_tool_commands(app);
  kz::add_forward_command(app);
  kz::add_profile_command(app);
  kz::add_openset_command(app);
  kz::add_localize_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // every rank parses the same flags, so every rank ends here
  } catch (const kz::GroupError& e) {  // every rank knows it: say it once, end normally
    if (world.rank() == 0) fmt::print(stderr, "kizuki: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    if (world.size() == 1) {
      fmt::print(stderr, "kizuki: {}\n", e.what());
      return 1;
    }
    // One rank alone: the others may be waiting for it, so end them all.
    fmt::print(stderr, "kizuki (rank {} of {}): {}\n", world.rank(), world.size(), e.what());
    std::fflush(stderr);
    world.abort(1);
  }
  return 0;
}
