// image_folder.cpp — decoding through stb_image and reading class folders (see image_folder.h).
// Debian's libstb holds stb_image's implementation: this file only includes the header.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string_view>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stb_image.h>

#include "data/transforms.h"
#include "tensor/file_io.h"

namespace kz {
namespace fs = std::filesystem;

namespace {

// The format named by the file's first bytes, or nullptr. Only these reach stb_image: its
// other decoders (TGA, which has no signature, PSD, HDR, PIC) are not offered.
const char* sniff_format(const std::string& b) {
  auto starts = [&](std::string_view magic) { return b.compare(0, magic.size(), magic) == 0; };
  if (starts("\x89PNG\r\n\x1a\n")) return "PNG";
  if (starts("\xff\xd8\xff")) return "JPEG";
  if (starts("BM")) return "BMP";
  if (starts("GIF87a") || starts("GIF89a")) return "GIF";
  if (starts("P5") || starts("P6")) return "PNM";
  return nullptr;
}

// Debian's stb_image (2.27) trusts a JPEG's Huffman tables in two ways (found by
// fuzz/fuzz_image.cpp; the inputs are in fuzz/regressions/image/jpeg-*): a table of more
// than 256 codes writes past its size[257] array; and a scan that uses a table no DHT
// segment defined reads that table from uninitialised memory (stb does not clear it), which
// decodes garbage or trips stb's own assert() and aborts the process. Later stb versions
// reject both, and so does this check, before stb sees the file. It reads as stb does:
// bytes past the end are 0, a table's counts are read even where its segment is too short
// for them. The header is walked segment by segment; from the first scan on, where stb may
// resynchronise on any 0xFF, every FF C4 (a DHT marker wherever stb could find one) and
// every FF DA (SOS) is checked. A scan uses, per component, its DC and AC tables; in a
// progressive file (SOF2) a DC scan only its DC table and only in its first pass, an AC
// scan only its AC table.
// Returns what is wrong, or "" when every table stb could read has at most 256 codes and
// every table a scan uses was defined before it.
std::string bad_jpeg_huffman_table(const std::string& b) {
  const auto at = [&](size_t i) -> size_t {
    return i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
  };
  const auto length_at = [&](size_t marker) { return (at(marker + 2) << 8) | at(marker + 3); };
  bool defined[2][4] = {};  // [DC 0 / AC 1][table id]
  bool progressive = false;
  // The DHT segment whose FF C4 is at `marker`: tables of [class/id, 16 counts, symbols].
  const auto check_dht = [&](size_t marker) -> std::string {
    const size_t end = marker + 2 + length_at(marker);
    for (size_t p = marker + 4; p < end && p < b.size();) {
      size_t codes = 0;
      for (size_t k = 1; k <= 16; ++k) codes += at(p + k);
      if (codes > 256)
        return fmt::format("a Huffman table with {} codes (at most 256) at byte {}", codes, p);
      if (at(p) >> 4 <= 1 && (at(p) & 15) <= 3) defined[at(p) >> 4][at(p) & 15] = true;
      p += 17 + codes;
    }
    return "";
  };
  // The SOS header whose FF DA is at `marker`: Ns, then (component, DC id << 4 | AC id) per
  // component, then Ss, Se, Ah << 4 | Al. Ids above 3 stb refuses itself.
  const auto check_sos = [&](size_t marker) -> std::string {
    const size_t ns = at(marker + 4), tail = marker + 5 + 2 * ns;
    const size_t ss = at(tail), ah = at(tail + 2) >> 4;
    const bool dc = !progressive || (ss == 0 && ah == 0), ac = !progressive || ss > 0;
    for (size_t k = 0; k < ns; ++k) {
      const size_t ids = at(marker + 6 + 2 * k), td = ids >> 4, ta = ids & 15;
      for (const auto& [used, cls, id] : {std::tuple{dc, 0, td}, std::tuple{ac, 1, ta}})
        if (used && id <= 3 && !defined[cls][id])
          return fmt::format("the scan at byte {} uses {} Huffman table {}, which no DHT "
                             "segment before it defines", marker, cls == 0 ? "DC" : "AC", id);
    }
    return "";
  };
  bool in_scans = false;
  for (size_t i = 2; i + 1 < b.size();) {  // after the SOI marker FF D8
    if (in_scans || at(i) != 0xFF) {
      if (in_scans && at(i) == 0xFF && at(i + 1) == 0xC4)
        if (std::string bad = check_dht(i); !bad.empty()) return bad;
      if (in_scans && at(i) == 0xFF && at(i + 1) == 0xDA)
        if (std::string bad = check_sos(i); !bad.empty()) return bad;
      ++i;
      continue;
    }
    const size_t marker = at(i + 1);
    // Fill bytes, stuffed zero, TEM, RSTn and SOI carry no length.
    if (marker == 0xFF || marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
      i += marker == 0xFF ? 1 : 2;
      continue;
    }
    if (marker == 0xD9) break;  // EOI
    if (marker == 0xC2) progressive = true;
    if (marker == 0xC4)
      if (std::string bad = check_dht(i); !bad.empty()) return bad;
    if (marker == 0xDA)
      if (std::string bad = check_sos(i); !bad.empty()) return bad;
    in_scans = marker == 0xDA;  // SOS: entropy-coded data follows its header
    i += 2 + std::max<size_t>(length_at(i), 2);
  }
  return "";
}

// Debian's stb_image grows its buffer for a PNG's IDAT data by the chunk's declared length
// before reading it: a 177-byte file whose chunk claims 1.5 GB had it allocate 2 GB (found
// by fuzz/fuzz_image.cpp, fuzz/regressions/image/png-chunk-longer-than-file). A PNG is its
// 8-byte signature and then chunks of (length, type, data, CRC); this walks them up to IEND
// and refuses any whose length runs past the end of the file, so what stb allocates stays
// within twice the file's size. Returns what is wrong, or "".
std::string bad_png_chunk(const std::string& b) {
  auto u32 = [&](size_t i) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v = v << 8 | static_cast<unsigned char>(b[i + k]);
    return v;
  };
  for (size_t i = 8; i + 8 <= b.size();) {
    const uint64_t length = u32(i);
    const std::string type = b.substr(i + 4, 4);
    if (length + 12 > b.size() - i)
      return fmt::format("chunk '{}' at byte {} claims {} bytes, the file has {} after it",
                         printable(type), i, length, b.size() - i - 8);
    if (type == "IEND") break;
    i += 12 + length;
  }
  return "";
}

// Debian's stb_image (2.27) mishandles PNM files in three ways (found by
// fuzz/fuzz_image.cpp; the inputs are in fuzz/regressions/image/pnm-*): it reads the
// header's width, height and maximum value into an int digit by digit with no bound, so ten
// digits or more overflow it; it ignores a short read of the pixels, so a truncated file
// "decodes" to uninitialised memory; and 16-bit samples (maximum value above 255) it reads
// byte-swapped (0x1234 comes out as 0x34) and, when asked for other channels, converts as
// 8-bit, reading past its buffer. This reads the header as stb does ("P5"/"P6", then the
// three numbers, each after whitespace and # comments; one byte after the last number the
// pixels begin) and refuses a number of more than nine digits, 16-bit samples, and fewer
// pixel bytes than the header promises. Returns what is wrong, or "".
std::string bad_pnm(const std::string& b) {
  size_t i = 2;
  auto at_end = [&] { return i >= b.size(); };
  auto next = [&]() -> char { return at_end() ? '\0' : b[i++]; };  // stb reads 0 past the end
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  char c = next();
  int64_t numbers[3] = {0, 0, 0};  // width, height, maximum value
  const char* names[3] = {"width", "height", "maximum value"};
  for (int k = 0; k < 3; ++k) {
    for (;;) {
      while (!at_end() && space(c)) c = next();
      if (at_end() || c != '#') break;
      while (!at_end() && c != '\n' && c != '\r') c = next();
    }
    int digits = 0;
    for (; !at_end() && c >= '0' && c <= '9'; c = next(), ++digits)
      if (digits < 9) numbers[k] = numbers[k] * 10 + (c - '0');
    if (digits > 9) return fmt::format("its {} has {} digits", names[k], digits);
  }
  if (numbers[2] > 255)
    return fmt::format("16-bit samples (maximum value {}) are not supported; save it with 8",
                       numbers[2]);
  const int64_t need = numbers[0] * numbers[1] * (b[1] == '6' ? 3 : 1);
  const int64_t have = static_cast<int64_t>(b.size() - i);
  if (need > have)
    return fmt::format("its {}x{} pixels need {} bytes after the header, the file has {}",
                       numbers[0], numbers[1], need, have);
  return "";
}

}  // namespace

