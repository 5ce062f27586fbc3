// image_write.cpp — PNG encoding into memory with stb_image_write (see image_write.h).
#include "data/image_write.h"

#include <stb_image_write.h>

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace kz {

std::string encode_png(const std::vector<uint8_t>& pixels, int64_t height, int64_t width,
                       int channels) {
  KZ_CHECK(channels == 1 || channels == 3 || channels == 4, "encode_png",
           "channels must be 1, 3 or 4, not {}", channels);
  KZ_CHECK(height > 0 && width > 0, "encode_png", "a {}x{} image (HxW) is empty", height, width);
  constexpr int64_t kMaxBytes = int64_t{1} << 30;
  KZ_CHECK(width <= kMaxBytes / channels && (width * channels + 1) <= kMaxBytes / height,
           "encode_png", "a {}x{} image (HxW) of {} channels is too large (limit 2^30 bytes)",
           height, width, channels);
  const int64_t expected = height * width * channels;
  KZ_CHECK(static_cast<int64_t>(pixels.size()) == expected, "encode_png",
           "{} bytes for a {}x{} image (HxW) of {} channels: expected {}", pixels.size(), height,
           width, channels, expected);
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<size_t>(size));
  };
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  if (stbi_write_png_to_func(append, &png, w, h, channels, pixels.data(), w * channels) == 0)
    fail("encode_png", fmt::format("stb_image_write failed on a {}x{} image of {} channels",
                                   height, width, channels));
  return png;
}

void write_png(const std::string& path, const std::vector<uint8_t>& pixels, int64_t height,
               int64_t width, int channels) {
  write_file_atomic(path, encode_png(pixels, height, width, channels));
}

}  // namespace kz
