/// \file
/// split.h — the anomaly benchmark's three sets, drawn from a data set's train/test splits.
///
/// The protocol (DESIGN.md §7): with a normal class and an anomaly class,
/// \code{.unparsed}
///   reference    n_reference_per_class images of every other class   (from the train split)
///   normal_train n_normal_train images of the normal class            (from the train split)
///   test         n_test_each normal + n_test_each anomalous images   (from the test split)
/// \endcode
/// e.g. Fashion-MNIST 7/9 with (1000, 1000, 1000): 8000 reference, 1000 normal, 2000 test.
/// Images are drawn without replacement (so no image is in two sets), each class in turn,
/// from one Generator(seed): reference classes in ascending order, then the normal training
/// images, then the test normals, then the test anomalies. The same seed gives the same sets.
/// A count below zero means "every image of that class".
///
/// Labels, so the sets plug straight into training and scoring:
/// \code{.unparsed}
///   reference and normal_train share one class list: the reference classes in ascending
///   order (labels 0 … R−1), then the normal class (label R). Concatenated, they are the
///   (R+1)-class training set the seed's L2-Softmax and ArcFace classify (R = 8: 9 classes).
///   test labels are 0 = normal, 1 = anomaly (class names "normal: <name>", "anomaly: <name>").
/// \endcode
/// The original class of every image, and its position in its split, are kept alongside.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace kz {

/// The three sets of one benchmark trial, labelled as the file describes.
struct BenchmarkSplit {
  /// The reference set, the normal training set, the test set
  ///@{
  ImageDataset reference, normal_train, test;
  ///@}
  std::vector<int64_t> reference_classes;  ///< original label of reference label 0 … R−1
  /// Per image: its original class.
  ///@{
  std::vector<int64_t> reference_original, normal_train_original, test_original;
  ///@}
  /// Per image: its index in the train (or test) split.
  ///@{
  std::vector<int64_t> reference_index, normal_train_index, test_index;
  ///@}
  /// Weak supervision (with_known_anomalies; empty by default): labelled images of the
  /// anomaly class from the train split, label 0, class "known anomaly: <name>".
  ImageDataset known_anomalies;
  std::vector<int64_t> known_anomaly_index;  ///< their indices in the train split
  /// The proxy set (with_proxy_set; empty by default): normal-class images (label 0) and
  /// reference-class images (label 1) of the train split that no other set holds, for
  /// watching training without the test set.
  ImageDataset proxy;
  std::vector<int64_t> proxy_index;  ///< their indices in the train split
};

/// Draws the three sets from `data` with Generator(seed), as the file describes.
BenchmarkSplit benchmark_split(const TrainTest& data, int64_t normal_class, int64_t anomaly_class,
                               int64_t n_reference_per_class, int64_t n_normal_train,
                               int64_t n_test_each, uint64_t seed);

/// The same split with its test set replaced by held-out data the test split never touches,
/// for choosing a method's settings (DESIGN.md §12): n_each normal-class images of the train
/// split that are not in normal_train (label 0, "held-out normal: <name>") and n_each images
/// of the reference set (label 1, "reference (as anomalies)"). Only for methods that do not
/// train on the reference set. The draws use their own Generator stream, so the training sets
/// are exactly those of the protocol's trial with the same seed; test_index then indexes the
/// train split.
BenchmarkSplit validation_split(const TrainTest& data, const BenchmarkSplit& split,
                                int64_t normal_class, int64_t n_each, uint64_t seed);

/// The same split with `n` images of the anomaly class drawn from the train split as
/// known_anomalies (never test images: the test set comes from the test split). They use
/// their own Generator stream, so every other set is exactly the protocol's trial with the
/// same seed, and every method of a trial gets the same images.
BenchmarkSplit with_known_anomalies(const TrainTest& data, const BenchmarkSplit& split,
                                    int64_t anomaly_class, int64_t n, uint64_t seed);
/// The draw both with_known_anomalies and tables (data/table_split.h) make: the split with
/// `n` of the positions `pool` of `source` (n ≤ pool.size(), checked by the caller) drawn on
/// Generator stream 78 of `seed` as known_anomalies, all labelled 0, one class `class_name`.
BenchmarkSplit with_drawn_known_anomalies(const BenchmarkSplit& split, const ImageDataset& source,
                                          const std::vector<int64_t>& pool, int64_t n,
                                          uint64_t seed, const std::string& class_name);

/// The same split with a proxy set: n normal-class images of the train split outside
/// normal_train (label 0, "held-out normal: <name>") and n images of the reference classes
/// outside the reference set (label 1, "held-out reference"), drawn uniformly from what is
/// left of those classes; n = n_each, or fewer where fewer are left (0: an empty set). No method trains on them, whether it uses the reference
/// set or not, and the test split is never touched: their AUC is a signal a run may choose
/// by (--early-stop proxy). Their own Generator stream leaves every other set unchanged.
BenchmarkSplit with_proxy_set(const TrainTest& data, const BenchmarkSplit& split,
                              int64_t normal_class, int64_t n_each, uint64_t seed);
}  // namespace kz
