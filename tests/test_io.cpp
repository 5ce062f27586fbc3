// test_io.cpp — file I/O: read_file / write_file_atomic, safetensors and .npy.
//
// Three kinds of test:
//   * round trips through kizuki's own writers (shapes include a scalar () and empty dims);
//   * files written by other programs: numpy's np.save / write_array and st.py
//     (tests/fixtures/make_io.py; the values follow formulas recomputed here), and the real
//     MobileNetV2 ImageNet weights when ../shared/data is present;
//   * one test per malformed-file case: each builds the bad bytes in a temporary folder and
//     asserts the one-line error "[safetensors] <file>: <fault>" / "[npy] <file>: <fault>".
// Finally, every truncation and a few thousand seeded byte mutations of a valid file must
// either load or fail with a kz::Error — never crash.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <sys/wait.h>
#include <unistd.h>

#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using kz::Shape;
using kz::Tensor;

using kz::test::error_of;
using kz::test::TempDir;

namespace {

// Writes bytes with plain iostreams (independent of the code under test).
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file: length prefix, the given header text, the data section.
std::string st_bytes(const std::string& header, const std::string& data = "") {
  return u64le(header.size()) + header + data;
}

// Checks "[area] <file>: ...<fault>..." on one line.
void check_message(const std::string& message, const std::string& area, const std::string& file,
                   const std::string& fault) {
  INFO("message: ", message);
  CHECK(message.rfind("[" + area + "] " + file + ": ", 0) == 0);
  CHECK(message.find(fault) != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

// Writes `bytes` as a file and checks that load_safetensors rejects it with `fault`.
void check_st_fault(const std::string& bytes, const std::string& fault) {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  write_bytes(path, bytes);
  check_message(error_of([&] { kz::load_safetensors(path); }), "safetensors", path, fault);
}

// An .npy file: magic, version, header length (u16 for 1.x, u32 otherwise), header, data.
std::string npy_bytes(const std::string& header, const std::string& data = "",
                      int major = 1) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  const uint32_t n = static_cast<uint32_t>(header.size());
  s += static_cast<char>(n & 0xff);
  s += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    s += static_cast<char>((n >> 16) & 0xff);
    s += static_cast<char>((n >> 24) & 0xff);
  }
  return s + header + data;
}

void check_npy_fault(const std::string& bytes, const std::string& fault) {
  TempDir dir;
  const std::string path = dir / "bad.npy";
  write_bytes(path, bytes);
  check_message(error_of([&] { kz::load_npy(path); }), "npy", path, fault);
}

Tensor seq(const Shape& shape, float scale) {  // values scale * (i - 3), flat index i
  std::vector<float> v(static_cast<size_t>(kz::numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * (static_cast<float>(i) - 3.0f);
  return Tensor::from_vector(v, shape);
}

// 4 F32 bytes holding 1.0f, 2.0f, ... (n values).
std::string f32_data(int n) {
  std::string s(static_cast<size_t>(4 * n), '\0');
  for (int i = 0; i < n; ++i) {
    const float v = static_cast<float>(i + 1);
    std::memcpy(s.data() + 4 * i, &v, 4);
  }
  return s;
}

}  // namespace

// --- read_file / write_file_atomic -------------------------------------------------------

TEST_CASE("io: write_file_atomic replaces the file and leaves no temporary behind") {
  TempDir dir;
  const std::string path = dir / "out.bin";
  const std::string first("first\0version", 13), second(100000, 'x');
  kz::write_file_atomic(path, first);
  CHECK(kz::read_file(path) == first);
  kz::write_file_atomic(path, second);
  CHECK(kz::read_file(path) == second);
  kz::write_file_atomic(path, "");
  CHECK(kz::read_file(path).empty());
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    ++entries;
    CHECK(e.path().filename() == "out.bin");
  }
  CHECK(entries == 1);
}

TEST_CASE("io: the temporary file of a killed write goes with the next write or remove_file") {
  // A writer killed inside write_file_atomic leaves `path.tmp.<its pid>`. The next write of
  // the path removes those of dead processes, and keeps a live process's (mid-write).
  TempDir dir;
  const std::string path = dir / "ck.bin";
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  REQUIRE(dead > 0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);  // reaped: the pid belongs to no process
  const std::string stale = path + ".tmp." + std::to_string(dead);
  const std::string live = path + ".tmp." + std::to_string(::getppid());
  const std::string other = dir / "other.bin.tmp.1";  // another file's: not touched
  for (const std::string& f : {stale, live, other}) kz::write_file_atomic(f, "partial");
  kz::write_file_atomic(path, "checkpoint");
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(live));
  CHECK(fs::exists(other));
  kz::write_file_atomic(stale, "partial again");
  kz::remove_file(path);
  CHECK(!fs::exists(path));
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(live));
  kz::remove_file(path);  // nothing there: no error
}

