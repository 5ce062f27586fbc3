/// \file
/// backbone.h — what the metric-learning methods share: a MobileNetV2 backbone (features
/// only: images → pooled (N,F) features, F = 1280·max(1, width)) and, for the methods that
/// classify, a head over the training classes. doc, l2softmax, arcface and frozen derive from
/// BackboneMethod; each gives only its head and its training batch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "anomaly/training.h"
#include "layers/mobilenet_v2.h"
#include "losses/margin_head.h"

namespace kz {

/// The base of doc, l2softmax, arcface and frozen: a MobileNetV2 backbone, maybe a head.
class BackboneMethod : public TrainedMethod {
 public:
  MethodKind kind() const override { return MethodKind::embedding; }
  /// Pooled backbone features (N,F), eval mode, no gradients, in chunks of 256 images.
  Tensor embed(const ImageDataset& data) const override;
  int64_t feature_dim() const override { return backbone_->feature_dim(); }
  Tensor class_logits(const Tensor& features) const override;
  std::vector<NamedNetwork> networks() const override;
  /// {"width", "bn_eps", "padding", "head_classes"} (head_classes 0: no head).
  nlohmann::json architecture() const override;
  void build_untrained(const nlohmann::json& architecture) override;

  MobileNetV2& backbone() const { return *backbone_; }  ///< built by train() or build_untrained()
  const std::shared_ptr<MarginHead>& head() const { return head_; }  ///< null without a head

 protected:
  using TrainedMethod::TrainedMethod;
  /// The backbone, random from `seed` or the pretrained file of the options.
  void build_backbone(uint64_t seed);
  /// A head of this method for F features and C classes (random from gen); null if none.
  virtual std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                                Generator& gen) const = 0;
  /// Parameters of the backbone that train (options_.freeze_blocks excluded) followed by
  /// the head's.
  std::vector<Variable> trainable() const;

  std::shared_ptr<MobileNetV2> backbone_;  ///< backbone()
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
