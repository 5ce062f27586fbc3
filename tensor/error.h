/// \file
/// error.h — kizuki's one exception type and its checking macros.
///
/// Errors at the call site: every user-facing check throws kz::Error whose message starts
/// with "[op]" and names the shapes, file or argument at fault. Internal invariants (things
/// that can only fail through a bug in kizuki) use KZ_ASSERT, which adds file:line.
/// The library never calls exit().
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace kz {

/// The one exception kizuki throws; what() is "[op] message".
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// "[op] message" as a kz::Error.
[[noreturn]] inline void fail(const std::string& op, const std::string& message) {
  throw Error("[" + op + "] " + message);
}

/// "(2, 3, 4)" — shapes in error messages look like PyTorch's.
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace kz

/// KZ_CHECK(cond, "op", "format {}", args...) — a user-facing precondition: throws
/// kz::Error "[op] message" (the message formatted by fmt) when cond is false.
#define KZ_CHECK(cond, op, ...)                          \
  do {                                                   \
    if (!(cond)) ::kz::fail((op), fmt::format(__VA_ARGS__)); \
  } while (0)

/// KZ_ASSERT(cond) — an internal invariant; a failure is a kizuki bug (reported with file:line).
#define KZ_ASSERT(cond)                                                              \
  do {                                                                               \
    if (!(cond))                                                                     \
      throw ::kz::Error(fmt::format("[internal] {}:{}: assertion failed: {}", __FILE__, \
                                    __LINE__, #cond));                               \
  } while (0)
