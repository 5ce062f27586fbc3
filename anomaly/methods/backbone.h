/// \file
/// backbone.h — what the metric-learning methods share: a backbone network and, for the
/// methods that classify, a head over the training classes. doc, l2softmax, arcface and
/// frozen derive from BackboneMethod; each gives only its head and its training batch.
///
/// The backbone is chosen by the data: for images a MobileNetV2 (features only: images →
/// pooled (N,F) features, F = 1280·max(1, width)); for a table (data/dataset.h) an Mlp of
/// options.mlp_widths (layers/mlp.h: rows (N,C) → features (N, widths.back())). Its state is
/// saved under "backbone" either way; architecture() says which it is.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "anomaly/training.h"
#include "layers/mlp.h"
#include "layers/mobilenet_v2.h"
#include "losses/margin_head.h"

namespace kz {

/// The base of doc, l2softmax, arcface and frozen: a MobileNetV2 backbone, maybe a head.
class BackboneMethod : public TrainedMethod {
 public:
  MethodKind kind() const override { return MethodKind::embedding; }
  /// Pooled backbone features (N,F), eval mode, no gradients, in chunks of 256 images.
  Tensor embed(const ImageDataset& data) const override;
  int64_t feature_dim() const override;
  Tensor class_logits(const Tensor& features) const override;
  std::vector<NamedNetwork> networks() const override;
  /// {"width", "bn_eps", "padding", "head_classes"} (head_classes 0: no head); for an MLP
  /// {"backbone": "mlp", "in_features", "widths", "bn_eps", "head_classes"} and, for GOAD's
  /// plain stages, "plain": true.
  nlohmann::json architecture() const override;
  void build_untrained(const nlohmann::json& architecture) override;

  /// The MobileNetV2 (images), built by train() or build_untrained(); throws for an MLP.
  MobileNetV2& backbone() const;
  /// The backbone network, whichever it is (null before train() or build_untrained()).
  Module& network() const;
  const std::shared_ptr<MarginHead>& head() const { return head_; }  ///< null without a head
  /// A scoring method's score as a differentiable function of pooled backbone features
  /// (N,F) → (N), for Grad-CAM (anomaly/gradcam.h); has_feature_score() says whether there is
  /// one (deepsad: ‖φ(f) − c‖²). The default has none and throws.
  ///@{
  virtual bool has_feature_score() const { return false; }
  virtual Variable feature_score(const Variable& features) const;
  ///@}

 protected:
  using TrainedMethod::TrainedMethod;
  /// The backbone for `data`'s rows: for images the MobileNetV2, random from `seed` or the
  /// pretrained file of the options; for a table an Mlp of options.mlp_widths over its
  /// features, random from `seed` (a pretrained file is then an error).
  void build_backbone(uint64_t seed, const ImageDataset& data);
  /// The table backbone alone: an Mlp of options.mlp_widths over `in_features` inputs,
  /// random from `seed` (as build_backbone draws it for a table of that many features);
  /// `plain`: GOAD's stages (layers/mlp.h).
  void build_mlp(uint64_t seed, int64_t in_features, bool plain = false);
  /// The images of `data` preprocessed as the options say, channels-last, `chunk` images at
  /// a time: `each` receives each chunk (n,C,H,W) in order.
  void for_each_chunk(const ImageDataset& data, int64_t chunk,
                      const std::function<void(const Tensor&)>& each) const;
  /// Features of a batch through the backbone (training or eval as the network is set).
  Variable forward_features(const Variable& x) const;
  /// What the head learns from, for one batch of the loader: rows (channels-last) and their
  /// labels among the head's classes.
  struct HeadBatch {
    Tensor rows;                  ///< (M,C,H,W) channels-last, or (M,C) for a table
    std::vector<int64_t> labels;  ///< M
  };
  /// Turns a loader batch into what the head learns from; `draw` is seeded by the batch's
  /// epoch and index (for what a method draws, e.g. synthetic defects), so a resumed run
  /// draws the same.
  using HeadBatchFn = std::function<HeadBatch(const Batch& batch, Generator& draw)>;
  /// The training of the methods that learn through a classification head (l2softmax,
  /// arcface, twin, cutpaste): after build_backbone(), a new head of `classes` classes (random
  /// from stream 2 of `seed`); every batch of `data` (loader `lo`, sharded when data-parallel)
  /// made into rows and labels by `make_rows` (null: the batch as it is), the head's loss on
  /// their features; the epochs with progress, checkpoints and resume.
  void train_head(const BenchmarkSplit& split, const ImageDataset& data, const LoaderOptions& lo,
                  int64_t classes, uint64_t seed, const ProgressFn& progress,
                  const HeadBatchFn& make_rows);
  /// A head of this method for F features and C classes (random from gen); null if none.
  virtual std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                                Generator& gen) const = 0;
  /// Parameters of the backbone that train (options_.freeze_blocks excluded) followed by
  /// the head's.
  std::vector<Variable> trainable() const;

  std::shared_ptr<MobileNetV2> backbone_;  ///< backbone(), for images
  std::shared_ptr<Mlp> mlp_;               ///< the backbone for a table
  std::shared_ptr<MarginHead> head_;       ///< head()
};

/// L2-Softmax and ArcFace: classify reference + normal images (R+1 classes, the normal class
/// last; with known anomalies, they are one class more, R+2) through the head; the backbone's
/// features are what is scored.
class ClassifierMethod : public BackboneMethod {
 public:
  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;
  std::vector<std::string> head_classes(const BenchmarkSplit& split) const override;

 protected:
  using BackboneMethod::BackboneMethod;
};

/// What a ClassifierMethod trains on: the reference set and the normal training images
/// (labels 0 … R−1, R), and the split's known anomalies, if any, as one class more (R+1).
ImageDataset classifier_training_set(const BenchmarkSplit& split);

}  // namespace kz
