// fashion_mnist.cpp — gzip (zlib inflate, in memory) and IDX parsing (see fashion_mnist.h).
#include "data/fashion_mnist.h"

#include <algorithm>
#include <filesystem>

#include <zlib.h>

#include "tensor/file_io.h"

namespace kz {

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

namespace {

// Decompressed output beyond this is refused (a corrupt or hostile size, not a data set).
constexpr size_t kMaxInflated = size_t{1} << 32;

bool has_gzip_magic(const std::string& b, size_t at) {
  return b.size() >= at + 2 && static_cast<uint8_t>(b[at]) == 0x1f &&
         static_cast<uint8_t>(b[at + 1]) == 0x8b;
}

// Inflates one or more concatenated gzip members; every fault names `name`.
std::string gunzip(const std::string& in, const std::string& name) {
  z_stream zs{};
  KZ_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "gzip", "{}: zlib init failed", name);
  std::string out;
  size_t in_pos = 0;
  char chunk[1 << 16];
  std::string fault;
  bool member_done = false;
  while (fault.empty()) {
    if (zs.avail_in == 0 && in_pos < in.size()) {  // feed (zlib counts in 32-bit units)
      const size_t n = std::min<size_t>(in.size() - in_pos, 1u << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - zs.avail_out);
    if (out.size() > kMaxInflated) {
      fault = fmt::format("decompresses to more than {} bytes", kMaxInflated);
    } else if (rc == Z_STREAM_END) {
      member_done = true;
      const size_t rest = zs.avail_in + (in.size() - in_pos);
      if (rest == 0) break;
      const size_t at = in.size() - rest;
      if (!has_gzip_magic(in, at)) {
        fault = fmt::format("{} bytes of trailing garbage after the gzip data", rest);
      } else {
        inflateReset(&zs);
        member_done = false;
      }
    } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
      // Inflate stops short of the output space only when it has used all its input; with
      // nothing left to feed, the stream ended inside a member.
      const bool input_done = zs.avail_in == 0 && in_pos == in.size();
      if (input_done && (zs.avail_out != 0 || rc == Z_BUF_ERROR))
        fault = fmt::format("truncated gzip stream (ends after {} compressed bytes)",
                            in.size());
      else if (rc == Z_BUF_ERROR)
        fault = "inflate made no progress";
    } else {
      fault = fmt::format("corrupt gzip data ({})", zs.msg ? zs.msg : "inflate error");
    }
  }
  inflateEnd(&zs);
  if (fault.empty() && !member_done) fault = "truncated gzip stream";
  if (!fault.empty()) fail("gzip", name + ": " + fault);
  return out;
}

uint32_t read_be32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3]));
}

// The .gz file when present, else the plain one; an error naming both when neither is.
std::string find_idx_file(const std::string& dir, const std::string& base) {
  namespace fs = std::filesystem;
  const std::string gz = (fs::path(dir) / (base + ".gz")).string();
  const std::string plain = (fs::path(dir) / base).string();
  std::error_code ec;
  if (fs::is_regular_file(gz, ec)) return gz;
  if (fs::is_regular_file(plain, ec)) return plain;
  fail("fashion_mnist", fmt::format("{}: neither {}.gz nor {} found (install Debian's "
                                    "dataset-fashion-mnist, or pass the folder holding them)",
                                    dir, base, base));
}

}  // namespace

std::string maybe_gunzip(const std::string& bytes, const std::string& name) {
  return has_gzip_magic(bytes, 0) ? gunzip(bytes, name) : bytes;
}

