// cifar10.cpp — CIFAR-10 binary batches (see cifar10.h).
#include "data/cifar10.h"

#include <cstring>
#include <filesystem>

#include "tensor/file_io.h"

namespace kz {

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",
                                                 "deer",     "dog",        "frog",  "horse",
                                                 "ship",     "truck"};
  return names;
}

ImageDataset parse_cifar_batch(const std::string& bytes, const std::string& name) {
  const auto size = static_cast<int64_t>(bytes.size());
  KZ_CHECK(size > 0, "cifar10", "{}: empty file", name);
  KZ_CHECK(size % kCifarRecordBytes == 0, "cifar10",
           "{}: {} bytes is not a whole number of {}-byte records ({} records and {} bytes "
           "over)",
           name, size, kCifarRecordBytes, size / kCifarRecordBytes, size % kCifarRecordBytes);
  const int64_t n = size / kCifarRecordBytes, numel = kCifarRecordBytes - 1;
  ImageDataset ds;
  ds.channels = 3;
  ds.height = 32;
  ds.width = 32;
  ds.class_names = cifar10_classes();
  ds.source = name;
  ds.labels.resize(static_cast<size_t>(n));
  ds.pixels.resize(static_cast<size_t>(n * numel));
  const auto* src = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = src + i * kCifarRecordBytes;
    KZ_CHECK(record[0] <= 9, "cifar10", "{}: record {} has label {}, above 9", name, i,
             record[0]);
    ds.labels[static_cast<size_t>(i)] = record[0];
    std::memcpy(ds.pixels.data() + i * numel, record + 1, static_cast<size_t>(numel));
  }
  return ds;
}

namespace {

ImageDataset load_batch(const std::filesystem::path& path) {
  std::error_code ec;
  KZ_CHECK(std::filesystem::is_regular_file(path, ec), "cifar10", "{}: no such file",
           path.string());
  return parse_cifar_batch(read_file(path.string()), path.string());
}

// Ten class names from batches.meta.txt, or the official ones when it is absent.
std::vector<std::string> read_class_names(const std::filesystem::path& dir) {
  const auto path = dir / "batches.meta.txt";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return cifar10_classes();
  const std::string text = read_file(path.string());
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (!line.empty()) names.push_back(line);
    start = end + 1;
  }
  KZ_CHECK(names.size() == 10, "cifar10", "{}: {} class names, expected 10", path.string(),
           names.size());
  return names;
}

}  // namespace

TrainTest load_cifar10(const std::string& dir_arg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = dir_arg;
  KZ_CHECK(fs::is_directory(dir, ec), "cifar10", "{}: no such folder", dir_arg);
  if (!fs::exists(dir / "data_batch_1.bin", ec) &&
      fs::is_directory(dir / "cifar-10-batches-bin", ec))
    dir /= "cifar-10-batches-bin";
  const std::vector<std::string> names = read_class_names(dir);
  TrainTest out;
  out.train = load_batch(dir / "data_batch_1.bin");
  out.train.pixels.reserve(out.train.pixels.size() * 5);
  for (int b = 2; b <= 5; ++b) {
    const ImageDataset batch = load_batch(dir / fmt::format("data_batch_{}.bin", b));
    out.train.pixels.insert(out.train.pixels.end(), batch.pixels.begin(), batch.pixels.end());
    out.train.labels.insert(out.train.labels.end(), batch.labels.begin(), batch.labels.end());
  }
  out.train.source = (dir / "data_batch_{1..5}.bin").string();
  out.test = load_batch(dir / "test_batch.bin");
  out.train.class_names = names;
  out.test.class_names = names;
  return out;
}

}  // namespace kz
