// test_data.cpp — tests for data/: the IDX/gzip, CIFAR and image readers (good files and every
// kind of bad one, written to a temporary folder here), transforms against PyTorch fixtures
// (tests/fixtures/make_data.py), the seeded DataLoader, the benchmark split, and — when they
// are installed — the real Fashion-MNIST and CIFAR-10 files.
// Shape letters: N images, C channels, H×W pixels.
#include <doctest/doctest.h>

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <stb_image_write.h>
#include <unistd.h>

#include "data/cifar10.h"
#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/split.h"
#include "data/transforms.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

using kz::test::error_of;
using kz::test::TempDir;

namespace {

namespace fs = std::filesystem;
using kz::ImageDataset;
using kz::Tensor;

void write_bytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  kz::write_file_atomic(path, bytes);
}

// One gzip member holding `raw` (zlib's deflate with the gzip wrapper).
std::string gzip_bytes(const std::string& raw) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(raw.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// An IDX file: magic 00 00 type ndim, big-endian sizes, data.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                      uint8_t type = 0x08) {
  std::string b = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((d >> s) & 0xff));
  b.append(data.begin(), data.end());
  return b;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  kz::Generator gen(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(gen.next_u32() & 0xff);
  return v;
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
#define CHECK_ERROR(expr, part1, part2)                                   \
  do {                                                                    \
    const std::string msg_ = error_of([&] { (void)(expr); });            \
    CHECK_MESSAGE((has(msg_, part1) && has(msg_, part2)), msg_);          \
  } while (0)

std::vector<uint8_t> bytes_of(const Tensor& t) {
  std::vector<uint8_t> b;
  for (float v : t.to_vector()) b.push_back(static_cast<uint8_t>(v));
  return b;
}

// `per_class[c]` images of class c (classes in turn), each (1,1,2): pixels are the image's
// index i as (i % 256, i / 256), so tests can tell which image went where.
ImageDataset indexed_dataset(const std::vector<int64_t>& per_class, const std::string& source) {
  ImageDataset d;
  d.channels = 1;
  d.height = 1;
  d.width = 2;
  d.source = source;
  for (size_t c = 0; c < per_class.size(); ++c) {
    d.class_names.push_back("class" + std::to_string(c));
    for (int64_t k = 0; k < per_class[c]; ++k) {
      const int64_t i = d.size();
      d.pixels.push_back(static_cast<uint8_t>(i % 256));
      d.pixels.push_back(static_cast<uint8_t>(i / 256));
      d.labels.push_back(static_cast<int64_t>(c));
    }
  }
  return d;
}
int64_t index_in_pixels(const ImageDataset& d, int64_t i) {
  return d.image(i)[0] + 256 * d.image(i)[1];
}

}  // namespace

// --- IDX and gzip ------------------------------------------------------------------------

TEST_CASE("data: idx files, plain, gzipped and multi-member gzip, read the same") {
  TempDir dir;
  const auto pixels = random_bytes(5 * 3 * 4, 1);
  const std::vector<uint8_t> labels = {3, 0, 9, 1, 1};
  const std::string img = idx_bytes({5, 3, 4}, pixels), lab = idx_bytes({5}, labels);
  write_bytes(dir / "img", img);
  write_bytes(dir / "lab", lab);
  write_bytes(dir / "img.gz", gzip_bytes(img));
  write_bytes(dir / "lab.gz", gzip_bytes(lab));
  write_bytes(dir / "img2.gz", gzip_bytes(img.substr(0, 20)) + gzip_bytes(img.substr(20)));
  for (const auto& [i, l] : {std::pair{"img", "lab"}, {"img.gz", "lab.gz"}, {"img2.gz", "lab"}}) {
    const ImageDataset d = kz::load_idx_dataset(dir / i, dir / l, kz::fashion_mnist_classes());
    CHECK(d.size() == 5);
    CHECK(d.channels == 1);
    CHECK(d.height == 3);
    CHECK(d.width == 4);
    CHECK(d.pixels == pixels);
    CHECK(d.labels == std::vector<int64_t>{3, 0, 9, 1, 1});
    CHECK(d.class_names[9] == "Ankle boot");
  }
}

TEST_CASE("data: bad gzip is one error naming the file") {
  TempDir dir;
  const std::string img = idx_bytes({4, 8, 8}, random_bytes(256, 2));
  const std::string gz = gzip_bytes(img);
  const std::string lab = dir / "lab";
  write_bytes(lab, idx_bytes({4}, {1, 2, 3, 4}));
  auto load = [&](const std::string& name, const std::string& bytes) {
    write_bytes(dir / name, bytes);
    return kz::load_idx_dataset(dir / name, lab, kz::fashion_mnist_classes());
  };
  CHECK_ERROR(load("half.gz", gz.substr(0, gz.size() / 2)), dir / "half.gz", "truncated");
  CHECK_ERROR(load("notrailer.gz", gz.substr(0, gz.size() - 4)), dir / "notrailer.gz",
              "truncated");
  CHECK_ERROR(load("magiconly.gz", gz.substr(0, 2)), dir / "magiconly.gz", "truncated");
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 0x5a;  // inside the CRC-32 trailer
  CHECK_ERROR(load("crc.gz", bad_crc), dir / "crc.gz", "corrupt");
  std::string bad_header = gz;
  bad_header[2] = 7;  // compression method must be 8 (deflate)
  CHECK_ERROR(load("method.gz", bad_header), dir / "method.gz", "corrupt");
  std::string flipped = gz;
  for (size_t k = 12; k < flipped.size() - 8; k += 3) flipped[k] ^= 0x33;
  CHECK_ERROR(load("flipped.gz", flipped), dir / "flipped.gz", "[gzip]");
  CHECK_ERROR(load("trailing.gz", gz + "xyz"), dir / "trailing.gz", "trailing garbage");
  CHECK_ERROR(load("ok.gz", gz), "(no error)", "");
}

TEST_CASE("data: an idx file of no images does not let their sides overflow a count") {
  // fuzz_idx found it: zero images of 4294967295² pixels passed the size check (0 bytes)
  // and image_numel() overflowed later (fuzz/regressions/idx/).
  CHECK_THROWS_WITH_AS(kz::parse_idx_dataset(idx_bytes({0, 70000, 3}, {}), "img.idx",
                                             idx_bytes({0}, {}), "lab.idx",
                                             kz::fashion_mnist_classes()),
                       doctest::Contains("img.idx: images of size 70000x3; kizuki reads at most "
                                         "65536 pixels a side"),
                       kz::Error);
  kz::ImageDataset huge;
  huge.channels = 3;
  huge.height = huge.width = int64_t{1} << 32;
  huge.source = "huge";
  CHECK_THROWS_WITH_AS(huge.validate(), doctest::Contains("more values than can be counted"),
                       kz::Error);
}