TEST_CASE("io: read_file and write_file_atomic name the file and the system error") {
  TempDir dir;
  const std::string missing = dir / "missing.bin";
  check_message(error_of([&] { kz::read_file(missing); }), "read", missing,
                "No such file or directory");
  check_message(error_of([&] { kz::read_file(dir.path.string()); }), "read",
                dir.path.string(), "Is a directory");
  if (fs::exists("/dev/zero"))  // endless: must be refused, not read until memory runs out
    check_message(error_of([&] { kz::read_file("/dev/zero"); }), "read", "/dev/zero",
                  "not a regular file or pipe");
  const std::string nowhere = dir / "no/such/dir/out.bin";
  check_message(error_of([&] { kz::write_file_atomic(nowhere, "x"); }), "write", nowhere,
                "No such file or directory");
}

// --- round trips -------------------------------------------------------------------------

TEST_CASE("io: safetensors round trip keeps shapes, values, order and metadata") {
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  std::map<std::string, Tensor> tensors = {
      {"a.weight", seq({2, 3, 4}, 0.5f)},
      {"b.scalar", Tensor::scalar(-7.25f)},
      {"c.empty", Tensor::zeros({0, 4})},
      {"d.empty_middle", Tensor::zeros({2, 0, 3})},
      {"e.vector", seq({5}, 1e-3f)},
      {"f.transposed", seq({3, 2}, 2.0f).transpose(0, 1)},  // not contiguous
  };
  const std::map<std::string, std::string> metadata = {{"bn_eps", "0.001"},
                                                       {"note", "round trip"}};
  kz::save_safetensors(path, tensors, metadata);

  const kz::Safetensors st = kz::load_safetensors(path);
  CHECK(st.metadata == metadata);
  REQUIRE(st.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO("tensor ", name);
    const Tensor& got = st.at(name);
    CHECK(got.shape() == t.shape());
    CHECK(got.to_vector() == t.to_vector());
  }
  // Written in map order, so the data-offset order is the same (empty tensors sit at the
  // offset where they were written, sorted before the next non-empty one).
  CHECK(st.order == std::vector<std::string>{"a.weight", "b.scalar", "c.empty",
                                             "d.empty_middle", "e.vector", "f.transposed"});
  // The in-memory form is the same bytes.
  CHECK(kz::serialize_safetensors(tensors, metadata) == kz::read_file(path));
  // A missing key names itself.
  CHECK(error_of([&] { st.at("nope"); }).find("no tensor named 'nope'") != std::string::npos);
}

TEST_CASE("io: safetensors data section starts 8-byte aligned") {
  const std::string bytes = kz::serialize_safetensors({{"x", seq({3}, 1.0f)}});
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 12);
}

