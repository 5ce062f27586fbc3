// fuzz_cifar.cpp — libFuzzer target for parse_cifar_batch (data/cifar10.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Not built by meson. From the repository root:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/fuzz_cifar.cpp data/cifar10.cpp data/dataset.cpp tensor/file_io.cpp \
//     tensor/tensor.cpp tensor/storage.cpp tensor/generator.cpp \
//     -lfmt -o /tmp/fuzz_cifar
//   mkdir -p /tmp/corpus_cifar && head -c 6146 ../shared/data/cifar10/test_batch.bin \
//     > /tmp/corpus_cifar/two_records
//   /tmp/fuzz_cifar -max_total_time=60 -max_len=8192 -rss_limit_mb=2048 /tmp/corpus_cifar
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/cifar10.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const kz::ImageDataset d = kz::parse_cifar_batch(bytes, "fuzz");
    d.validate();
    (void)d.subset({0}).to_tensor();  // a parsed batch has at least one record
  } catch (const kz::Error&) {
  }
  return 0;
}