TEST_CASE("data: bad idx headers and sizes are one error naming the file") {
  TempDir dir;
  const auto pixels = random_bytes(4 * 2 * 3, 3);
  const std::string img = dir / "img", lab = dir / "lab";
  write_bytes(img, idx_bytes({4, 2, 3}, pixels));
  write_bytes(lab, idx_bytes({4}, {0, 1, 2, 3}));
  const auto& names = kz::fashion_mnist_classes();
  auto with_images = [&](const std::string& bytes) {
    write_bytes(dir / "bad", bytes);
    return kz::load_idx_dataset(dir / "bad", lab, names);
  };
  auto with_labels = [&](const std::string& bytes) {
    write_bytes(dir / "bad", bytes);
    return kz::load_idx_dataset(img, dir / "bad", names);
  };
  std::string wrong_magic = idx_bytes({4, 2, 3}, pixels);
  wrong_magic[0] = 0x01;
  CHECK_ERROR(with_images(wrong_magic), dir / "bad", "magic");
  CHECK_ERROR(with_images(idx_bytes({4, 2, 3}, pixels, 0x0d)), dir / "bad", "element type");
  CHECK_ERROR(with_images(idx_bytes({4, 6}, pixels)), dir / "bad", "2 dimensions, expected 3");
  CHECK_ERROR(with_labels(idx_bytes({2, 2}, {0, 1, 2, 3})), dir / "bad",
              "2 dimensions, expected 1");
  CHECK_ERROR(with_images(idx_bytes({4, 2, 3}, {pixels.begin(), pixels.end() - 1})),
              dir / "bad", "data bytes");
  auto longer = pixels;
  longer.push_back(7);
  CHECK_ERROR(with_images(idx_bytes({4, 2, 3}, longer)), dir / "bad", "data bytes");
  CHECK_ERROR(with_images(idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, pixels)),
              dir / "bad", "data bytes");
  CHECK_ERROR(with_images(idx_bytes({4, 2, 3}, pixels).substr(0, 10)), dir / "bad",
              "truncated IDX header");
  CHECK_ERROR(with_images(std::string("\0\0", 2)), dir / "bad", "too short");
  CHECK_ERROR(with_images(""), dir / "bad", "too short");
  CHECK_ERROR(with_labels(idx_bytes({5}, {0, 1, 2, 3, 4})), "4 images", "5 labels");
  CHECK_ERROR(with_labels(idx_bytes({4}, {0, 1, 10, 3})), dir / "bad", "label 10");
  CHECK_ERROR(kz::load_idx_dataset(dir / "missing", lab, names), dir / "missing", "[read]");
}

TEST_CASE("data: fashion-mnist folder layout, gz preferred, missing files named") {
  TempDir dir;
  const auto train_px = random_bytes(3 * 28 * 28, 4), test_px = random_bytes(2 * 28 * 28, 5);
  write_bytes(dir / "train-images-idx3-ubyte", idx_bytes({3, 28, 28}, train_px));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_bytes({3}, {7, 9, 0}));
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", gzip_bytes(idx_bytes({2, 28, 28}, test_px)));
  write_bytes(dir / "t10k-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes({2}, {1, 2})));
  // A broken plain file next to the .gz one: the .gz one is read.
  write_bytes(dir / "t10k-labels-idx1-ubyte", "junk");
  const kz::TrainTest ft = kz::load_fashion_mnist(dir.path.string());
  CHECK(ft.train.size() == 3);
  CHECK(ft.train.pixels == train_px);
  CHECK(ft.train.labels == std::vector<int64_t>{7, 9, 0});
  CHECK(ft.test.size() == 2);
  CHECK(ft.test.pixels == test_px);
  fs::remove(dir.path / "train-labels-idx1-ubyte");
  CHECK_ERROR(kz::load_fashion_mnist(dir.path.string()), "train-labels-idx1-ubyte",
              dir.path.string());
  CHECK_ERROR(kz::load_fashion_mnist(dir / "nowhere"), dir / "nowhere", "no such folder");
}

// --- CIFAR-10 ----------------------------------------------------------------------------

namespace {

// n CIFAR records with the given labels and random pixels.
std::string cifar_records(const std::vector<uint8_t>& labels, uint64_t seed) {
  std::string b;
  for (size_t i = 0; i < labels.size(); ++i) {
    b.push_back(static_cast<char>(labels[i]));
    const auto px = random_bytes(3072, seed * 100 + i);
    b.append(px.begin(), px.end());
  }
  return b;
}

}  // namespace

TEST_CASE("data: cifar batch records are label then R, G, B planes") {
  const std::string bytes = cifar_records({0, 9, 4}, 1);
  const ImageDataset d = kz::parse_cifar_batch(bytes, "b.bin");
  REQUIRE(d.size() == 3);
  CHECK(d.channels == 3);
  CHECK(d.height == 32);
  CHECK(d.width == 32);
  CHECK(d.labels == std::vector<int64_t>{0, 9, 4});
  for (int64_t i = 0; i < 3; ++i)
    CHECK(std::equal(d.image(i), d.image(i) + 3072,
                     reinterpret_cast<const uint8_t*>(bytes.data()) + i * 3073 + 1));
  CHECK(d.class_names[4] == "deer");
  CHECK(d.class_names[7] == "horse");
}

TEST_CASE("data: bad cifar files are one error naming the file") {
  const std::string good = cifar_records({1, 2}, 2);
  CHECK_ERROR(kz::parse_cifar_batch(good + "abcde", "odd.bin"), "odd.bin", "3073");
  CHECK_ERROR(kz::parse_cifar_batch(good.substr(0, 3072), "short.bin"), "short.bin", "3073");
  CHECK_ERROR(kz::parse_cifar_batch("", "empty.bin"), "empty.bin", "empty");
  std::string bad_label = good;
  bad_label[3073] = 10;
  CHECK_ERROR(kz::parse_cifar_batch(bad_label, "label.bin"), "label.bin",
              "record 1 has label 10");
  bad_label[3073] = static_cast<char>(255);
  CHECK_ERROR(kz::parse_cifar_batch(bad_label, "label.bin"), "label.bin", "label 255");
}

