/// \file
/// adacos.h — the AdaCos head (Zhang et al.\ 2019, "AdaCos: Adaptively Scaling Cosine Logits
/// for Effectively Learning Deep Face Representations"): cosine logits with no margin and a
/// scale chosen by a rule instead of by hand.
///
/// Shapes: N samples, D feature dimension, C classes.
/// \code{.unparsed}
///   cos θ_ij = x̂_i · Ŵ_j                  as ArcFace (arcface.h): weight (C,D), rows normalised
///   logits_ij = s · cos θ_ij               for every class, the true one included (no margin)
///   fixed:    s = √2 · ln(C − 1)           (the paper's eq. 12; C = 2 gives s = 0: refused)
///   dynamic:  before each training step, without gradient, from that batch's cosines and the
///             scale of the step before (s₀ the fixed scale):
///             B_avg = (1/N) Σ_i Σ_{k ≠ y_i} exp(s_old · cos θ_ik)
///             θ_med = the median of θ_{i,y_i} = arccos(clamp(cos θ_{i,y_i}, ±(1 − 1e-7)))
///                     (the lower middle value for even N, as torch.median)
///             s     = ln(B_avg) / cos(min(π/4, θ_med))      (the paper's eq. 15)
/// \endcode
/// The scale is a buffer ("scale") of the head, saved with its weight. It moves only in a
/// training-mode forward with labels; eval mode and forward(features) use it as it is.
/// Weight init: Xavier uniform, as ArcFace.
#pragma once

#include "losses/margin_head.h"

namespace kz {

/// The fixed AdaCos scale √2·ln(C − 1) for C classes; throws for C < 3 (the scale would be
/// 0 or undefined).
float adacos_fixed_scale(int64_t classes);

/// The dynamic AdaCos scale for the next step (see the file's description): cos (N,C) of
/// this batch, its labels, and the scale `s_old` of the step before. No gradient.
float adacos_dynamic_scale(const Tensor& cos, const std::vector<int64_t>& labels, float s_old);

/// The AdaCos classification head: weight (C,D), Xavier uniform; buffer "scale" (1).
class AdaCosHead : public MarginHead {
 public:
  /// D = in_features, C = num_classes ≥ 3; `dynamic`: the scale adapts every training step.
  AdaCosHead(int64_t in_features, int64_t num_classes, bool dynamic, Generator& gen);
  using MarginHead::forward;
  /// s·cos θ (N,C) with the current scale.
  Variable forward(const Variable& features) override;
  /// s·cos θ (N,C); in training mode a dynamic head first moves s by this batch.
  Variable forward(const Variable& features, const std::vector<int64_t>& labels) override;
  /// cos θ (N,C) between normalised features and normalised class weights.
  Variable cosine(const Variable& features);
  float scale() const;                    ///< the current s
  bool dynamic() const { return dynamic_; }  ///< whether s adapts
  std::string type_name() const override { return "AdaCosHead"; }

 private:
  bool dynamic_;
  Variable weight_;
  Tensor* scale_;  // the "scale" buffer, owned by Module
};

}  // namespace kz
