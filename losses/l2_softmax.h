/// \file
/// l2_softmax.h — the L2-Softmax head (Ranjan, Castillo & Chellappa 2017).
///
/// Shapes: N samples, D feature dimension, C classes.
/// Each feature is L2-normalised and scaled by α, f̂ = α·f/‖f‖, then a Linear layer
/// (weight (C,D), bias (C), torch.nn.Linear's init) gives the logits; the loss is softmax
/// cross-entropy. The paper's lower bound for α is log(p·(C−2)/(1−p)) (≈ 4.1 for C = 9,
/// p = 0.9); the seed used α = 15. Labels do not change the logits (no margin).
#pragma once

#include "losses/margin_head.h"

namespace kz {

/// The L2-Softmax classification head (see the file's description).
class L2SoftmaxHead : public MarginHead {
 public:
  /// D = in_features, C = num_classes; the Linear layer drawn from gen.
  L2SoftmaxHead(int64_t in_features, int64_t num_classes, float alpha, Generator& gen);
  using MarginHead::forward;
  Variable forward(const Variable& features) override;  ///< (N,D) -> (N,C)
  Variable forward(const Variable& features, const std::vector<int64_t>& labels) override;
  float alpha() const { return alpha_; }  ///< the feature scale α
  std::string type_name() const override { return "L2SoftmaxHead"; }

 private:
  float alpha_;
  Variable weight_, bias_;
};

}  // namespace kz