TEST_CASE("data: cifar folder: batch order, meta names, tarball layout, missing batch") {
  TempDir dir;
  const fs::path bin = dir.path / "cifar-10-batches-bin";
  for (int b = 1; b <= 5; ++b)
    write_bytes((bin / ("data_batch_" + std::to_string(b) + ".bin")).string(),
                cifar_records({static_cast<uint8_t>(b), static_cast<uint8_t>(b + 4)}, b));
  write_bytes((bin / "test_batch.bin").string(), cifar_records({3}, 9));
  write_bytes((bin / "batches.meta.txt").string(), "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
  for (const fs::path& where : {bin, dir.path}) {  // the folder itself, or the tarball's parent
    const kz::TrainTest c = kz::load_cifar10(where.string());
    CHECK(c.train.size() == 10);
    CHECK(c.train.labels == std::vector<int64_t>{1, 5, 2, 6, 3, 7, 4, 8, 5, 9});
    CHECK(c.test.labels == std::vector<int64_t>{3});
    CHECK(c.train.class_names[9] == "j");
    CHECK(c.test.class_names[0] == "a");
    const ImageDataset b3 = kz::parse_cifar_batch(
        kz::read_file((bin / "data_batch_3.bin").string()), "b3");
    CHECK(std::equal(b3.pixels.begin(), b3.pixels.end(), c.train.image(4)));
  }
  write_bytes((bin / "batches.meta.txt").string(), "a\nb\nc\n");
  CHECK_ERROR(kz::load_cifar10(bin.string()), "batches.meta.txt", "3 class names");
  fs::remove(bin / "batches.meta.txt");
  CHECK(kz::load_cifar10(bin.string()).train.class_names[0] == "airplane");
  fs::remove(bin / "data_batch_3.bin");
  CHECK_ERROR(kz::load_cifar10(bin.string()), (bin / "data_batch_3.bin").string(), "no such");
  CHECK_ERROR(kz::load_cifar10(dir / "nowhere"), dir / "nowhere", "no such folder");
}

// --- images ------------------------------------------------------------------------------

TEST_CASE("data: decoded PNG, BMP and JPEG pixels match Pillow") {
  const kz::Safetensors ref = kz::load_safetensors(KZ_FIXTURES "/data_images.safetensors");
  struct Case {
    const char *file, *key;
    int rgb_tol, grey_tol;
  };
  // Lossless formats match exactly in RGB. Grey from colour differs by rounding: stb uses
  // (77R+150G+29B)>>8, Pillow (299R+587G+114B)/1000. JPEG decoders differ slightly.
  for (const Case& c : {Case{"data_img_rgb.png", "rgb_png", 0, 1},
                        Case{"data_img_grey.png", "grey_png", 0, 0},
                        Case{"data_img_rgba.png", "rgba_png", 0, 1},
                        Case{"data_img_rgb.bmp", "rgb_bmp", 0, 1},
                        Case{"data_img_rgb.jpg", "rgb_jpg", 3, 3}}) {
    CAPTURE(c.file);
    const std::string path = std::string(KZ_FIXTURES) + "/" + c.file;
    for (int channels : {3, 1}) {
      const Tensor want = ref.at(std::string(c.key) + (channels == 3 ? "_rgb" : "_grey"));
      const kz::Image img = kz::load_image(path, channels);
      CHECK(img.channels == channels);
      CHECK(img.height == want.size(1));
      CHECK(img.width == want.size(2));
      const std::vector<uint8_t> w = bytes_of(want);
      REQUIRE(img.pixels.size() == w.size());
      int worst = 0;
      for (size_t k = 0; k < w.size(); ++k)
        worst = std::max(worst, std::abs(int{img.pixels[k]} - int{w[k]}));
      CHECK(worst <= (channels == 3 ? c.rgb_tol : c.grey_tol));
    }
  }
  CHECK(kz::load_image(KZ_FIXTURES "/data_img_grey.png", 0).channels == 1);
  CHECK(kz::load_image(KZ_FIXTURES "/data_img_rgba.png", 0).channels == 3);
  CHECK_ERROR(kz::decode_image("", "zero.png"), "zero.png", "empty file");
  CHECK_ERROR(kz::decode_image("not an image at all", "junk.png"), "junk.png", "not a PNG");
  const std::string png = kz::read_file(KZ_FIXTURES "/data_img_rgb.png");
  CHECK_ERROR(kz::decode_image(png.substr(0, png.size() / 2), "half.png"),
              "half.png: corrupt PNG", "the file has");  // a chunk cut off: bad_png_chunk
  CHECK_ERROR(kz::decode_image(png, "big.png", 3, 20), "big.png", "limit");
}

namespace {

// Writes an H×W image with C channels from (C,H,W) bytes through stb_image_write.
void write_image(const std::string& path, int c, int h, int w, const std::vector<uint8_t>& chw) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> hwc(chw.size());
  for (int k = 0; k < c; ++k)
    for (int p = 0; p < h * w; ++p) hwc[static_cast<size_t>(p * c + k)] = chw[static_cast<size_t>(k * h * w + p)];
  const std::string ext = fs::path(path).extension().string();
  int ok = 0;
  if (ext == ".png") ok = stbi_write_png(path.c_str(), w, h, c, hwc.data(), w * c);
  if (ext == ".bmp") ok = stbi_write_bmp(path.c_str(), w, h, c, hwc.data());
  if (ext == ".jpg") ok = stbi_write_jpg(path.c_str(), w, h, c, hwc.data(), 95);
  REQUIRE(ok != 0);
}

// A file fuzz_image once failed on (fuzz/regressions/image/NAME), without the fuzzer's
// first byte (its channel choice): the image bytes.
std::string fuzz_image_file(const std::string& name) {
  return kz::read_file(KZ_FIXTURES "/../../fuzz/regressions/image/" + name).substr(1);
}

}  // namespace

TEST_CASE("data: a JPEG Huffman table of more than 256 codes, or one never defined, is refused") {
  // The fuzzer's finds (first byte: its channel choice; then the JPEG), which Debian's
  // stb_image writes past its size[257] array on: a header table declaring 1700+ codes, and
  // a table after the scan, cut off by the end of the file (stb reads its missing counts as
  // 0; the ones present already add up to 476).
  for (const char* name : {"jpeg-huffman-table-over-256-codes",
                           "jpeg-truncated-huffman-table-after-scan"}) {
    CAPTURE(name);
    CHECK_ERROR(kz::decode_image(fuzz_image_file(name), "bad.jpg", 3),
                "bad.jpg: corrupt JPEG", "Huffman table with");
  }
  const std::string jpeg = fuzz_image_file("jpeg-huffman-table-over-256-codes");
  // The same file with that table's counts cut to a legal 162 codes gets past the check
  // (stb then decodes it or names its own error).
  std::string fixed = jpeg;
  const size_t at = fixed.rfind("\xff\xc4");
  REQUIRE(at != std::string::npos);
  const unsigned char counts[16] = {0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77};
  for (int k = 0; k < 16; ++k) fixed[at + 5 + k] = static_cast<char>(counts[k]);
  CHECK(!has(error_of([&] { kz::decode_image(fixed, "ok.jpg", 3); }), "Huffman table with"));
  // A scan using a table no DHT defined (its SOS names AC table 0 and DC table 1; the file
  // defines DC 0 and AC 1): stb would read the table from uninitialised memory, and the
  // fuzzer saw its assert() abort the process.
  CHECK_ERROR(kz::decode_image(fuzz_image_file("jpeg-scan-uses-undefined-huffman-table"),
                               "undef.jpg", 0),
              "undef.jpg: corrupt JPEG",
              "uses AC Huffman table 0, which no DHT segment before it defines");
}

TEST_CASE("data: a PNG chunk longer than the rest of the file is refused before stb_image") {
  // The fuzzer's find (first byte: its channel choice; then the PNG): 177 bytes whose third
  // chunk, an IDAT, declares 0x5B000025 bytes, for which stb_image grew its buffer to 2 GB.
  const std::string png = fuzz_image_file("png-chunk-longer-than-file");
  CHECK_ERROR(kz::decode_image(png, "bad.png", 3), "bad.png: corrupt PNG",
              "claims 1526726693 bytes");
}

TEST_CASE("data: a PNM with a ten-digit header number, cut short or of 16 bits is refused") {
  // The fuzzer's find: "P5" and a width of 19 digits, which overflows stb_image's int.
  const std::string pnm = fuzz_image_file("pnm-header-number-of-ten-digits");
  CHECK_ERROR(kz::decode_image(pnm, "bad.pgm", 0), "bad.pgm: corrupt PNM",
              "its width has 19 digits");
  // A 2×3 grey image decodes, with a comment and nine digits in its header; without its
  // last pixel byte it is refused (stb would return uninitialised memory for it).
  const std::string grey = std::string("P5 # w\n000000002 3\n255\n") + "\x01\x02\x03\x04\x05\x06";
  const kz::Image img = kz::decode_image(grey, "ok.pgm", 0);
  CHECK((img.width == 2 && img.height == 3 && img.pixels[5] == 6));
  CHECK_ERROR(kz::decode_image(grey.substr(0, grey.size() - 1), "cut.pgm", 0),
              "cut.pgm: corrupt PNM", "its 2x3 pixels need 6 bytes after the header, the file has 5");
  // 16-bit samples: stb_image 2.27 reads them byte-swapped, and the fuzzer's
  // pnm-16-bit-channel-conversion made it read past its buffer converting them to 3 channels.
  CHECK_ERROR(kz::decode_image(std::string("P5\n1 1\n65535\n\x12\x34"), "deep.pgm", 0),
              "deep.pgm: corrupt PNM", "16-bit samples (maximum value 65535) are not supported");
  const std::string deep = fuzz_image_file("pnm-16-bit-channel-conversion");
  CHECK_ERROR(kz::decode_image(deep, "deep2.pgm", 3), "deep2.pgm: corrupt PNM", "16-bit");
}

