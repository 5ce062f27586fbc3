/// \file
/// transformations.h — what GEOM and GOAD share: a backbone and a softmax head that learn
/// which of M transformations was applied to a normal training row. For images the backbone
/// is a MobileNetV2 and the transformations the 72 geometric ones of data/geometric.h; for a
/// table (GOAD only) the backbone is an Mlp (layers/mlp.h) over d inputs and the
/// transformations options.goad_maps random maps of the row to options.goad_dims dimensions
/// (data/affine_maps.h), drawn from the training seed and kept as the network "maps".
/// Batches hold whole groups: a step takes max(1, batch_size / 72) images and all 72 copies
/// of each — for a table batch_size rows and all M copies of each (as the authors' tabular
/// code, whose batch of 64 counts rows) — ordered row by row (row i's copy t at row i·M + t).
/// Each method gives its batch loss and its score from the features (and the head) of such
/// groups.
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
  /// One score per image from its M copies (score_group), eval mode, no gradients.
  std::vector<Tensor> score(const ImageDataset& data) const override;
  /// The backbone's and the head's, and for a table "maps" (the buffer "maps", (M,D,d)).
  std::vector<NamedNetwork> networks() const override;
  /// BackboneMethod's, and for a table "affine_maps": [M, D, d].
  nlohmann::json architecture() const override;
  void build_untrained(const nlohmann::json& architecture) override;
  /// M: 72 for images, the number of maps for a table (0 before training or loading).
  int64_t transforms() const;

 protected:
  using BackboneMethod::BackboneMethod;
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override;
  /// Whether the method runs on tables too (GOAD); GEOM refuses them.
  virtual bool takes_tables() const { return false; }
  /// The loss of one step: features (n·M,F) of n images' groups, their labels (0 … M−1, n
  /// times).
  virtual Variable batch_loss(const Variable& features, const std::vector<int64_t>& labels,
                              int64_t n) = 0;
  /// After the last epoch (and when resuming past it): what scoring needs besides the
  /// networks (GOAD's centres). Nothing by default.
  virtual void after_training(const BenchmarkSplit& split) { (void)split; }
  /// The scores of n images from their groups' features (n·M,F), eval mode.
  virtual std::vector<float> score_group(const Tensor& features, int64_t n) const = 0;
  /// Features (n·M,F) of the M copies of every image of `data`, eval mode, no gradients,
  /// a few images at a time: `each` receives each chunk's features and its image count n.
  void for_each_group(const ImageDataset& data,
                      const std::function<void(const Tensor&, int64_t)>& each) const;
  /// 0 … M−1, n times: the labels of n images' groups.
  std::vector<int64_t> transform_labels(int64_t n) const;
  /// The M copies (n·M, …) of a batch x, ready for the backbone: all_geometric's for images
  /// (channels-last), affine_copies' for a table's rows.
  Tensor transformed(const Tensor& x) const;

  /// A table's random maps as a network with the buffer "maps" (M,D,d), saved with the
  /// weights (transformations.cpp defines it).
  class AffineMaps;
  std::shared_ptr<AffineMaps> maps_;  ///< a table's maps (null for images)
};

}  // namespace kz
