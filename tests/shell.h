// shell.h — running a shell command from a test and reading what it printed (the tests that
// drive mpirun, meson, make and pkg-config).
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace kz::test {

struct Ran {
  int status = -1;  // exit status, -1 when it did not exit normally
  std::string output;
};

// `sh -c command`, stdout and stderr together.
inline Ran shell(const std::string& command) {
  Ran r;
  FILE* pipe = popen(("(" + command + ") 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  const int s = pclose(pipe);
  r.status = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  return r;
}

}  // namespace kz::test