TEST_CASE("data: image folder: classes sorted, files sorted, any size resized, grey or colour") {
  TempDir dir;
  const auto rgb44 = random_bytes(3 * 4 * 4, 10);
  write_image(dir / "b_cat/2.png", 3, 4, 4, rgb44);
  write_image(dir / "b_cat/1.bmp", 3, 6, 5, random_bytes(3 * 6 * 5, 11));
  write_image(dir / "a_dog/x.jpg", 3, 9, 7, random_bytes(3 * 9 * 7, 12));
  write_image(dir / "a_dog/y.png", 1, 3, 8, random_bytes(3 * 8, 13));
  write_bytes(dir / "a_dog/notes.txt", "not an image");
  write_bytes(dir / "a_dog/.hidden.png", "");
  kz::ImageFolderOptions opt;
  opt.height = 4;
  opt.width = 4;
  const kz::ImageFiles f = kz::load_image_folder(dir.path.string(), opt);
  const ImageDataset& d = f.dataset;
  CHECK(d.class_names == std::vector<std::string>{"a_dog", "b_cat"});
  CHECK(d.labels == std::vector<int64_t>{0, 0, 1, 1});
  REQUIRE(f.files.size() == 4);
  CHECK(f.files[0] == dir / "a_dog/x.jpg");
  CHECK(f.files[3] == dir / "b_cat/2.png");
  CHECK(d.channels == 3);
  CHECK(d.height == 4);
  CHECK(d.width == 4);
  // PNG is lossless and 4×4 needs no resizing: the bytes come back as written.
  CHECK(std::equal(rgb44.begin(), rgb44.end(), d.image(3)));
  // Resized images are the bilinear resize of the decoded image, rounded.
  const kz::Image big = kz::load_image(dir / "b_cat/1.bmp");
  ImageDataset one;
  one.channels = 3;
  one.height = 6;
  one.width = 5;
  one.pixels = big.pixels;
  one.labels = {0};
  one.class_names = {"x"};
  const auto resized = kz::resize_bilinear(one.to_tensor(), 4, 4).to_vector();
  int worst = 0;
  for (size_t k = 0; k < resized.size(); ++k)
    worst = std::max(worst, std::abs(int{d.image(2)[k]} - static_cast<int>(std::lround(resized[k]))));
  CHECK(worst == 0);
  // Grey: the grey PNG is read as written.
  opt.channels = 1;
  opt.height = opt.width = 0;
  fs::remove(dir.path / "a_dog/x.jpg");
  fs::remove_all(dir.path / "b_cat");
  write_image(dir / "b_cat/g.png", 1, 3, 8, random_bytes(3 * 8, 14));
  const kz::ImageFiles g = kz::load_image_folder(dir.path.string(), opt);
  CHECK(g.dataset.channels == 1);
  CHECK(std::equal(g.dataset.image(1), g.dataset.image(1) + 24, random_bytes(24, 14).begin()));
  // Without a size, images of different sizes are an error naming two of them.
  write_image(dir / "b_cat/h.png", 1, 5, 8, random_bytes(5 * 8, 15));
  CHECK_ERROR(kz::load_image_folder(dir.path.string(), opt), "differ in size", "h.png");
}

TEST_CASE("data: image folder: every unreadable file listed in one error, or skipped") {
  TempDir dir;
  write_image(dir / "a/ok.png", 3, 4, 4, random_bytes(48, 20));
  write_image(dir / "b/ok.png", 3, 4, 4, random_bytes(48, 21));
  write_bytes(dir / "a/zero.png", "");
  write_bytes(dir / "b/junk.jpg", "this is not a JPEG");
  const std::string png = kz::read_file(dir / "a/ok.png");
  write_bytes(dir / "b/half.png", png.substr(0, png.size() / 2));
  const std::string msg = error_of([&] { kz::load_image_folder(dir.path.string()); });
  CHECK_MESSAGE(has(msg, "3 unreadable"), msg);
  CHECK_MESSAGE(has(msg, dir / "a/zero.png"), msg);
  CHECK_MESSAGE(has(msg, dir / "b/junk.jpg"), msg);
  CHECK_MESSAGE(has(msg, dir / "b/half.png"), msg);
  kz::ImageFolderOptions opt;
  opt.skip_unreadable = true;
  const kz::ImageFiles f = kz::load_image_folder(dir.path.string(), opt);
  CHECK(f.dataset.size() == 2);
  CHECK(f.skipped.size() == 3);
  CHECK(f.dataset.labels == std::vector<int64_t>{0, 1});
}

TEST_CASE("data: image folder: missing path, no classes, empty class folder") {
  TempDir dir;
  CHECK_ERROR(kz::load_image_folder(dir / "missing"), dir / "missing", "no such");
  CHECK_ERROR(kz::load_image_folder(dir.path.string()), dir.path.string(), "no class subfolders");
  write_image(dir / "full/a.png", 3, 2, 2, random_bytes(12, 30));
  fs::create_directories(dir.path / "hollow");
  write_bytes(dir / "hollow/readme.txt", "no images here");
  CHECK_ERROR(kz::load_image_folder(dir.path.string()), "hollow", "no image files");
  CHECK_ERROR(kz::list_image_files(dir / "full/a.png"), dir / "full/a.png", "not a folder");
}

// --- transforms --------------------------------------------------------------------------

TEST_CASE("data: bilinear resize matches PyTorch F.interpolate") {
  const kz::Safetensors ref = kz::load_safetensors(KZ_FIXTURES "/data_transforms.safetensors");
  for (int k = 0; k < 5; ++k) {
    CAPTURE(k);
    const Tensor x = ref.at("resize" + std::to_string(k) + "_in");
    const Tensor want = ref.at("resize" + std::to_string(k) + "_out");
    const Tensor got = kz::resize_bilinear(x, want.size(2), want.size(3));
    CHECK(got.shape() == want.shape());
    // Values are 0..255, where a float32 ulp is 1.5e-5: allow a few ulps of rounding order.
    CHECK(kz::max_abs_diff(got, want) <= 6e-5f);
  }
  const Tensor x = ref.at("resize0_in");
  CHECK(kz::max_abs_diff(kz::resize_bilinear(x, x.size(2), x.size(3)), x) == 0.0f);
  CHECK_ERROR(kz::resize_bilinear(x, 0, 3), "[resize_bilinear]", "positive");
  CHECK_ERROR(kz::resize_bilinear(x.select(0, 0), 3, 3), "[resize_bilinear]", "(3, 7, 9)");
}

TEST_CASE("data: scaling presets match torchvision ToTensor and Normalize") {
  const kz::Safetensors ref = kz::load_safetensors(KZ_FIXTURES "/data_transforms.safetensors");
  for (kz::Scaling s : {kz::Scaling::unit, kz::Scaling::symmetric, kz::Scaling::imagenet}) {
    CAPTURE(kz::scaling_name(s));
    Tensor x = ref.at("scale_in").clone();
    kz::scale_pixels_(x, s);
    CHECK(kz::allclose(x, ref.at(std::string("scale_") + kz::scaling_name(s)), 1e-5f, 1e-6f));
    CHECK(kz::parse_scaling(kz::scaling_name(s)) == s);
  }
  Tensor x = ref.at("scale_in").clone();
  kz::scale_pixels_(x, kz::Scaling::none);
  CHECK(kz::max_abs_diff(x, ref.at("scale_in")) == 0.0f);
  CHECK_ERROR(kz::parse_scaling("minmax"), "[scaling]", "minmax");
  Tensor grey = Tensor::zeros({1, 1, 2, 2});
  CHECK_ERROR(kz::scale_pixels_(grey, kz::Scaling::imagenet), "[scale_pixels]", "3 channels");
}

