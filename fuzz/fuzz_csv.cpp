// fuzz_csv.cpp — libFuzzer target for parse_csv (data/csv.h).
//
// The first byte picks the options (bit 0: no header, label column "0", else the column
// named "y"; bits 1–2: lines to skip; bit 3: drop the column named "id"; bit 4: a memory
// limit of 4 KiB); the rest is the CSV text. Any input must either parse into a consistent
// table or throw kz::Error; a crash, a sanitizer report, a hang or any other exception is a
// bug. Built and run by scripts/fuzz.sh (seed corpus: fuzz/corpus/csv/, made by
// fuzz/make_corpus.py).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/csv.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  kz::CsvOptions options;
  options.header = (flags & 1) == 0;
  options.label = options.header ? "y" : "0";
  options.skip_rows = (flags >> 1) & 3;
  if (flags & 8) options.drop = {"id"};
  if (flags & 16) options.max_bytes = 4096;
  try {
    const kz::Table t = kz::parse_csv(text, options, "fuzz");
    // A parsed table is consistent: N·F finite values, N labels within the classes.
    if (t.rows() < 1 || t.features() < 1 ||
        static_cast<int64_t>(t.values.size()) != t.rows() * t.features() ||
        static_cast<int64_t>(t.lines.size()) != t.rows())
      __builtin_trap();
    for (float v : t.values)
      if (!std::isfinite(v)) __builtin_trap();
    for (int64_t l : t.labels)
      if (l < 0 || l >= static_cast<int64_t>(t.class_names.size())) __builtin_trap();
  } catch (const kz::Error&) {
  }
  return 0;
}