IdxArray parse_idx(const std::string& b, const std::string& name, int expected_dims) {
  KZ_CHECK(b.size() >= 4, "idx", "{}: {} bytes is too short for an IDX header", name,
           b.size());
  const auto m0 = static_cast<uint8_t>(b[0]), m1 = static_cast<uint8_t>(b[1]);
  const auto type = static_cast<uint8_t>(b[2]), ndim = static_cast<uint8_t>(b[3]);
  KZ_CHECK(m0 == 0 && m1 == 0, "idx",
           "{}: bad IDX magic number 0x{:02x}{:02x}{:02x}{:02x} (should start 0x0000)", name,
           m0, m1, type, ndim);
  KZ_CHECK(type == 0x08, "idx",
           "{}: IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)", name,
           type);
  KZ_CHECK(expected_dims <= 0 || ndim == expected_dims, "idx",
           "{}: IDX file has {} dimensions, expected {}", name, ndim, expected_dims);
  KZ_CHECK(ndim >= 1, "idx", "{}: IDX file has 0 dimensions", name);
  const size_t header = 4 + 4 * size_t{ndim};
  KZ_CHECK(b.size() >= header, "idx", "{}: truncated IDX header ({} bytes, needs {})", name,
           b.size(), header);
  IdxArray a;
  size_t count = 1;
  bool any_zero = false;
  const size_t body = b.size() - header;
  for (int d = 0; d < ndim; ++d) {
    const uint32_t s = read_be32(b, 4 + 4 * static_cast<size_t>(d));
    a.dims.push_back(s);
    any_zero = any_zero || s == 0;
    // Multiply only while the product can still fit the body, so it cannot overflow.
    if (s != 0 && count <= body) count = count > body / s + 1 ? body + 1 : count * s;
  }
  if (any_zero) count = 0;
  KZ_CHECK(count == body, "idx", "{}: IDX sizes {} need {}{} data bytes, the file has {}", name,
           shape_str(a.dims), count > body ? "more than " : "", count > body ? body : count,
           body);
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return a;
}

ImageDataset parse_idx_dataset(const std::string& image_bytes, const std::string& images_name,
                               const std::string& label_bytes, const std::string& labels_name,
                               const std::vector<std::string>& class_names) {
  IdxArray images = parse_idx(maybe_gunzip(image_bytes, images_name), images_name, 3);
  IdxArray labels = parse_idx(maybe_gunzip(label_bytes, labels_name), labels_name, 1);
  KZ_CHECK(images.dims[0] == labels.dims[0], "idx",
           "{} holds {} images but {} holds {} labels", images_name, images.dims[0],
           labels_name, labels.dims[0]);
  KZ_CHECK(images.dims[1] > 0 && images.dims[2] > 0, "idx", "{}: images of size {}x{}",
           images_name, images.dims[1], images.dims[2]);
  // Sides beyond 65536 are no image kizuki reads, and with no images at all the file's size
  // would not bound them: H·W could then overflow every count that multiplies by it.
  KZ_CHECK(images.dims[1] <= 65536 && images.dims[2] <= 65536, "idx",
           "{}: images of size {}x{}; kizuki reads at most 65536 pixels a side", images_name,
           images.dims[1], images.dims[2]);
  ImageDataset ds;
  ds.channels = 1;
  ds.height = images.dims[1];
  ds.width = images.dims[2];
  ds.pixels = std::move(images.data);
  ds.class_names = class_names;
  ds.source = images_name;
  ds.labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    const int64_t l = labels.data[i];
    KZ_CHECK(l < static_cast<int64_t>(class_names.size()), "idx",
             "{}: label {} of item {} is outside the {} classes", labels_name, l, i,
             class_names.size());
    ds.labels[i] = l;
  }
  return ds;
}

ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                              const std::vector<std::string>& class_names) {
  return parse_idx_dataset(read_file(images_path), images_path, read_file(labels_path),
                           labels_path, class_names);
}

TrainTest load_fashion_mnist(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  KZ_CHECK(fs::is_directory(dir, ec), "fashion_mnist", "{}: no such folder", dir);
  TrainTest out;
  out.train = load_idx_dataset(find_idx_file(dir, "train-images-idx3-ubyte"),
                               find_idx_file(dir, "train-labels-idx1-ubyte"),
                               fashion_mnist_classes());
  out.test = load_idx_dataset(find_idx_file(dir, "t10k-images-idx3-ubyte"),
                              find_idx_file(dir, "t10k-labels-idx1-ubyte"),
                              fashion_mnist_classes());
  return out;
}

}  // namespace kz
