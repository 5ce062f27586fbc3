// fuzz_cifar.cpp — libFuzzer target for parse_cifar_batch (data/cifar10.h).
//
// Any byte string must either parse or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Built and run by scripts/fuzz.sh
// (seed corpus: fuzz/corpus/cifar/, made by fuzz/make_corpus.py).
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
