// fuzz_npy.cpp — libFuzzer target for parse_npy and parse_npy_int (tensor/npy.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Built and run by scripts/fuzz.sh
// (seed corpus: fuzz/corpus/npy/, made by fuzz/make_corpus.py).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    (void)kz::parse_npy(bytes, "fuzz").to_vector();  // touch every value
  } catch (const kz::Error&) {
  }
  try {
    (void)kz::parse_npy_int(bytes, "fuzz");
  } catch (const kz::Error&) {
  }
  return 0;
}
