// fuzz_image.cpp — libFuzzer target for decode_image (data/image_folder.h): our checks in
// front of stb_image (signature sniffing, size limit) and stb_image's decoders behind them.
//
// Any byte string must either decode or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. The first byte picks the channel request (0, 1 or 3);
// the rest is the file. The size limit is lowered to 2^20 pixels so the fuzzer does not
// spend its memory on huge (valid) images. Built and run by scripts/fuzz.sh
// (seed corpus: fuzz/corpus/image/, made by fuzz/make_corpus.py).
//
// KZ_FUZZ_STB_IMPLEMENTATION compiles stb_image into this target, so the sanitizers see
// inside its decoders; the library itself uses Debian's libstb (drop the define and link
// -lstb to fuzz exactly that, uninstrumented).
#include <cstddef>
#include <cstdint>
#include <string>

#ifdef KZ_FUZZ_STB_IMPLEMENTATION
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#endif

#include "data/image_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr int kChannels[3] = {0, 1, 3};
  const int channels = kChannels[data[0] % 3];
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const kz::Image img = kz::decode_image(bytes, "fuzz", channels, int64_t{1} << 20);
    size_t sum = 0;
    for (uint8_t v : img.pixels) sum += v;  // touch every value
    (void)sum;
  } catch (const kz::Error&) {
  }
  return 0;
}
