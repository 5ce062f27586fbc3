// dataset.cpp — ImageDataset bookkeeping (see dataset.h).
#include "data/dataset.h"

#include <algorithm>
#include <cstring>

namespace kz {

std::vector<int64_t> ImageDataset::class_counts() const {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes()), 0);
  for (int64_t l : labels)
    if (l >= 0 && l < num_classes()) ++counts[static_cast<size_t>(l)];
  return counts;
}

std::vector<int64_t> ImageDataset::indices_of_class(int64_t c) const {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < size(); ++i)
    if (labels[static_cast<size_t>(i)] == c) out.push_back(i);
  return out;
}

ImageDataset ImageDataset::subset(const std::vector<int64_t>& indices) const {
  ImageDataset out;
  out.channels = channels;
  out.height = height;
  out.width = width;
  out.class_names = class_names;
  out.source = source;
  out.table = table;
  const auto n = static_cast<size_t>(image_numel());
  (table ? out.values.resize(indices.size() * n) : out.pixels.resize(indices.size() * n));
  out.labels.resize(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    KZ_CHECK(i >= 0 && i < size(), "subset", "{}: index {} out of range for {} images", source,
             i, size());
    if (table)
      std::memcpy(out.values.data() + k * n, values.data() + static_cast<size_t>(i) * n,
                  n * sizeof(float));
    else
      std::memcpy(out.pixels.data() + k * n, image(i), n);
    out.labels[k] = labels[static_cast<size_t>(i)];
  }
  return out;
}

Tensor ImageDataset::to_tensor(int64_t start, int64_t count) const {
  if (count < 0) count = size() - start;
  KZ_CHECK(start >= 0 && count >= 0 && start + count <= size(), "to_tensor",
           "{}: images [{}, {}) out of range for {} images", source, start, start + count,
           size());
  Tensor t = Tensor::empty({count, channels, height, width});
  float* dst = t.data();
  if (table) {
    std::copy_n(values.data() + start * image_numel(), count * image_numel(), dst);
    return t;
  }
  const uint8_t* src = image(start);
  const int64_t total = count * image_numel();
  for (int64_t k = 0; k < total; ++k) dst[k] = static_cast<float>(src[k]);
  return t;
}

void ImageDataset::validate() const {
  KZ_CHECK(channels >= 1 && height >= 1 && width >= 1, "dataset",
           "{}: image shape ({}, {}, {}) is empty", source, channels, height, width);
  int64_t numel = 0;  // N·C·H·W, checked before image_numel() multiplies unchecked
  KZ_CHECK(!__builtin_mul_overflow(channels, height, &numel) &&
               !__builtin_mul_overflow(numel, width, &numel) &&
               !__builtin_mul_overflow(numel, size(), &numel),
           "dataset", "{}: {} images of ({}, {}, {}) are more values than can be counted",
           source, size(), channels, height, width);
  if (table)
    KZ_CHECK(static_cast<int64_t>(values.size()) == size() * image_numel() && pixels.empty() &&
                 height == 1 && width == 1,
             "dataset", "{}: {} values and {} pixel bytes for {} rows of {} features (a table "
             "is (N,F,1,1) in values)", source, values.size(), pixels.size(), size(), channels);
  else
    KZ_CHECK(static_cast<int64_t>(pixels.size()) == size() * image_numel() && values.empty(),
             "dataset", "{}: {} pixel bytes for {} images of ({}, {}, {})", source,
             pixels.size(), size(), channels, height, width);
  for (int64_t i = 0; i < size(); ++i) {
    const int64_t l = labels[static_cast<size_t>(i)];
    KZ_CHECK(l >= 0 && l < num_classes(), "dataset",
             "{}: image {} has label {}, outside the {} classes", source, i, l, num_classes());
  }
}

ImageDataset concat(const ImageDataset& a, const ImageDataset& b) {
  KZ_CHECK(a.channels == b.channels && a.height == b.height && a.width == b.width, "concat",
           "{} images are ({}, {}, {}) but {} images are ({}, {}, {})", a.source, a.channels,
           a.height, a.width, b.source, b.channels, b.height, b.width);
  KZ_CHECK(a.class_names == b.class_names, "concat",
           "{} and {} have different class names", a.source, b.source);
  KZ_CHECK(a.table == b.table, "concat", "{} is {} but {} is {}", a.source,
           a.table ? "a table" : "images", b.source, b.table ? "a table" : "images");
  ImageDataset out = a;
  out.pixels.insert(out.pixels.end(), b.pixels.begin(), b.pixels.end());
  out.values.insert(out.values.end(), b.values.begin(), b.values.end());
  out.labels.insert(out.labels.end(), b.labels.begin(), b.labels.end());
  if (a.source != b.source) out.source = a.source + " + " + b.source;
  return out;
}

ImageDataset flip_horizontal(const ImageDataset& data) {
  KZ_CHECK(!data.table, "flip_horizontal",
           "{}: a table's rows have no left and right to mirror (--tta flip is for images)",
           data.source);
  KZ_CHECK(static_cast<int64_t>(data.pixels.size()) == data.size() * data.image_numel(),
           "flip_horizontal", "{}: {} pixel bytes for {} images of ({}, {}, {})", data.source,
           data.pixels.size(), data.size(), data.channels, data.height, data.width);
  ImageDataset out = data;
  const int64_t rows = data.size() * data.channels * data.height, w = data.width;
  for (int64_t r = 0; r < rows; ++r)
    std::reverse(out.pixels.begin() + r * w, out.pixels.begin() + (r + 1) * w);
  return out;
}

}  // namespace kz