TEST_CASE("data: grey to rgb copies the plane three times") {
  const Tensor g = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  const Tensor rgb = kz::grey_to_rgb(g);
  CHECK(rgb.shape() == kz::Shape{2, 3, 2, 2});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 2; ++y)
        for (int64_t x = 0; x < 2; ++x) CHECK(rgb.at({n, c, y, x}) == g.at({n, 0, y, x}));
  CHECK(kz::max_abs_diff(kz::grey_to_rgb(rgb), rgb) == 0.0f);
  CHECK_ERROR(kz::grey_to_rgb(Tensor::zeros({1, 2, 2, 2})), "[grey_to_rgb]", "(1, 2, 2, 2)");
}

TEST_CASE("data: random flip mirrors about half the images, reproducibly") {
  kz::Generator data_gen(5);
  const Tensor x = Tensor::uniform({64, 2, 3, 5}, 0.0f, 255.0f, data_gen);
  kz::Generator g1(1), g2(1);
  const Tensor a = kz::random_horizontal_flip(x, g1);
  CHECK(kz::max_abs_diff(a, kz::random_horizontal_flip(x, g2)) == 0.0f);
  int flipped = 0;
  for (int64_t n = 0; n < 64; ++n) {
    bool same = true, mirrored = true;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t w = 0; w < 5; ++w) {
          same = same && a.at({n, c, y, w}) == x.at({n, c, y, w});
          mirrored = mirrored && a.at({n, c, y, w}) == x.at({n, c, y, 4 - w});
        }
    CHECK((same || mirrored));
    flipped += mirrored ? 1 : 0;
  }
  // Binomial(64, 0.5): mean 32, sd 4.
  CHECK(flipped >= 16);
  CHECK(flipped <= 48);
  kz::Generator g3(2);
  CHECK(kz::max_abs_diff(kz::random_horizontal_flip(x, g3, 0.0f), x) == 0.0f);
}

TEST_CASE("data: random crop with padding is a zero-filled shift of at most P") {
  const int64_t n = 200, p = 2, h = 6, w = 6;
  kz::Generator data_gen(6);
  const Tensor x = Tensor::uniform({n, 1, h, w}, 1.0f, 255.0f, data_gen);  // no zeros inside
  kz::Generator gen(3);
  const Tensor out = kz::random_crop(x, p, gen);
  CHECK(out.shape() == x.shape());
  std::set<int64_t> dys, dxs;
  for (int64_t i = 0; i < n; ++i) {
    int matches = 0;
    for (int64_t dy = -p; dy <= p; ++dy)
      for (int64_t dx = -p; dx <= p; ++dx) {
        bool ok = true;
        for (int64_t y = 0; y < h && ok; ++y)
          for (int64_t c = 0; c < w && ok; ++c) {
            const int64_t sy = y + dy, sx = c + dx;
            const float want = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? x.at({i, 0, sy, sx}) : 0.0f;
            ok = out.at({i, 0, y, c}) == want;
          }
        if (ok) {
          ++matches;
          dys.insert(dy);
          dxs.insert(dx);
        }
      }
    CHECK(matches == 1);
  }
  CHECK(dys.size() == 5);  // every offset -2..2 drawn in both directions
  CHECK(dxs.size() == 5);
  kz::Generator g0(0);
  CHECK(kz::max_abs_diff(kz::random_crop(x, 0, g0), x) == 0.0f);
  CHECK_ERROR(kz::random_crop(x, -1, g0), "[random_crop]", "-1");
}

// --- the contrastive augmentations (tests/fixtures/make_transforms_aug.py) ------------------

namespace {
const kz::Safetensors& aug_fixture() {
  static const kz::Safetensors st = kz::load_safetensors(KZ_FIXTURES "/transforms_aug.safetensors");
  return st;
}
// Pixel values 0..255, where a float32 ulp is at most 1.5e-5: allow rounding order and
// torchvision's 2-D blur kernel against the separable one here.
void check_matches(const Tensor& got, const std::string& key, float tol = 2e-3f) {
  INFO(key);
  const Tensor& want = aug_fixture().at(key);
  REQUIRE(got.shape() == want.shape());
  CHECK(kz::max_abs_diff(got, want) <= tol);
}
}  // namespace

TEST_CASE("data: resized crop, greying, colour adjustments and blur match torchvision") {
  const Tensor& rgb = aug_fixture().at("rgb");    // (2,3,9,11)
  const Tensor& grey = aug_fixture().at("grey");  // (1,1,9,11)
  for (int i = 0; i < 4; ++i) {
    const std::vector<float> b = aug_fixture().at("box" + std::to_string(i)).to_vector();
    const std::vector<float> sz = aug_fixture().at("size" + std::to_string(i)).to_vector();
    check_matches(kz::resized_crop(rgb, int64_t(b[0]), int64_t(b[1]), int64_t(b[2]),
                                   int64_t(b[3]), int64_t(sz[0]), int64_t(sz[1])),
                  "crop" + std::to_string(i), 6e-5f);
  }
  check_matches(kz::rgb_to_grayscale(rgb, 1), "grey1", 6e-5f);
  check_matches(kz::rgb_to_grayscale(rgb, 3), "grey3", 6e-5f);
  for (float f : aug_fixture().at("factors").to_vector()) {
    const std::string name = fmt::format("{:g}", f);
    check_matches(kz::adjust_brightness(rgb, f), "brightness" + name);
    check_matches(kz::adjust_contrast(rgb, f), "contrast" + name);
    check_matches(kz::adjust_contrast(grey, f), "contrast_grey" + name);
    check_matches(kz::adjust_saturation(rgb, f), "saturation" + name);
  }
  const std::vector<float> hues = aug_fixture().at("hues").to_vector();
  for (size_t i = 0; i < hues.size(); ++i)
    check_matches(kz::adjust_hue(rgb, hues[i]), "hue" + std::to_string(i));
  const std::vector<float> sigmas = aug_fixture().at("sigmas").to_vector();
  for (int k : {3, 5, 9})
    for (size_t i = 0; i < sigmas.size(); ++i)
      check_matches(kz::gaussian_blur(rgb, k, sigmas[i]),
                    "blur" + std::to_string(k) + "_" + std::to_string(i));
  // Grey images: saturation and hue leave them alone (as torchvision); greying copies.
  CHECK(kz::max_abs_diff(kz::adjust_saturation(grey, 0.3f), grey) == 0.0f);
  CHECK(kz::max_abs_diff(kz::adjust_hue(grey, 0.3f), grey) == 0.0f);
  CHECK(kz::max_abs_diff(kz::rgb_to_grayscale(grey, 1), grey) == 0.0f);

  CHECK_ERROR(kz::resized_crop(rgb, 5, 0, 5, 4, 8, 8), "[resized_crop]", "not inside the 9x11");
  CHECK_ERROR(kz::gaussian_blur(rgb, 4, 1.0f), "[gaussian_blur]", "odd");
  CHECK_ERROR(kz::gaussian_blur(rgb, 19, 1.0f), "[gaussian_blur]", "larger than 9x9");
  CHECK_ERROR(kz::gaussian_blur(rgb, 3, 0.0f), "[gaussian_blur]", "sigma 0");
  CHECK_ERROR(kz::adjust_hue(rgb, 0.7f), "[adjust_hue]", "[-0.5, 0.5]");
  CHECK_ERROR(kz::adjust_contrast(rgb, -1.0f), "[adjust_contrast]", "negative");
  CHECK_ERROR(kz::adjust_brightness(Tensor::zeros({1, 2, 3, 3}), 1.0f), "[adjust_brightness]",
              "1 or 3 channels");
  CHECK_ERROR(kz::rgb_to_grayscale(rgb, 2), "[rgb_to_grayscale]", "1 or 3, got 2");
}

