// fuzz_safetensors.cpp — libFuzzer target for parse_safetensors (tensor/safetensors.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Built and run by scripts/fuzz.sh
// (seed corpus: fuzz/corpus/safetensors/, made by fuzz/make_corpus.py).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const kz::Safetensors st = kz::parse_safetensors(bytes, "fuzz");
    for (const auto& [name, t] : st.tensors) (void)t.to_vector();  // touch every value
  } catch (const kz::Error&) {
  }
  return 0;
}