TEST_CASE("io: npy round trip of float32 tensors") {
  TempDir dir;
  for (const Shape& shape : {Shape{}, Shape{7}, Shape{2, 3, 4}, Shape{0}, Shape{3, 0, 2}}) {
    INFO("shape ", kz::shape_str(shape));
    const std::string path = dir / "t.npy";
    const Tensor t = seq(shape, 0.37f);
    kz::save_npy(path, t);
    const std::string bytes = kz::read_file(path);
    CHECK((bytes.size() - 4 * static_cast<size_t>(t.numel())) % 64 == 0);  // aligned data
    const Tensor back = kz::load_npy(path);
    CHECK(back.shape() == shape);
    CHECK(back.to_vector() == t.to_vector());
  }
  const std::string path = dir / "transposed.npy";
  const Tensor t = seq({2, 5}, 1.5f).transpose(0, 1);
  kz::save_npy(path, t);
  CHECK(kz::load_npy(path).to_vector() == t.to_vector());
}

TEST_CASE("io: npy round trip of int64 values") {
  TempDir dir;
  const std::string path = dir / "labels.npy";
  const std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(), -1, 0, 1,
                                       std::numeric_limits<int64_t>::max(), 1LL << 40};
  kz::save_npy_int(path, values, {2, 3});
  Shape shape;
  CHECK(kz::load_npy_int(path, &shape) == values);
  CHECK(shape == Shape{2, 3});
  std::vector<float> as_float;
  for (int64_t v : values) as_float.push_back(static_cast<float>(v));
  CHECK(kz::load_npy(path).to_vector() == as_float);
  check_message(error_of([&] { kz::save_npy_int(path, {1, 2}, {3}); }), "npy", path,
                "2 values do not fill shape (3,)");
}

// --- files written by Python ---------------------------------------------------------------

TEST_CASE("io: npy files written by numpy (format 1, 2, 3; f4, i8, i4, u1)") {
  const std::vector<std::string> f4_files = {"io_f4.npy", "io_f4_v2.npy", "io_f4_v3.npy"};
  for (const std::string& name : f4_files) {
    INFO(name);
    const Tensor t = kz::load_npy(KZ_FIXTURES "/" + name);
    REQUIRE(t.shape() == Shape{2, 3, 4});
    const std::vector<float> v = t.to_vector();
    for (size_t i = 0; i < v.size(); ++i)
      CHECK(v[i] == static_cast<float>(i) / 3.0f - 2.0f);  // make_io.py's formula
  }
  const Tensor scalar = kz::load_npy(KZ_FIXTURES "/io_f4_scalar.npy");
  CHECK(scalar.shape() == Shape{});
  CHECK(scalar.item() == 1.5f);
  CHECK(kz::load_npy(KZ_FIXTURES "/io_f4_empty.npy").shape() == Shape{0, 3});

  Shape shape;
  CHECK(kz::load_npy_int(KZ_FIXTURES "/io_i8.npy", &shape) ==
        std::vector<int64_t>{-5, 0, 7, 1LL << 40, -(1LL << 40)});
  CHECK(shape == Shape{5});
  CHECK(kz::load_npy_int(KZ_FIXTURES "/io_i4.npy", &shape) ==
        std::vector<int64_t>{-2147483648LL, -1, 0, 1, 2147483647LL, 42});
  CHECK(shape == Shape{2, 3});
  CHECK(kz::load_npy_int(KZ_FIXTURES "/io_u1.npy", &shape) ==
        std::vector<int64_t>{0, 1, 127, 128, 254, 255});
  CHECK(shape == Shape{2, 3});
  // load_npy converts integers to float32.
  const Tensor u1 = kz::load_npy(KZ_FIXTURES "/io_u1.npy");
  CHECK(u1.shape() == Shape{2, 3});
  CHECK(u1.to_vector() == std::vector<float>{0, 1, 127, 128, 254, 255});
}

