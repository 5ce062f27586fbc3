/// \file
/// transformations.h — what GEOM and GOAD share: a MobileNetV2 backbone and a 72-way softmax
/// head that learn which of the 72 geometric transformations of data/geometric.h was applied
/// to a normal training image. Batches hold whole groups: a step takes
/// max(1, batch_size / 72) images and all 72 copies of each, rows ordered image by image
/// (image i's copy t at row i·72 + t). Each method gives its batch loss and its score from
/// the features (and the head) of such groups.
#pragma once

#include <functional>
#include <vector>

#include "anomaly/methods/backbone.h"

namespace kz {

/// The base of geom and goad (see the file's description).
class TransformationMethod : public BackboneMethod {
 public:
  MethodKind kind() const override { return MethodKind::scoring; }
  /// Trains backbone and head on the normal training images' transformations, then
  /// after_training().
  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;
  /// One score per image from its 72 copies (score_group), eval mode, no gradients.
  std::vector<Tensor> score(const ImageDataset& data) const override;

 protected:
  using BackboneMethod::BackboneMethod;
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override;
  /// The loss of one step: features (n·72,F) of n images' groups, their labels (0 … 71, n
  /// times).
  virtual Variable batch_loss(const Variable& features, const std::vector<int64_t>& labels,
                              int64_t n) = 0;
  /// After the last epoch (and when resuming past it): what scoring needs besides the
  /// networks (GOAD's centres). Nothing by default.
  virtual void after_training(const BenchmarkSplit& split) { (void)split; }
  /// The scores of n images from their groups' features (n·72,F), eval mode.
  virtual std::vector<float> score_group(const Tensor& features, int64_t n) const = 0;
  /// Features (n·72,F) of the 72 copies of every image of `data`, eval mode, no gradients,
  /// a few images at a time: `each` receives each chunk's features and its image count n.
  void for_each_group(const ImageDataset& data,
                      const std::function<void(const Tensor&, int64_t)>& each) const;
  /// 0 … 71, n times: the labels of n images' groups.
  static std::vector<int64_t> transform_labels(int64_t n);
};

}  // namespace kz
