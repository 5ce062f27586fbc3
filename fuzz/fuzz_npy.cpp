// fuzz_npy.cpp — libFuzzer target for parse_npy and parse_npy_int (tensor/npy.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Not built by meson. From the repository root:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/fuzz_npy.cpp tensor/npy.cpp tensor/file_io.cpp \
//     tensor/tensor.cpp tensor/storage.cpp tensor/generator.cpp \
//     -lfmt -o /tmp/fuzz_npy
//   mkdir -p /tmp/corpus_npy && cp tests/fixtures/*.npy /tmp/corpus_npy/
//   /tmp/fuzz_npy -max_total_time=60 -max_len=4096 -rss_limit_mb=2048 /tmp/corpus_npy
//
// (Add further tensor/*.cpp files to the command if tensor.cpp gains dependencies.)
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
