// fuzz_safetensors.cpp — libFuzzer target for parse_safetensors (tensor/safetensors.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Not built by meson. From the repository root:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/fuzz_safetensors.cpp tensor/safetensors.cpp tensor/file_io.cpp \
//     tensor/tensor.cpp tensor/storage.cpp tensor/generator.cpp \
//     -lfmt -o /tmp/fuzz_safetensors
//   mkdir -p /tmp/corpus_st && cp tests/fixtures/*.safetensors /tmp/corpus_st/
//   /tmp/fuzz_safetensors -max_total_time=60 -max_len=4096 -rss_limit_mb=2048 /tmp/corpus_st
//
// (Add further tensor/*.cpp files to the command if tensor.cpp gains dependencies.)
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