TEST_CASE("io: safetensors file written by st.py (F32, I64, U8, I32, metadata)") {
  const kz::Safetensors st = kz::load_safetensors(KZ_FIXTURES "/io_mixed.safetensors");
  CHECK(st.order == std::vector<std::string>{"weight", "labels", "pixels", "counts"});
  CHECK(st.metadata == std::map<std::string, std::string>{{"bn_eps", "0.001"},
                                                          {"source", "make_io.py"}});
  const Tensor& w = st.at("weight");
  REQUIRE(w.shape() == Shape{3, 4});
  const std::vector<float> v = w.to_vector();
  for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<float>(i) / 7.0f);
  CHECK(st.at("labels").shape() == Shape{3});
  CHECK(st.at("labels").to_vector() == std::vector<float>{0.0f, -3.0f, 8589934592.0f});
  CHECK(st.at("pixels").shape() == Shape{1, 3});
  CHECK(st.at("pixels").to_vector() == std::vector<float>{0.0f, 128.0f, 255.0f});
  CHECK(st.at("counts").shape() == Shape{2, 2});
  CHECK(st.at("counts").to_vector() == std::vector<float>{1.0f, -2.0f, 3.0f, -4.0f});
}

TEST_CASE("io: the MobileNetV2 ImageNet weights load") {
  const std::string path = KZ_SHARED_DATA "/weights/mobilenet_v2_1.0_imagenet.safetensors";
  if (!fs::exists(path)) {
    MESSAGE("skipped: " << path << " is absent");
    return;
  }
  const kz::Safetensors st = kz::load_safetensors(path);
  CHECK(st.tensors.size() == 260);
  CHECK(st.order.size() == 260);
  CHECK(st.metadata.at("bn_eps") == "0.001");
  CHECK(st.at("features.0.0.weight").shape() == Shape{32, 3, 3, 3});
  CHECK(st.at("features.18.0.weight").shape() == Shape{1280, 320, 1, 1});
  for (const auto& [name, t] : st.tensors) {  // variances of trained BN layers are positive
    if (name.find("running_var") == std::string::npos) continue;
    INFO(name);
    for (float x : t.to_vector()) REQUIRE(x > 0.0f);
  }
}

// --- malformed safetensors: one test per fault ----------------------------------------------

TEST_CASE("io: safetensors file shorter than 8 bytes") {
  check_st_fault("", "file is 0 bytes, shorter than the 8-byte header length");
  check_st_fault(std::string("\x10\x00\x00\x00\x00", 5), "file is 5 bytes, shorter than the 8-byte header length");
}

TEST_CASE("io: safetensors header length 0") {
  check_st_fault(u64le(0) + "{}", "header length 0 is out of range");
}

TEST_CASE("io: safetensors header length past the end of the file") {
  check_st_fault(u64le(1000) + "{}", "header length 1000 is out of range (only 2 bytes follow it)");
  check_st_fault(u64le(~0ULL) + "{}", "header length 18446744073709551615 is out of range");
}

TEST_CASE("io: safetensors header length over 100 MB") {
  check_st_fault(u64le(100'000'001) + "{}",
                 "header length 100000001 is out of range (over the 100 MB limit)");
}

TEST_CASE("io: safetensors header that is not valid JSON") {
  check_st_fault(st_bytes("{\"x\": {\"dtype\": \"F32\","), "invalid JSON header: ");
  check_st_fault(st_bytes("{} trailing"), "invalid JSON header: ");
  check_st_fault(st_bytes(std::string("{\"a\xff\": 1}")), "invalid JSON header: ");
  check_st_fault(st_bytes(std::string(100000, '[')),
                 "invalid JSON header: nested deeper than 16 levels");
}

TEST_CASE("io: safetensors header that is not a JSON object") {
  check_st_fault(st_bytes("[1, 2, 3]"), "header is not a JSON object (it is array)");
  check_st_fault(st_bytes("\"text\""), "header is not a JSON object (it is string)");
}

TEST_CASE("io: safetensors entry missing dtype, shape or data_offsets") {
  const std::string d = f32_data(2);
  check_st_fault(st_bytes(R"({"x": {"shape": [2], "data_offsets": [0, 8]}})", d),
                 "tensor 'x' has no \"dtype\"");
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "data_offsets": [0, 8]}})", d),
                 "tensor 'x' has no \"shape\"");
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [2]}})", d),
                 "tensor 'x' has no \"data_offsets\"");
}