Image decode_image(const std::string& bytes, const std::string& name, int channels,
                   int64_t max_pixels) {
  KZ_CHECK(channels == 0 || channels == 1 || channels == 3, "image",
           "{}: channels must be 0, 1 or 3, not {}", name, channels);
  KZ_CHECK(!bytes.empty(), "image", "{}: empty file", name);
  KZ_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "image",
           "{}: {} bytes is too large for stb_image", name, bytes.size());
  const char* format = sniff_format(bytes);
  KZ_CHECK(format != nullptr, "image", "{}: not a PNG, JPEG, BMP, GIF or PNM (P5/P6) file",
           name);
  // What Debian's stb_image 2.27 would mishandle is refused before it sees the file.
  const std::string_view f(format);
  const std::string bad = f == "JPEG" ? bad_jpeg_huffman_table(bytes)
                          : f == "PNG" ? bad_png_chunk(bytes)
                          : f == "PNM" ? bad_pnm(bytes)
                                       : std::string();
  KZ_CHECK(bad.empty(), "image", "{}: corrupt {}: {}", name, format, bad);
  const auto* buf = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(buf, len, &w, &h, &comp))
    fail("image", fmt::format("{}: cannot decode ({})", name, stbi_failure_reason()));
  KZ_CHECK(w > 0 && h > 0 && int64_t{w} * h <= max_pixels, "image",
           "{}: {}x{} pixels is more than the limit of {}", name, w, h, max_pixels);
  const int want = channels != 0 ? channels : (comp <= 2 ? 1 : 3);
  stbi_uc* hwc = stbi_load_from_memory(buf, len, &w, &h, &comp, want);
  if (hwc == nullptr)
    fail("image", fmt::format("{}: cannot decode ({})", name, stbi_failure_reason()));
  Image img;
  img.channels = want;
  img.height = h;
  img.width = w;
  img.pixels.resize(static_cast<size_t>(want) * static_cast<size_t>(w) * static_cast<size_t>(h));
  const int64_t hw = int64_t{w} * h;
  for (int64_t p = 0; p < hw; ++p)  // (H,W,C) -> (C,H,W)
    for (int k = 0; k < want; ++k) img.pixels[static_cast<size_t>(k * hw + p)] = hwc[p * want + k];
  stbi_image_free(hwc);
  return img;
}