TEST_CASE("data: random resized crop boxes: in range, torchvision's fallback, reproducible") {
  kz::Generator gen(11);
  std::set<int64_t> tops, heights;
  for (int i = 0; i < 500; ++i) {
    const kz::CropBox b = kz::random_resized_crop_box(200, 160, gen, 0.2f, 1.0f);
    CHECK(b.top >= 0);
    CHECK(b.left >= 0);
    CHECK(b.top + b.height <= 200);
    CHECK(b.left + b.width <= 160);
    const double area = double(b.height * b.width) / (200.0 * 160.0);
    const double ratio = double(b.width) / double(b.height);
    CHECK(area >= 0.2 * 0.98);  // the bounds, up to rounding width and height to integers
    CHECK(area <= 1.0);
    CHECK(ratio >= 0.75 * 0.98);
    CHECK(ratio <= 4.0 / 3.0 * 1.02);
    tops.insert(b.top);
    heights.insert(b.height);
  }
  CHECK(tops.size() > 50);
  CHECK(heights.size() > 50);
  for (int i = 0; i < 4; ++i) {
    const std::vector<float> f = aug_fixture().at("fallback" + std::to_string(i)).to_vector();
    const kz::CropBox b = kz::random_resized_crop_box(int64_t(f[0]), int64_t(f[1]), gen, 0.2f);
    CHECK(std::vector<int64_t>{b.top, b.left, b.height, b.width} ==
          std::vector<int64_t>{int64_t(f[2]), int64_t(f[3]), int64_t(f[4]), int64_t(f[5])});
  }
  kz::Generator data_gen(5);
  const Tensor x = Tensor::uniform({6, 3, 20, 24}, 0.0f, 255.0f, data_gen);
  kz::Generator g1(3), g2(3), g3(4);
  const Tensor a = kz::random_resized_crop(x, 16, 16, g1, 0.2f);
  CHECK(a.shape() == kz::Shape{6, 3, 16, 16});
  CHECK(kz::max_abs_diff(a, kz::random_resized_crop(x, 16, 16, g2, 0.2f)) == 0.0f);
  CHECK(kz::max_abs_diff(a, kz::random_resized_crop(x, 16, 16, g3, 0.2f)) > 0.0f);
  // Each image is its own box resized: redraw the boxes from the same seed.
  kz::Generator g4(3);
  for (int64_t i = 0; i < 6; ++i) {
    const kz::CropBox b = kz::random_resized_crop_box(20, 24, g4, 0.2f);
    const Tensor want = kz::resized_crop(x.narrow(0, i, 1), b.top, b.left, b.height, b.width, 16, 16);
    CHECK(kz::max_abs_diff(a.narrow(0, i, 1).contiguous(), want) == 0.0f);
  }
  CHECK_ERROR(kz::random_resized_crop_box(20, 24, g4, 0.0f), "[random_resized_crop]", "scale");
  CHECK_ERROR(kz::random_resized_crop_box(20, 24, g4, 0.2f, 1.0f, 2.0f, 1.0f),
              "[random_resized_crop]", "ratio");
}

TEST_CASE("data: colour jitter, random grey and random blur draw in range, reproducibly") {
  kz::Generator data_gen(8);
  // Pixels 1..100: brightness ×1.4 stays below 255, so nothing is clamped.
  const Tensor x = Tensor::uniform({40, 3, 5, 6}, 1.0f, 100.0f, data_gen);
  kz::ColorJitterOptions only_brightness{0.4f, 0.0f, 0.0f, 0.0f};
  kz::Generator g(1);
  const Tensor b = kz::random_color_jitter(x, only_brightness, g);
  std::set<float> factors;
  for (int64_t i = 0; i < 40; ++i) {
    const float f = b.at({i, 0, 0, 0}) / x.at({i, 0, 0, 0});
    CHECK(f >= 0.6f - 1e-5f);
    CHECK(f <= 1.4f + 1e-5f);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 5; ++y)
        CHECK(b.at({i, c, y, 2}) == doctest::Approx(f * x.at({i, c, y, 2})).epsilon(1e-5));
    factors.insert(f);
  }
  CHECK(factors.size() >= 35);  // a factor per image

  const kz::ColorJitterOptions simclr;  // 0.4, 0.4, 0.4, 0.1
  kz::Generator j1(2), j2(2), j3(2);
  const Tensor jit = kz::random_color_jitter(x, simclr, j1, 0.8f);
  CHECK(kz::max_abs_diff(jit, kz::random_color_jitter(x, simclr, j2, 0.8f)) == 0.0f);
  int unchanged = 0;
  for (int64_t i = 0; i < 40; ++i)
    unchanged += kz::max_abs_diff(jit.narrow(0, i, 1).contiguous(), x.narrow(0, i, 1).contiguous()) == 0.0f;
  CHECK(unchanged >= 2);  // Binomial(40, 0.2): mean 8, sd 2.5
  CHECK(unchanged <= 16);
  CHECK(kz::max_abs_diff(kz::random_color_jitter(x, simclr, j3, 0.0f), x) == 0.0f);
  CHECK_ERROR(kz::random_color_jitter(x, {0.4f, 0.4f, 0.4f, 0.6f}, j3), "[random_color_jitter]",
              "hue 0.6");

  const Tensor big = Tensor::uniform({200, 3, 4, 4}, 0.0f, 255.0f, data_gen);
  kz::Generator r1(5), r2(5);
  const Tensor grey = kz::random_grayscale(big, r1, 0.2f);
  CHECK(kz::max_abs_diff(grey, kz::random_grayscale(big, r2, 0.2f)) == 0.0f);
  const Tensor all_grey = kz::rgb_to_grayscale(big, 3);
  int greyed = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const Tensor gi = grey.narrow(0, i, 1).contiguous();
    const bool same = kz::max_abs_diff(gi, big.narrow(0, i, 1).contiguous()) == 0.0f;
    const bool is_grey = kz::max_abs_diff(gi, all_grey.narrow(0, i, 1).contiguous()) == 0.0f;
    CHECK((same || is_grey));
    greyed += is_grey;
  }
  CHECK(greyed >= 20);  // Binomial(200, 0.2): mean 40, sd 5.7
  CHECK(greyed <= 60);

  kz::Generator s1(6), s2(6), s3(6);
  const Tensor blurred = kz::random_gaussian_blur(big.narrow(0, 0, 8), 3, s1, 0.1f, 2.0f);
  CHECK(kz::max_abs_diff(blurred, kz::random_gaussian_blur(big.narrow(0, 0, 8), 3, s2, 0.1f, 2.0f)) == 0.0f);
  // Each image blurred with σ ~ U(0.1, 2): the draws of the same seed, redone here.
  for (int64_t i = 0; i < 8; ++i) {
    CHECK(s3.uniform() < 1.0f);
    const float sigma = s3.uniform(0.1f, 2.0f);
    const Tensor want = kz::gaussian_blur(big.narrow(0, i, 1), 3, sigma);
    CHECK(kz::max_abs_diff(blurred.narrow(0, i, 1).contiguous(), want) == 0.0f);
  }
}

// --- loader ------------------------------------------------------------------------------