TEST_CASE("io: safetensors entry fields of the wrong type") {
  const std::string d = f32_data(2);
  check_st_fault(st_bytes(R"({"x": [1, 2]})", d), "entry 'x' is not a JSON object");
  check_st_fault(st_bytes(R"({"x": {"dtype": 32, "shape": [2], "data_offsets": [0, 8]}})", d),
                 "tensor 'x': \"dtype\" is not a string");
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", d),
                 "tensor 'x': \"shape\" is not an array");
  const std::string offsets_fault =
      "tensor 'x': \"data_offsets\" is not [begin, end] with two non-negative integers";
  for (const char* offsets : {"[0]", "[0, 8, 8]", "\"0-8\"", "[0, 8.0]", "[-8, 8]", "[0, null]"})
    check_st_fault(st_bytes(std::string(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": )") +
                                offsets + "}}",
                            d),
                   offsets_fault);
}

TEST_CASE("io: safetensors negative or non-integer shape") {
  const std::string d = f32_data(2);
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", d),
                 "tensor 'x': shape has a negative dimension -2");
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", d),
                 "tensor 'x': shape has a non-integer dimension 2.5");
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]}})", d),
                 "tensor 'x': shape has a non-integer dimension \"2\"");
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [1e30], "data_offsets": [0, 8]}})", d),
                 "tensor 'x': shape has a non-integer dimension");
  check_st_fault(
      st_bytes(R"({"x": {"dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 8]}})",
               d),
      "tensor 'x': shape dimension 18446744073709551615 is too large");
}

TEST_CASE("io: safetensors data_offsets with begin > end") {
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})",
                          f32_data(2)),
                 "tensor 'x': data_offsets [8, 0] have begin > end");
}

TEST_CASE("io: safetensors data_offsets outside the data section") {
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                          f32_data(2)),
                 "tensor 'x': data_offsets [4, 12] lie outside the data section of 8 bytes");
  check_st_fault(
      st_bytes(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [18446744073709551608, 18446744073709551615]}})",
               f32_data(2)),
      "lie outside the data section of 8 bytes");
}

TEST_CASE("io: safetensors tensors with overlapping data") {
  check_st_fault(st_bytes(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                              "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                          f32_data(4)),
                 "tensors 'a' [0, 12] and 'b' [8, 16] overlap");
  // the same range twice
  check_st_fault(st_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                              "b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}})",
                          f32_data(2)),
                 "tensors 'a' [0, 8] and 'b' [0, 8] overlap");
  // one range inside a longer one that is not its neighbour in sorted order
  check_st_fault(st_bytes(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                              "b": {"dtype": "U8", "shape": [1], "data_offsets": [4, 5]},
                              "c": {"dtype": "U8", "shape": [2], "data_offsets": [8, 10]}})",
                          f32_data(4)),
                 "tensors 'a' [0, 16] and 'b' [4, 5] overlap");
}

TEST_CASE("io: safetensors byte count that does not match the shape") {
  check_st_fault(st_bytes(R"({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})",
                          f32_data(6)),
                 "tensor 'x': shape (2, 3) of F32 needs 24 bytes but data_offsets [0, 20] hold 20");
  check_st_fault(st_bytes(R"({"x": {"dtype": "I64", "shape": [], "data_offsets": [0, 4]}})",
                          f32_data(1)),
                 "tensor 'x': shape () of I64 needs 8 bytes but data_offsets [0, 4] hold 4");
}

TEST_CASE("io: safetensors shape whose element count overflows") {
  check_st_fault(
      st_bytes(R"({"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
               f32_data(2)),
      "tensor 'x': shape (4294967296, 4294967296) has too many elements");
  // a zero dimension does not excuse the others: strides would overflow
  check_st_fault(
      st_bytes(R"({"x": {"dtype": "U8", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}})"),
      "has too many elements");
  // 2^62 elements of F32 overflow the byte count even though 2^62 fits in int64
  check_st_fault(
      st_bytes(R"({"x": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 8]}})",
               f32_data(2)),
      "has too many elements");
}

