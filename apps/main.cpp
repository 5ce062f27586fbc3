// main.cpp — the `kizuki` command-line program. Thin: each subcommand parses its flags and
// calls the library; the subcommands live in apps/cmd_*.cpp.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kizuki — metric-learning anomaly detection from scratch"};
  app.require_subcommand(1);
  kz::add_info_command(app);
  kz::add_benchmark_command(app);
  kz::add_model_commands(app);
  kz::add_tool_commands(app);
  kz::add_forward_command(app);
  kz::add_profile_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kizuki: {}\n", e.what());
    return 1;
  }
  return 0;
}
