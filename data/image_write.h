/// \file
/// image_write.h — PNG files from bytes, through Debian's stb_image_write (its implementation
/// is in libstb; nothing here defines STB_IMAGE_WRITE_IMPLEMENTATION).
///
/// Pixels are row-major (H,W,C) bytes — C = 1 (grey), 3 (RGB) or 4 (RGBA) — the order image
/// files and stb use, not the (C,H,W) order of data/image_folder.h's Image. The PNG is 8 bits
/// per channel, stb's default compression. Sizes are limited to (W·C + 1)·H ≤ 2^30 bytes:
/// stb_image_write counts in int.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kz {

/// The PNG file's bytes. pixels is (H,W,C), pixels.size() = height·width·channels.
/// Throws kz::Error "[encode_png] …" naming the sizes when they disagree or are out of range.
std::string encode_png(const std::vector<uint8_t>& pixels, int64_t height, int64_t width,
                       int channels);

/// encode_png written to `path` with write_file_atomic (tensor/file_io.h): readers see the old
/// file or the whole new one. An unwritable path throws a kz::Error naming it.
void write_png(const std::string& path, const std::vector<uint8_t>& pixels, int64_t height,
               int64_t width, int channels);

}  // namespace kz
