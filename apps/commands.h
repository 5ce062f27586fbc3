// commands.h — one function per subcommand: each adds itself to the CLI11 app, and its
// callback does the work. Errors propagate as kz::Error and main prints them.
#pragma once

#include <CLI/CLI.hpp>

#include "dist/communicator.h"

namespace kz {

void add_info_command(CLI::App& app);       // apps/cmd_info.cpp
void add_benchmark_command(CLI::App& app, Communicator& comm);  // apps/cmd_benchmark.cpp
void add_model_commands(CLI::App& app, Communicator& comm);  // apps/cmd_model.cpp: train, score
void add_tool_commands(CLI::App& app);      // apps/cmd_tools.cpp: lof, auc
void add_forward_command(CLI::App& app);    // apps/cmd_forward.cpp
void add_profile_command(CLI::App& app);    // apps/cmd_profile.cpp
void add_openset_command(CLI::App& app);    // apps/cmd_openset.cpp
void add_localize_command(CLI::App& app);   // apps/cmd_localize.cpp

}  // namespace kz
