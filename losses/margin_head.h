/// \file
/// margin_head.h — the interface shared by metric-learning classification heads, the plain
/// softmax head, and the helpers they share (row L2 normalisation, PyTorch-style init).
///
/// Shapes: N samples, D feature dimension (in_features), C classes.
///
/// A head maps features (N,D) to logits (N,C) that go into cross_entropy. Margin heads
/// (ArcFace, later CosFace, AdaCos) treat the true class differently in training, so the
/// training forward takes the labels; forward(features) gives the logits without any margin
/// (inference, accuracy). Adding a head = one file deriving from MarginHead, overriding the
/// two forwards. Parameters are registered by name ("weight", "bias") as in torch.nn.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/generator.h"

namespace kz {

/// The base of classification heads: features (N,D) -> logits (N,C) (see the file's
/// description).
class MarginHead : public Module {
 public:
  MarginHead(int64_t in_features, int64_t num_classes);  ///< D and C; no parameters yet

  /// features (N,D), labels N ints in [0,C) -> training logits (N,C).
  virtual Variable forward(const Variable& features, const std::vector<int64_t>& labels) = 0;
  /// features (N,D) -> logits (N,C) without margin.
  Variable forward(const Variable& features) override = 0;
  /// Mean softmax cross-entropy of the training logits (label_smoothing as PyTorch's).
  Variable loss(const Variable& features, const std::vector<int64_t>& labels);

  int64_t in_features() const { return in_features_; }        ///< D
  int64_t num_classes() const { return num_classes_; }        ///< C
  float label_smoothing() const { return label_smoothing_; }  ///< ε of loss(); 0 by default
  void set_label_smoothing(float eps);                        ///< ε in [0, 1]

 protected:
  /// Throws "[op] ..." unless features is (N, in_features) and labels has N ints in [0,C).
  ///@{
  void check_features(const Variable& features, const char* op) const;
  void check_labels(const Variable& features, const std::vector<int64_t>& labels,
                    const char* op) const;
  ///@}

 private:
  int64_t in_features_, num_classes_;
  float label_smoothing_ = 0.0f;
};

/// Plain softmax classifier: logits = f·Wᵀ + b (a Linear layer). DOC's descriptiveness head.
/// weight (C,D), bias (C), initialised as torch.nn.Linear (see linear_weight_init).
class SoftmaxHead : public MarginHead {
 public:
  SoftmaxHead(int64_t in_features, int64_t num_classes, Generator& gen);  ///< drawn from gen
  using MarginHead::forward;
  Variable forward(const Variable& features) override;
  Variable forward(const Variable& features, const std::vector<int64_t>& labels) override;
  std::string type_name() const override { return "SoftmaxHead"; }

 private:
  Variable weight_, bias_;
};

/// Rows of x (N,D) scaled to unit L2 norm: x / sqrt(Σ_d x² + ε²). This equals
/// torch.nn.functional.normalize(x, eps=ε) = x / max(‖x‖, ε) whenever ‖x‖ ≫ ε, and it stays
/// smooth at x = 0 (value 0, finite gradient) where ‖x‖'s own gradient is undefined.
Variable l2_normalize(const Variable& x, float eps = 1e-12f);

/// torch.nn.Linear's default init, drawn from `gen`: weight (out,in) ~ U(−1/√in, 1/√in)
/// (kaiming_uniform with a = √5), bias (out) ~ U(−1/√in, 1/√in).
///@{
Tensor linear_weight_init(int64_t out_features, int64_t in_features, Generator& gen);
Tensor linear_bias_init(int64_t out_features, int64_t in_features, Generator& gen);
///@}
/// Glorot/Xavier uniform for a (out,in) matrix: U(±√(6/(in+out))) (Keras's default kernel init).
Tensor xavier_uniform_init(int64_t out_features, int64_t in_features, Generator& gen);

}  // namespace kz
