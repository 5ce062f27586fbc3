// temp_dir.h — a scratch folder for the tests that write files.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace kz::test {

// A fresh, empty folder under the system temp dir ("kz_test_<tag>_<pid>_<n>"), removed
// with everything in it at scope exit. dir / "name" is the path of a file in it.
struct TempDir {
  std::filesystem::path path;

  explicit TempDir(const std::string& tag = "tmp") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("kz_test_" + tag + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;  // never throw from a destructor (a browser may still hold files)
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace kz::test
