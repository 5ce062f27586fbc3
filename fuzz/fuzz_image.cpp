// fuzz_image.cpp — libFuzzer target for decode_image (data/image_folder.h): our checks in
// front of stb_image (signature sniffing, size limit) and stb_image's decoders behind them.
//
// Any byte string must either decode or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. The first byte picks the channel request (0, 1 or 3);
// the rest is the file. The size limit is lowered to 2^20 pixels so the fuzzer does not
// spend its memory on huge (valid) images. Not built by meson. From the repository root:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I/usr/include/stb \
//     -DKZ_FUZZ_STB_IMPLEMENTATION \
//     fuzz/fuzz_image.cpp data/image_folder.cpp data/transforms.cpp data/dataset.cpp \
//     tensor/file_io.cpp tensor/tensor.cpp tensor/storage.cpp tensor/generator.cpp \
//     -lfmt -o /tmp/fuzz_image
//   mkdir -p /tmp/corpus_image && for f in tests/fixtures/data_img_*; do \
//     (printf '\3'; cat "$f") > /tmp/corpus_image/$(basename "$f"); done
//   /tmp/fuzz_image -max_total_time=60 -max_len=4096 -rss_limit_mb=2048 /tmp/corpus_image
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
