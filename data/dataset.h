/// \file
/// dataset.h — an in-memory labelled image set: 8-bit pixels (N,C,H,W) plus one class label
/// per image.
///
/// Shape letters: N images, C channels (1 grey or 3 RGB), H rows, W columns. Pixels are kept
/// as bytes (every source kizuki reads is 8-bit), image i's C planes of H rows of W bytes
/// starting at pixels[i*C*H*W] — the layout of CIFAR's records and of a contiguous (N,C,H,W)
/// tensor. Preprocessing into float tensors happens later (data/transforms.h, data/loader.h),
/// so a dataset costs 1 byte per pixel: all of Fashion-MNIST is 55 MB, all of CIFAR-10 184 MB.
///
/// Datasets come in train/test pairs (TrainTest) from the readers in fashion_mnist.h,
/// cifar10.h and image_folder.h; data/split.h draws the anomaly benchmark's sets from a pair.
///
/// A table (data/csv.h, data/table_split.h) is a dataset too, so that the benchmark runner
/// and the methods take it as they take images: its N rows of F float features are kept in
/// `values` ((N,F) row-major) instead of `pixels`, with channels = F and height = width = 1,
/// and `table` set; to_tensor() then gives the values as a (N,F,1,1) tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// Labelled 8-bit images (N,C,H,W) in memory (see the file's description).
struct ImageDataset {
  /// C, H, W of every image
  ///@{
  int64_t channels = 0, height = 0, width = 0;
  ///@}
  std::vector<uint8_t> pixels;           ///< size() * image_numel() bytes, (N,C,H,W) order
  std::vector<int64_t> labels;           ///< one per image, each in [0, num_classes())
  std::vector<std::string> class_names;  ///< label -> name
  std::string source;                    ///< file or folder it came from, for messages
  bool table = false;       ///< rows of float features in `values`, not images in `pixels`
  std::vector<float> values;  ///< a table's size() * image_numel() values, (N,F) row-major

  int64_t size() const { return static_cast<int64_t>(labels.size()); }  ///< N
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }  ///< classes
  int64_t image_numel() const { return channels * height * width; }  ///< C·H·W
  /// Image i's C·H·W bytes (unchecked).
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_numel(); }

  /// Images per class: counts[c] = number of images labelled c.
  std::vector<int64_t> class_counts() const;
  /// Positions of the images labelled c, in dataset order.
  std::vector<int64_t> indices_of_class(int64_t c) const;
  /// The images at `indices` (repeats allowed), in that order, with the same class names.
  ImageDataset subset(const std::vector<int64_t>& indices) const;
  /// Images [start, start+count) as a float (count,C,H,W) tensor of pixel values 0..255
  /// (a table's rows: its values, (count,F,1,1)).
  Tensor to_tensor(int64_t start = 0, int64_t count = -1) const;
  /// Throws naming `source` unless sizes agree and every label is a valid class.
  void validate() const;
};

/// a's images followed by b's. Both must have the same C, H, W and class names, and both be
/// images or both tables.
ImageDataset concat(const ImageDataset& a, const ImageDataset& b);

/// The same images mirrored left–right: out[n][c][y][x] = in[n][c][y][W−1−x]; labels,
/// names and source kept (test-time augmentation, anomaly/method.h embed_features). A table
/// has no left and right: it is an error.
ImageDataset flip_horizontal(const ImageDataset& data);

/// A data set's two official splits.
struct TrainTest {
  /// The training split, the test split
  ///@{
  ImageDataset train, test;
  ///@}
};

}  // namespace kz