TEST_CASE("data: loader batches cover each epoch once, reproducibly from the seed") {
  const ImageDataset d = indexed_dataset({4, 3, 3}, "indexed");  // 10 images of (1,1,2)
  kz::Preprocess pre;
  pre.scaling = kz::Scaling::none;
  kz::LoaderOptions opt;
  opt.batch_size = 4;
  opt.seed = 7;
  kz::DataLoader loader(d, pre, opt);
  CHECK(loader.num_batches() == 3);
  std::vector<std::vector<int64_t>> epochs;
  for (int e = 0; e < 2; ++e) {
    CHECK(loader.epoch() == e);
    std::vector<int64_t> seen, sizes;
    while (auto b = loader.next()) {
      sizes.push_back(b->images.size(0));
      REQUIRE(b->images.shape() == kz::Shape{b->images.size(0), 3, 1, 2});
      for (int64_t k = 0; k < b->images.size(0); ++k) {
        const int64_t i = b->indices[static_cast<size_t>(k)];
        CHECK(b->labels[static_cast<size_t>(k)] == d.labels[static_cast<size_t>(i)]);
        for (int64_t c = 0; c < 3; ++c)  // grey replicated into R, G, B
          CHECK(b->images.at({k, c, 0, 0}) == static_cast<float>(i));
      }
      seen.insert(seen.end(), b->indices.begin(), b->indices.end());
    }
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    epochs.push_back(seen);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[0] != std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  // Same seed, no prefetching: the same batches. set_epoch replays an epoch.
  opt.prefetch = false;
  kz::DataLoader again(d, pre, opt);
  again.set_epoch(1);
  std::vector<int64_t> replay;
  while (auto b = again.next()) replay.insert(replay.end(), b->indices.begin(), b->indices.end());
  CHECK(replay == epochs[1]);
  CHECK(again.batch(0, 1).indices ==
        std::vector<int64_t>(epochs[0].begin() + 4, epochs[0].begin() + 8));
  opt.seed = 8;
  CHECK(kz::DataLoader(d, pre, opt).order() != epochs[0]);

  opt.drop_last = true;
  kz::DataLoader dropped(d, pre, opt);
  CHECK(dropped.num_batches() == 2);
  int count = 0;
  while (auto b = dropped.next()) count += static_cast<int>(b->images.size(0));
  CHECK(count == 8);

  opt.shuffle = false;
  opt.drop_last = false;
  kz::DataLoader plain(d, pre, opt);
  CHECK(plain.order() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  opt.batch_size = 0;
  CHECK_ERROR(kz::DataLoader(d, pre, opt), "[DataLoader]", "batch_size 0");
}

TEST_CASE("data: loader caches the resize, augments reproducibly, scales last") {
  const ImageDataset d = indexed_dataset({5, 5}, "indexed");
  kz::Preprocess pre;
  pre.height = 5;
  pre.width = 6;
  pre.scaling = kz::Scaling::unit;
  const auto prepared = kz::prepare(d, pre);
  CHECK(kz::max_abs_diff(prepared->images, kz::resize_bilinear(d.to_tensor(), 5, 6)) == 0.0f);
  kz::LoaderOptions opt;
  opt.batch_size = 3;
  opt.seed = 11;
  opt.augment.horizontal_flip = true;
  opt.augment.crop_padding = 1;
  kz::DataLoader a(prepared, opt), b(prepared, opt);  // one cache, two loaders
  CHECK(&a.prepared() == &b.prepared());
  bool epochs_differ = false;
  for (int e = 0; e < 2; ++e)
    for (int64_t k = 0; k < a.num_batches(); ++k) {
      const auto ba = a.next(), bb = b.next();
      REQUIRE(ba);
      REQUIRE(bb);
      CHECK(kz::max_abs_diff(ba->images, bb->images) == 0.0f);
      CHECK(kz::max_abs_diff(ba->images, a.batch(e, k).images) == 0.0f);
      CHECK(kz::max_all(ba->images) <= 1.0f);  // unit scaling after augmenting
      CHECK(kz::min_all(ba->images) >= 0.0f);
      if (e == 1)
        epochs_differ = epochs_differ || a.batch(0, k).indices != ba->indices ||
                        kz::max_abs_diff(a.batch(0, k).images, ba->images) > 0.0f;
      if (k == a.num_batches() - 1) {
        CHECK_FALSE(a.next());
        CHECK_FALSE(b.next());
      }
    }
  CHECK(epochs_differ);
  opt.channels_last = true;
  opt.augment = {};
  kz::DataLoader cl(prepared, opt);
  const kz::Batch bc = *cl.next();
  CHECK(bc.images.is_channels_last());
  opt.channels_last = false;
  CHECK(kz::max_abs_diff(bc.images, kz::DataLoader(prepared, opt).batch(0, 0).images) == 0.0f);
  pre.width = 0;
  CHECK_ERROR(kz::prepare(d, pre), "[prepare]", "both sizes");
}

TEST_CASE("data: preprocess pipeline (resize, grey to rgb, /255) matches PyTorch") {
  const kz::Safetensors ref = kz::load_safetensors(KZ_FIXTURES "/data_transforms.safetensors");
  const Tensor in = ref.at("pipeline_in");
  ImageDataset d;
  d.channels = 1;
  d.height = in.size(2);
  d.width = in.size(3);
  d.pixels = bytes_of(in);
  d.labels = {0, 0};
  d.class_names = {"x"};
  kz::Preprocess pre;
  pre.height = 40;
  pre.width = 40;
  const Tensor got = kz::preprocess(d, pre);
  CHECK(got.shape() == kz::Shape{2, 3, 40, 40});
  CHECK(kz::max_abs_diff(got, ref.at("pipeline_out")) <= 1e-6f);
}

// --- benchmark split ---------------------------------------------------------------------

TEST_CASE("data: benchmark split draws the three sets without overlap, from the seed") {
  kz::TrainTest tt{indexed_dataset(std::vector<int64_t>(10, 30), "train"),
                   indexed_dataset(std::vector<int64_t>(10, 12), "test")};
  const kz::BenchmarkSplit s = kz::benchmark_split(tt, 7, 9, 5, 20, 10, 3);
  CHECK(s.reference_classes == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 8});
  REQUIRE(s.reference.size() == 40);
  CHECK(s.reference.class_names.size() == 9);
  CHECK(s.reference.class_names[7] == "class8");
  CHECK(s.reference.class_names[8] == "class7");
  CHECK(s.normal_train.class_names == s.reference.class_names);
  CHECK(s.reference.class_counts() == std::vector<int64_t>{5, 5, 5, 5, 5, 5, 5, 5, 0});
  CHECK(s.normal_train.class_counts() == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 20});
  for (int64_t k = 0; k < s.reference.size(); ++k) {  // each image is the one it says
    const int64_t i = s.reference_index[static_cast<size_t>(k)];
    CHECK(index_in_pixels(s.reference, k) == i);
    CHECK(tt.train.labels[static_cast<size_t>(i)] == s.reference_original[static_cast<size_t>(k)]);
    CHECK(s.reference_classes[static_cast<size_t>(s.reference.labels[static_cast<size_t>(k)])] ==
          s.reference_original[static_cast<size_t>(k)]);
  }
  for (int64_t k = 0; k < s.normal_train.size(); ++k) {
    CHECK(index_in_pixels(s.normal_train, k) == s.normal_train_index[static_cast<size_t>(k)]);
    CHECK(tt.train.labels[static_cast<size_t>(s.normal_train_index[static_cast<size_t>(k)])] == 7);
  }
  REQUIRE(s.test.size() == 20);
  for (int64_t k = 0; k < 20; ++k) {
    const int64_t i = s.test_index[static_cast<size_t>(k)];
    CHECK(index_in_pixels(s.test, k) == i);
    CHECK(s.test.labels[static_cast<size_t>(k)] == (k < 10 ? 0 : 1));
    CHECK(tt.test.labels[static_cast<size_t>(i)] == (k < 10 ? 7 : 9));
  }
  std::set<int64_t> train_used(s.reference_index.begin(), s.reference_index.end());
  train_used.insert(s.normal_train_index.begin(), s.normal_train_index.end());
  CHECK(train_used.size() == 60);
  CHECK(std::set<int64_t>(s.test_index.begin(), s.test_index.end()).size() == 20);
  CHECK(kz::concat(s.reference, s.normal_train).size() == 60);

  const kz::BenchmarkSplit same = kz::benchmark_split(tt, 7, 9, 5, 20, 10, 3);
  CHECK(same.reference_index == s.reference_index);
  CHECK(same.normal_train_index == s.normal_train_index);
  CHECK(same.test_index == s.test_index);
  const kz::BenchmarkSplit other = kz::benchmark_split(tt, 7, 9, 5, 20, 10, 4);
  CHECK(other.normal_train_index != s.normal_train_index);
  CHECK(kz::benchmark_split(tt, 7, 9, -1, -1, -1, 0).test.size() == 24);

  CHECK_ERROR(kz::benchmark_split(tt, 7, 9, 5, 31, 10, 3), "31 normal training", "only 30");
  CHECK_ERROR(kz::benchmark_split(tt, 7, 7, 5, 5, 5, 3), "[benchmark_split]", "different");
  CHECK_ERROR(kz::benchmark_split(tt, 7, 10, 5, 5, 5, 3), "[benchmark_split]", "10");
}