TEST_CASE("io: safetensors unsupported dtype") {
  for (const char* dtype : {"F16", "BF16", "F64", "I8", "BOOL", "complex"})
    check_st_fault(
        st_bytes(std::string(R"({"x": {"dtype": ")") + dtype +
                     R"(", "shape": [2], "data_offsets": [0, 8]}})",
                 f32_data(2)),
        std::string("unsupported dtype ") + dtype + " for tensor 'x' (kizuki reads F32, I32, I64, U8)");
}

TEST_CASE("io: safetensors metadata that is not an object of strings") {
  check_st_fault(st_bytes(R"({"__metadata__": {"bn_eps": 0.001}})"),
                 "metadata value for 'bn_eps' is not a string");
  check_st_fault(st_bytes(R"({"__metadata__": ["a", "b"]})"),
                 "\"__metadata__\" is not a JSON object");
}

TEST_CASE("io: safetensors messages stay on one line for hostile names") {
  check_st_fault(st_bytes("{\"a\\nb\": {\"dtype\": \"F16\", \"shape\": [], \"data_offsets\": [0, 2]}}",
                          "xx"),
                 "unsupported dtype F16 for tensor 'a\\x0ab'");
}

TEST_CASE("io: safetensors writer rejects what it cannot write") {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  check_message(error_of([&] { kz::save_safetensors(path, {{"x", Tensor()}}); }), "safetensors",
                path, "tensor 'x' is undefined");
  check_message(error_of([&] { kz::save_safetensors(path, {{"__metadata__", seq({1}, 1)}}); }),
                "safetensors", path, "a tensor cannot be named \"__metadata__\"");
  CHECK_FALSE(fs::exists(path));
}

// --- malformed .npy: one test per fault ------------------------------------------------------

const std::string kGoodDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";

TEST_CASE("io: npy file too short for the preamble") {
  check_npy_fault("", "file is 0 bytes, too short for an .npy preamble");
  check_npy_fault("\x93NUMPY\x01", "file is 7 bytes, too short for an .npy preamble");
  check_npy_fault(std::string("\x93NUMPY\x02\x00\x10\x00", 10),
                  "file is 10 bytes, too short for an .npy preamble");
}

TEST_CASE("io: npy file with bad magic bytes") {
  check_npy_fault("PK\x03\x04 this is a zip file", "not an .npy file (bad magic bytes)");
}

TEST_CASE("io: npy unsupported format version") {
  check_npy_fault(npy_bytes(kGoodDict, f32_data(2), 4), "unsupported .npy format version 4.0");
  std::string v0 = npy_bytes(kGoodDict, f32_data(2));
  v0[6] = 0;
  check_npy_fault(v0, "unsupported .npy format version 0.0");
}

TEST_CASE("io: npy header length past the end of the file") {
  std::string bytes = npy_bytes(kGoodDict);
  bytes[8] = '\xff';
  bytes[9] = '\x7f';
  check_npy_fault(bytes, "header length 32767 runs past the end of the file");
  std::string v2 = npy_bytes(kGoodDict, "", 2);
  v2[11] = '\x7f';
  check_npy_fault(v2, "runs past the end of the file");
}

TEST_CASE("io: npy header that is not a Python dict literal") {
  const std::string d = f32_data(2);
  check_npy_fault(npy_bytes("['descr', '<f4']\n", d), "malformed header dict at byte 0: expected '{'");
  check_npy_fault(npy_bytes("{'descr' '<f4'}\n", d), "malformed header dict at byte 9: expected ':'");
  check_npy_fault(npy_bytes("{'descr': '<f4\n", d), "unterminated string");
  check_npy_fault(npy_bytes("{'fortran_order': false}", d), "expected True or False");
  check_npy_fault(npy_bytes("{'shape': 2}", d), "expected a shape tuple");
  check_npy_fault(npy_bytes("{'shape': (2, x)}", d), "expected an integer dimension");
  check_npy_fault(npy_bytes(kGoodDict + "junk", d), "text after the closing '}'");
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", d),
                  "expected '}'");
}

