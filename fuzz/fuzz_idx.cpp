// fuzz_idx.cpp — libFuzzer target for the gzip and IDX readers (data/fashion_mnist.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. The input is read three ways: as one (maybe gzipped) IDX
// file, and split at a point chosen by its first byte into an image file and a label file
// for parse_idx_dataset. Not built by meson. From the repository root:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/fuzz_idx.cpp data/fashion_mnist.cpp data/dataset.cpp tensor/file_io.cpp \
//     tensor/tensor.cpp tensor/storage.cpp tensor/generator.cpp \
//     -lz -lfmt -o /tmp/fuzz_idx
//   mkdir -p /tmp/corpus_idx
//   printf '\0\0\10\3\0\0\0\2\0\0\0\2\0\0\0\3abcdefghijkl' > /tmp/corpus_idx/images
//   printf '\0\0\10\1\0\0\0\2\1\7' > /tmp/corpus_idx/labels
//   gzip -k /tmp/corpus_idx/images /tmp/corpus_idx/labels
//   /tmp/fuzz_idx -max_total_time=60 -max_len=4096 -rss_limit_mb=2048 /tmp/corpus_idx
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/fashion_mnist.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const kz::IdxArray a = kz::parse_idx(kz::maybe_gunzip(bytes, "fuzz"), "fuzz");
    size_t sum = 0;
    for (uint8_t v : a.data) sum += v;  // touch every value
    (void)sum;
  } catch (const kz::Error&) {
  }
  if (size < 1) return 0;
  const size_t split = 1 + static_cast<size_t>(data[0]) * (size - 1) / 255;
  try {
    const kz::ImageDataset d = kz::parse_idx_dataset(
        bytes.substr(1, split - 1), "images", bytes.substr(split), "labels",
        kz::fashion_mnist_classes());
    d.validate();
  } catch (const kz::Error&) {
  }
  return 0;
}
