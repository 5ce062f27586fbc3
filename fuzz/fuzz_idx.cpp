// fuzz_idx.cpp — libFuzzer target for the gzip and IDX readers (data/fashion_mnist.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. The input is read three ways: as one (maybe gzipped) IDX
// file, and split at a point chosen by its first byte into an image file and a label file
// for parse_idx_dataset. Built and run by scripts/fuzz.sh
// (seed corpus: fuzz/corpus/idx/, made by fuzz/make_corpus.py).
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