TEST_CASE("data: validation split scores held-out normals against reference images") {
  kz::TrainTest tt{indexed_dataset(std::vector<int64_t>(10, 30), "train"),
                   indexed_dataset(std::vector<int64_t>(10, 12), "test")};
  const kz::BenchmarkSplit s = kz::benchmark_split(tt, 7, 9, 5, 20, 10, 3);
  const kz::BenchmarkSplit v = kz::validation_split(tt, s, 7, 8, 3);
  // The training sets are the protocol's, untouched.
  CHECK(v.reference_index == s.reference_index);
  CHECK(v.normal_train_index == s.normal_train_index);
  REQUIRE(v.test.size() == 16);
  const std::set<int64_t> normal_train(s.normal_train_index.begin(), s.normal_train_index.end());
  const std::set<int64_t> reference(s.reference_index.begin(), s.reference_index.end());
  for (int64_t k = 0; k < 16; ++k) {
    const int64_t i = v.test_index[static_cast<size_t>(k)];
    CHECK(index_in_pixels(v.test, k) == i);  // indexes the train split, and is that image
    CHECK(tt.train.labels[static_cast<size_t>(i)] == v.test_original[static_cast<size_t>(k)]);
    if (k < 8) {  // a normal-class image the method never trains on
      CHECK(v.test.labels[static_cast<size_t>(k)] == 0);
      CHECK(v.test_original[static_cast<size_t>(k)] == 7);
      CHECK(normal_train.count(i) == 0);
    } else {  // a reference-set image, never one of the test split's classes 7 or 9
      CHECK(v.test.labels[static_cast<size_t>(k)] == 1);
      CHECK(reference.count(i) == 1);
      CHECK(v.test_original[static_cast<size_t>(k)] != 9);
    }
  }
  CHECK(std::set<int64_t>(v.test_index.begin(), v.test_index.end()).size() == 16);
  CHECK(v.test.class_names[0] == "held-out normal: class7");
  CHECK(kz::validation_split(tt, s, 7, 8, 3).test_index == v.test_index);
  CHECK(kz::validation_split(tt, s, 7, 8, 4).test_index != v.test_index);
  // 30 normal-class images, 20 of them for training: 10 are left.
  CHECK(kz::validation_split(tt, s, 7, 10, 3).test.size() == 20);
  CHECK_ERROR(kz::validation_split(tt, s, 7, 11, 3), "[validation_split]", "10 normal-class");
  CHECK_ERROR(kz::validation_split(tt, s, 7, 0, 3), "[validation_split]", "0 held-out");
}

// --- the real data, when installed -------------------------------------------------------

TEST_CASE("data: real Fashion-MNIST (skipped when not installed)") {
  if (!fs::exists(std::string(kz::kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: no Fashion-MNIST in " << kz::kFashionMnistDir);
    return;
  }
  const kz::TrainTest f = kz::load_fashion_mnist();
  CHECK(f.train.size() == 60000);
  CHECK(f.test.size() == 10000);
  CHECK(f.train.channels == 1);
  CHECK(f.train.height == 28);
  CHECK(f.train.width == 28);
  CHECK(f.train.class_counts() == std::vector<int64_t>(10, 6000));
  CHECK(f.test.class_counts() == std::vector<int64_t>(10, 1000));
  const std::string fixture = KZ_FIXTURES "/data_fmnist.safetensors";
  if (fs::exists(fixture)) {  // what Python's gzip + numpy read from the same files
    const kz::Safetensors ref = kz::load_safetensors(fixture);
    for (const auto& [name, ds] : {std::pair{"train", &f.train}, {"test", &f.test}}) {
      CAPTURE(name);
      const auto first = ref.at(std::string(name) + "_first_labels").to_vector();
      for (size_t k = 0; k < first.size(); ++k)
        CHECK(ds->labels[k] == static_cast<int64_t>(first[k]));
      const auto img0 = bytes_of(ref.at(std::string(name) + "_first_image"));
      const auto img_last = bytes_of(ref.at(std::string(name) + "_last_image"));
      CHECK(std::equal(img0.begin(), img0.end(), ds->image(0)));
      CHECK(std::equal(img_last.begin(), img_last.end(), ds->image(ds->size() - 1)));
    }
  }
  const kz::BenchmarkSplit s = kz::benchmark_split(f, 7, 9, 1000, 1000, 1000, 0);
  CHECK(s.reference.size() == 8000);
  CHECK(s.normal_train.size() == 1000);
  CHECK(s.test.size() == 2000);
  CHECK(s.test.class_names[0] == "normal: Sneaker");
  CHECK(s.test.class_names[1] == "anomaly: Ankle boot");
}

TEST_CASE("data: real CIFAR-10 (skipped when not present)") {
  const std::string dir = KZ_SHARED_DATA "/cifar10";
  if (!fs::exists(dir + "/data_batch_1.bin")) {
    MESSAGE("skipped: no CIFAR-10 in " << dir);
    return;
  }
  const kz::TrainTest c = kz::load_cifar10(dir);
  CHECK(c.train.size() == 50000);
  CHECK(c.test.size() == 10000);
  CHECK(c.train.class_counts() == std::vector<int64_t>(10, 5000));
  CHECK(c.test.class_counts() == std::vector<int64_t>(10, 1000));
  CHECK(c.train.class_names[4] == "deer");
  CHECK(c.train.class_names[7] == "horse");
  // First labels and data_batch_1's per-class counts, from ../shared/data/cifar10/SOURCE.md.
  CHECK(std::vector<int64_t>(c.train.labels.begin(), c.train.labels.begin() + 10) ==
        std::vector<int64_t>{6, 9, 9, 4, 1, 1, 2, 7, 8, 3});
  CHECK(std::vector<int64_t>(c.test.labels.begin(), c.test.labels.begin() + 10) ==
        std::vector<int64_t>{3, 8, 8, 0, 6, 6, 1, 6, 3, 1});
  std::vector<int64_t> first(10, 0), fifth(10, 0);
  for (int64_t i = 0; i < 10000; ++i) {
    ++first[static_cast<size_t>(c.train.labels[static_cast<size_t>(i)])];
    ++fifth[static_cast<size_t>(c.train.labels[static_cast<size_t>(40000 + i)])];
  }
  CHECK(first == std::vector<int64_t>{1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981});
  CHECK(fifth == std::vector<int64_t>{1014, 1014, 952, 1016, 997, 1025, 980, 977, 1003, 1022});
  const kz::BenchmarkSplit s = kz::benchmark_split(c, 4, 7, 1000, 1000, 1000, 0);
  CHECK(s.reference.size() == 8000);
  CHECK(s.test.size() == 2000);
  CHECK(s.test.class_names[1] == "anomaly: horse");
}
