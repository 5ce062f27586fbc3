// error_of.h — the message of the kz::Error a call throws, for the tests of bad input.
#pragma once

#include <exception>
#include <string>

#include "tensor/error.h"

namespace kz::test {

inline const std::string kNoError = "(no error)";

// The message of the kz::Error that f throws: "(no error)" when it throws none and
// "(not a kz::Error) …" for any other exception, so that a check on the message fails
// either way.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const kz::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(not a kz::Error) ") + e.what();
  }
  return kNoError;
}

}  // namespace kz::test
