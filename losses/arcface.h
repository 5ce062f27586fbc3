/// \file
/// arcface.h — the ArcFace head (Deng et al.\ 2019, additive angular margin).
///
/// Shapes: N samples, D feature dimension, C classes.
/// \code{.unparsed}
///   cos θ_ij = x̂_i · Ŵ_j       x̂ = x/‖x‖ per sample, Ŵ_j = W_j/‖W_j‖ per class; weight is
///                              (C,D) as torch.nn.Linear, so DESIGN's class column W_j is row j
///   φ(c) = cos(θ + m) = c·cos m − sin θ·sin m        where c > cos(π − m)
///        = c − sin(π − m)·m                           otherwise (keeps φ decreasing in θ)
///   easy_margin: φ(c) = cos(θ + m) where c > 0, else c.
///   logits_ij = s·φ(cos θ_ij) for j = label_i, s·cos θ_ij otherwise -> softmax cross-entropy.
/// \endcode
/// Seed: s = 30, m = 0.05 (paper: s = 64, m = 0.5). Weight init: Xavier uniform.
///
/// Numerical safety near cos θ = ±1. sin θ = √(1 − c²) has an infinite derivative at c = ±1,
/// and c can even leave [−1, 1] by rounding. kizuki evaluates sin θ at
/// \code{.unparsed}
///   c̃ = clamp(c, −1 + 1e-7, 1 − 1e-7)   (in float32: ±(1 − 2⁻²³))
/// \endcode
/// and differentiates c̃ as torch.clamp does (1 inside the closed interval, 0 outside). So
/// \code{.unparsed}
///   dφ/dc = cos m + sin m · c̃/√(1 − c̃²)   for c inside,   cos m   for c outside,
/// \endcode
/// always finite (at most cos m + sin m·2048). Only sin θ is clamped: the c·cos m term and
/// the fallback branch use c as it is, so a sample at c = ±1 still gets a gradient.
#pragma once

#include "losses/margin_head.h"

namespace kz {

/// ArcFace's scale and margin.
struct ArcFaceParams {
  float s = 30.0f;       ///< scale (the radius of the hypersphere the logits live on)
  float m = 0.05f;       ///< additive angular margin, radians, in [0, π/2)
  bool easy_margin = false;  ///< φ(c) = cos(θ + m) where c > 0, else c (see above)
};

/// The fused margin op: cos (N,C), labels N ints in [0,C) -> logits (N,C) as above.
/// Its backward touches only the N target entries beyond the s·dout of the rest.
Variable arcface_margin(const Variable& cos, const std::vector<int64_t>& labels,
                        const ArcFaceParams& p);
/// The same function composed of autograd ops (clamp, sqrt, masks): the test reference of
/// the fused op. Computes φ for all N·C entries; slower, same values and gradients.
Variable arcface_margin_reference(const Variable& cos, const std::vector<int64_t>& labels,
                                  const ArcFaceParams& p);

/// The ArcFace classification head: weight (C,D), Xavier uniform.
class ArcFaceHead : public MarginHead {
 public:
  /// D = in_features, C = num_classes; s, m, easy_margin as ArcFaceParams.
  ArcFaceHead(int64_t in_features, int64_t num_classes, float s, float m, bool easy_margin,
              Generator& gen);
  using MarginHead::forward;
  /// s·cos θ (N,C): no margin (inference).
  Variable forward(const Variable& features) override;
  /// Training logits with the margin on each sample's label.
  Variable forward(const Variable& features, const std::vector<int64_t>& labels) override;
  /// cos θ (N,C) between normalised features and normalised class weights.
  Variable cosine(const Variable& features);
  const ArcFaceParams& params() const { return params_; }  ///< s, m, easy_margin
  std::string type_name() const override { return "ArcFaceHead"; }

 private:
  ArcFaceParams params_;
  Variable weight_;
};

}  // namespace kz