Image load_image(const std::string& path, int channels) {
  return decode_image(read_file(path), path, channels);
}

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  for (const char* e : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".pnm"})
    if (ext == e) return true;
  return false;
}

// img resized to oh×ow with bilinear interpolation, rounded back to bytes.
Image resize_image(const Image& img, int64_t oh, int64_t ow) {
  if (img.height == oh && img.width == ow) return img;
  Image out{img.channels, oh, ow, std::vector<uint8_t>(static_cast<size_t>(img.channels * oh * ow))};
  std::vector<float> src(static_cast<size_t>(img.height * img.width));
  std::vector<float> dst(static_cast<size_t>(oh * ow));
  for (int64_t k = 0; k < img.channels; ++k) {
    const uint8_t* plane = img.pixels.data() + k * img.height * img.width;
    std::copy(plane, plane + src.size(), src.begin());
    resize_bilinear_plane(src.data(), img.height, img.width, dst.data(), oh, ow);
    for (size_t j = 0; j < dst.size(); ++j)
      out.pixels[static_cast<size_t>(k * oh * ow) + j] =
          static_cast<uint8_t>(std::clamp(std::lround(dst[j]), 0L, 255L));
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += "\n  " + l;
  return s;
}

}  // namespace

std::vector<std::string> list_image_files(const std::string& dir) {
  std::error_code ec;
  KZ_CHECK(fs::exists(dir, ec), "image_folder", "{}: no such file or folder", dir);
  KZ_CHECK(fs::is_directory(dir, ec), "image_folder", "{}: not a folder", dir);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const fs::path& p = e.path();
    if (p.filename().string().starts_with(".") || e.is_directory(ec)) continue;
    if (has_image_extension(p)) files.push_back(p.string());
  }
  KZ_CHECK(!ec, "image_folder", "{}: cannot list ({})", dir, ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

ImageFiles load_image_files(const std::vector<std::string>& paths,
                            const std::vector<int64_t>& labels,
                            const std::vector<std::string>& class_names,
                            const ImageFolderOptions& opt, const std::string& source) {
  const std::string src = source.empty() ? "image files" : source;
  KZ_CHECK(opt.channels == 1 || opt.channels == 3, "image_folder",
           "{}: channels must be 1 or 3, not {}", src, opt.channels);
  KZ_CHECK(opt.height >= 0 && opt.width >= 0 && (opt.height == 0) == (opt.width == 0),
           "image_folder", "{}: resize to {}x{} (give both sizes, or neither)", src,
           opt.height, opt.width);
  KZ_CHECK(paths.size() == labels.size(), "image_folder", "{}: {} files but {} labels", src,
           paths.size(), labels.size());
  KZ_CHECK(!paths.empty(), "image_folder", "{}: no image files", src);

  ImageFiles out;
  std::vector<Image> images;
  std::vector<int64_t> kept_labels;
  std::vector<std::string> unreadable;
  for (size_t i = 0; i < paths.size(); ++i) {
    KZ_CHECK(labels[i] >= 0 && labels[i] < static_cast<int64_t>(class_names.size()),
             "image_folder", "{}: label {} outside the {} classes", paths[i], labels[i],
             class_names.size());
    try {
      Image img = decode_image(read_file(paths[i]), paths[i], opt.channels);
      if (opt.height > 0) img = resize_image(img, opt.height, opt.width);
      images.push_back(std::move(img));
      kept_labels.push_back(labels[i]);
      out.files.push_back(paths[i]);
    } catch (const Error& e) {
      // "[image] path: reason" — keep "path: reason".
      std::string msg = e.what();
      if (msg.starts_with("[")) msg = msg.substr(msg.find("] ") + 2);
      unreadable.push_back(msg);
    }
  }
  if (!unreadable.empty()) {
    if (!opt.skip_unreadable)
      fail("image_folder", fmt::format("{}: {} unreadable image file(s){}\n({})", src,
                                       unreadable.size(), joined(unreadable), opt.skip_hint));
    out.skipped = unreadable;  // the caller warns about them
  }
  KZ_CHECK(!images.empty(), "image_folder", "{}: no readable images", src);

  const Image& first = images.front();
  for (size_t i = 1; i < images.size(); ++i)
    KZ_CHECK(images[i].height == first.height && images[i].width == first.width,
             "image_folder",
             "{}: images differ in size: {} is {}x{} but {} is {}x{} (give a size to resize "
             "them to)",
             src, out.files[0], first.height, first.width, out.files[i], images[i].height,
             images[i].width);

  ImageDataset& ds = out.dataset;
  ds.channels = opt.channels;
  ds.height = first.height;
  ds.width = first.width;
  ds.class_names = class_names;
  ds.source = src;
  ds.labels = kept_labels;
  ds.pixels.reserve(images.size() * first.pixels.size());
  for (const Image& img : images) ds.pixels.insert(ds.pixels.end(), img.pixels.begin(), img.pixels.end());
  return out;
}

ImageFiles load_image_folder(const std::string& dir, const ImageFolderOptions& opt) {
  std::error_code ec;
  KZ_CHECK(fs::exists(dir, ec), "image_folder", "{}: no such folder", dir);
  KZ_CHECK(fs::is_directory(dir, ec), "image_folder", "{}: not a folder", dir);
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && !e.path().filename().string().starts_with("."))
      classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  KZ_CHECK(!classes.empty(), "image_folder",
           "{}: no class subfolders (expected one subfolder of images per class)", dir);

  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  std::vector<std::string> empty;
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto files = list_image_files((fs::path(dir) / classes[c]).string());
    if (files.empty()) empty.push_back(classes[c]);
    for (const auto& f : files) {
      paths.push_back(f);
      labels.push_back(static_cast<int64_t>(c));
    }
  }
  KZ_CHECK(empty.empty(), "image_folder", "{}: class folder(s) with no image files: {}", dir,
           fmt::join(empty, ", "));
  return load_image_files(paths, labels, classes, opt, dir);
}

}  // namespace kz