TEST_CASE("io: npy header missing a key or with an unexpected key") {
  const std::string d = f32_data(2);
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False}", d),
                  "the header has no 'shape'");
  check_npy_fault(npy_bytes("{'descr': '<f4', 'shape': (2,)}", d),
                  "the header has no 'fortran_order'");
  check_npy_fault(npy_bytes("{'fortran_order': False, 'shape': (2,)}", d),
                  "the header has no 'descr'");
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", d),
                  "unexpected key 'x' in the header");
}

TEST_CASE("io: npy big-endian data") {
  check_npy_fault(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f32_data(2)),
                  "big-endian dtype '>f4' is not supported");
}

TEST_CASE("io: npy Fortran-order array") {
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", f32_data(2)),
                  "Fortran-order (column-major) arrays are not supported");
}

TEST_CASE("io: npy unsupported dtype") {
  check_npy_fault(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", f32_data(2)),
                  "unsupported dtype '<f8' (kizuki reads <f4, <i4, <i8, |u1)");
  check_npy_fault(npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                            f32_data(1)),
                  "unsupported dtype: 'descr' is not a simple type string");
}

TEST_CASE("io: npy negative shape") {
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f32_data(2)),
                  "shape has a negative dimension -2");
}

TEST_CASE("io: npy shape that does not match the byte count") {
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32_data(5)),
                  "shape (2, 3) of <f4 needs 24 bytes of data but 20 follow the header");
  check_npy_fault(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", f32_data(3)),
                  "shape () of <i8 needs 8 bytes of data but 12 follow the header");
}

TEST_CASE("io: npy shape whose element count overflows") {
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                            f32_data(2)),
                  "shape (4294967296, 4294967296) has too many elements");
  check_npy_fault(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                            f32_data(2)),
                  "shape dimension 99999999999999999999 is too large");
}

TEST_CASE("io: npy float file read as integers") {
  TempDir dir;
  const std::string path = dir / "f.npy";
  write_bytes(path, npy_bytes(kGoodDict, f32_data(2)));
  CHECK(kz::load_npy(path).to_vector() == std::vector<float>{1.0f, 2.0f});
  check_message(error_of([&] { kz::load_npy_int(path); }), "npy", path,
                "dtype <f4 is not an integer type");
}

// --- robustness: truncations and seeded mutations ----------------------------------------------

// Every parse either succeeds or throws a one-line kz::Error with the given prefix.
template <class Parse>
void check_never_crashes(const std::string& valid, Parse parse, const std::string& prefix) {
  int errors = 0;
  for (size_t len = 0; len < valid.size(); ++len) {  // every truncation fails
    const std::string message = error_of([&] { parse(valid.substr(0, len)); });
    INFO("truncated to ", len, " bytes: ", message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
  kz::Generator gen(2024);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(gen.below(4));
    for (int f = 0; f < flips; ++f) {
      const size_t at = gen.below(bytes.size());
      bytes[at] = static_cast<char>(gen.below(2) ? gen.below(256) : bytes[at] ^ (1 << gen.below(8)));
    }
    const std::string message = error_of([&] { parse(bytes); });
    if (message == kz::test::kNoError) continue;  // the mutated bytes still parse
    ++errors;
    INFO("trial ", trial, ": ", message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK(errors > 0);
}

TEST_CASE("io: safetensors parser survives truncation and byte mutations") {
  const std::string valid = kz::serialize_safetensors(
      {{"a", seq({2, 3}, 0.5f)}, {"b", seq({4}, 1.0f)}}, {{"k", "v"}});
  check_never_crashes(valid, [](const std::string& b) { kz::parse_safetensors(b, "mut"); },
                      "[safetensors] mut: ");
}

TEST_CASE("io: npy parser survives truncation and byte mutations") {
  const std::string valid = npy_bytes(kGoodDict, f32_data(2));
  check_never_crashes(valid, [](const std::string& b) { kz::parse_npy(b, "mut"); }, "[npy] mut: ");
  check_never_crashes(valid, [](const std::string& b) { kz::parse_npy_int(b, "mut"); },
                      "[npy] mut: ");
}
