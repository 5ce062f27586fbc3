/// \file
/// openset_split.h — the open-set protocol's sets: some classes of a data set are known
/// (trained on), the others unknown (seen only at test time).
///
/// With K known classes (every class not listed as unknown, ascending; known label k is
/// the k-th of them) and U unknown classes:
/// \code{.unparsed}
///   training   n_train_per_class images of every known class      (from the train split)
///   held_out   n_held_out_per_class others of every known class   (from the train split)
///   test       n_test_known_per_class images of every known class, then
///              n_test_unknown_per_class images of every unknown class (from the test split)
/// \endcode
/// The training images come as a BenchmarkSplit (data/split.h) so that the classifying
/// methods train on them unchanged: known classes 0 … K−2 are its reference set and class
/// K−1 its normal training set; together they are the K-class training set
/// (classifier_training_set, anomaly/methods/backbone.h). Its test set is empty.
/// held_out never meets training (the threshold of the unknown flag is set on it); test
/// labels are 0 … K−1 for the known classes and K for every unknown image (class names: the
/// known classes', then "unknown"); test_original keeps each image's own class.
///
/// Draws use one Generator(seed): per known class ascending, one permutation of its train
/// images gives its training images then its held-out ones; then the test images, known
/// classes ascending, then unknown classes ascending. A count below zero means "every image
/// of that class" (held_out: every one not in training). The same seed gives the same sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/split.h"

namespace kz {

/// The open-set sets of one run (see the file's description).
struct OpenSetSplit {
  std::vector<int64_t> known_classes;    ///< original labels of known labels 0 … K−1, ascending
  std::vector<int64_t> unknown_classes;  ///< original labels of the unknown classes, ascending
  BenchmarkSplit training;  ///< reference + normal_train: the K known classes; test empty
  ImageDataset held_out;    ///< known-class train images not in training, labels 0 … K−1
  std::vector<int64_t> held_out_index;  ///< their indices in the train split
  ImageDataset test;  ///< labels 0 … K−1 known, K unknown; class names the known + "unknown"
  /// Per test image: its index in the test split, its original class
  ///@{
  std::vector<int64_t> test_index, test_original;
  ///@}
};

/// The classes `text` names, a comma list of class names of `class_names` or their
/// indices ("horse,truck", "7,9"), as original labels in ascending order. Throws, naming
/// `where` (e.g. "--unknown"), on an empty list, a name that is no class (listing the
/// names), a class listed twice, and a list that leaves fewer than two known classes.
std::vector<int64_t> parse_unknown_classes(const std::string& text,
                                           const std::vector<std::string>& class_names,
                                           const std::string& where);

/// Draws the open-set sets from `data` with Generator(seed), as the file describes.
/// `unknown`: original labels (as parse_unknown_classes gives; checked the same way).
OpenSetSplit openset_split(const TrainTest& data, const std::vector<int64_t>& unknown,
                           int64_t n_train_per_class, int64_t n_held_out_per_class,
                           int64_t n_test_known_per_class, int64_t n_test_unknown_per_class,
                           uint64_t seed);

}  // namespace kz
