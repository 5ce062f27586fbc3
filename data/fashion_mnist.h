/// \file
/// fashion_mnist.h — Fashion-MNIST (and MNIST) from IDX files, gzipped or plain.
///
/// IDX (LeCun's MNIST format): bytes 0–1 zero, byte 2 the element type (0x08 = unsigned byte,
/// the only one MNIST-style sets use), byte 3 the number of dimensions D, then D big-endian
/// u32 sizes, then the elements row-major. Images are D = 3 (N,H,W); labels D = 1 (N).
/// Files may be gzip-compressed (detected by the magic 1f 8b, not the name); several gzip
/// members one after another are read as one stream, as gzip(1) does.
///
/// Everything is checked before it is trusted, and each fault is one kz::Error naming the
/// file: a truncated or corrupt gzip stream (including a bad CRC), a wrong magic or element
/// type, a wrong dimension count, a byte count that does not match the sizes, image and
/// label counts that differ, a label outside the class list.
///
/// Debian's `dataset-fashion-mnist` installs the four files in
/// /usr/share/datasets/fashion-mnist/: train-images-idx3-ubyte.gz,
/// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz
/// (60000 training and 10000 test images of 28×28 grey, 10 classes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace kz {

/// Where Debian's dataset-fashion-mnist puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// The ten class names, label order (0 "T-shirt/top" … 7 "Sneaker", 8 "Bag", 9 "Ankle boot").
const std::vector<std::string>& fashion_mnist_classes();

/// `bytes` itself when it does not start with the gzip magic; otherwise its decompressed
/// content. `name` is used in error messages.
std::string maybe_gunzip(const std::string& bytes, const std::string& name);

/// A parsed IDX file of unsigned bytes: sizes outermost first, then the data.
struct IdxArray {
  std::vector<int64_t> dims;  ///< sizes, outermost first
  std::vector<uint8_t> data;  ///< the elements, row-major
};
/// Parses decompressed IDX bytes; `expected_dims` > 0 requires that many dimensions.
IdxArray parse_idx(const std::string& bytes, const std::string& name, int expected_dims = 0);

/// An image IDX file (N,H,W) and a label IDX file (N) as a one-channel dataset. Every label
/// must be below class_names.size(). Error messages name `images_name` / `labels_name`.
ImageDataset parse_idx_dataset(const std::string& image_bytes, const std::string& images_name,
                               const std::string& label_bytes, const std::string& labels_name,
                               const std::vector<std::string>& class_names);
/// The same from two files (each gzipped or plain).
ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                              const std::vector<std::string>& class_names);

/// Fashion-MNIST's train and test splits from `dir`, which holds the four files under their
/// official names, each either with ".gz" or without (the .gz one is used when both exist).
TrainTest load_fashion_mnist(const std::string& dir = kFashionMnistDir);

}  // namespace kz
