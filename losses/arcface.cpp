// arcface.cpp — ArcFace: the fused margin op (forward and backward side by side), its
// composed reference, and the head. Shapes: N samples, D features, C classes.
#include "losses/arcface.h"

#include <cmath>
#include <numbers>

#include "tensor/ops.h"

namespace kz {

namespace {

// The clamp applied to cos θ inside sin θ = √(1 − c²) (see arcface.h).
constexpr float kCosLow = -1.0f + 1e-7f;
constexpr float kCosHigh = 1.0f - 1e-7f;

// φ(c) and dφ/dc for one true-class cosine c. Constants in double, cast to float as
// PyTorch casts Python floats, so the fixture's float32 formula is matched.
struct Margin {
  float cos_m, sin_m, threshold, fallback;
  bool easy;

  explicit Margin(const ArcFaceParams& p)
      : cos_m(static_cast<float>(std::cos(static_cast<double>(p.m)))),
        sin_m(static_cast<float>(std::sin(static_cast<double>(p.m)))),
        threshold(static_cast<float>(std::cos(std::numbers::pi - p.m))),
        fallback(static_cast<float>(std::sin(std::numbers::pi - p.m) * p.m)),
        easy(p.easy_margin) {}

  bool margin_branch(float c) const { return easy ? c > 0.0f : c > threshold; }
  static float clamped(float c) { return std::fmin(std::fmax(c, kCosLow), kCosHigh); }
  static bool inside(float c) { return c >= kCosLow && c <= kCosHigh; }

  float phi(float c) const {
    if (!margin_branch(c)) return easy ? c : c - fallback;
    const float ct = clamped(c);
    const float sine = std::sqrt(1.0f - ct * ct);
    return c * cos_m - sine * sin_m;
  }
  float dphi(float c) const {
    if (!margin_branch(c)) return 1.0f;
    if (!inside(c)) return cos_m;
    const float sine = std::sqrt(1.0f - c * c);
    return cos_m + sin_m * c / sine;
  }
};

void check_margin_args(const Variable& cos, const std::vector<int64_t>& labels,
                       const ArcFaceParams& p, const char* op) {
  KZ_CHECK(cos.dim() == 2, op, "cos must be (N,C), got {}", shape_str(cos.shape()));
  KZ_CHECK(static_cast<int64_t>(labels.size()) == cos.size(0), op, "{} labels for cos {}",
           labels.size(), shape_str(cos.shape()));
  for (size_t i = 0; i < labels.size(); ++i)
    KZ_CHECK(labels[i] >= 0 && labels[i] < cos.size(1), op,
             "label {} at index {} is out of range for {} classes", labels[i], i, cos.size(1));
  KZ_CHECK(std::isfinite(p.s) && p.s > 0.0f, op, "s must be > 0, got {}", p.s);
  KZ_CHECK(p.m >= 0.0f && p.m < std::numbers::pi_v<float> / 2, op,
           "m must be in [0, pi/2), got {}", p.m);
}

// 1 at [i, labels[i]], 0 elsewhere: (N,C).
Tensor one_hot(const std::vector<int64_t>& labels, int64_t C) {
  Tensor t = Tensor::zeros({static_cast<int64_t>(labels.size()), C});
  for (size_t i = 0; i < labels.size(); ++i) t.data()[static_cast<int64_t>(i) * C + labels[i]] = 1;
  return t;
}

}  // namespace

// cos (N,C) -> logits (N,C).
Variable arcface_margin(const Variable& cos, const std::vector<int64_t>& labels,
                        const ArcFaceParams& p) {
  check_margin_args(cos, labels, p, "arcface_margin");
  const int64_t C = cos.size(1);
  const Margin margin(p);
  const float s = p.s;

  // Forward: s·cos everywhere, s·φ(cos) on the true class.
  Tensor logits = mul(cos.data(), s);  // fresh, contiguous
  std::vector<float> target_cos(labels.size());
  const Tensor c = cos.data().contiguous();
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t at = static_cast<int64_t>(i) * C + labels[i];
    target_cos[i] = c.data()[at];
    logits.data()[at] = s * margin.phi(target_cos[i]);
  }

  // Backward: dcos = s·dout, times dφ/dc on the true class. Saves N cosines and the labels.
  return make_result(logits, "arcface_margin", {cos},
                     [=](const Tensor& dout) {
                       Tensor dcos = mul(dout, s);  // fresh, contiguous
                       for (size_t i = 0; i < labels.size(); ++i) {
                         const int64_t at = static_cast<int64_t>(i) * C + labels[i];
                         dcos.data()[at] *= margin.dphi(target_cos[i]);
                       }
                       return std::vector<Tensor>{dcos};
                     });
}

// The same op from autograd primitives: cos (N,C) -> logits (N,C).
Variable arcface_margin_reference(const Variable& cos, const std::vector<int64_t>& labels,
                                  const ArcFaceParams& p) {
  check_margin_args(cos, labels, p, "arcface_margin_reference");
  const Margin margin(p);
  const Variable ct = clamp(cos, kCosLow, kCosHigh);
  const Variable sine = sqrt(add(neg(mul(ct, ct)), 1.0f));
  const Variable phi_margin = sub(mul(cos, margin.cos_m), mul(sine, margin.sin_m));
  const Variable phi_else = p.easy_margin ? cos : add(cos, -margin.fallback);
  const Tensor branch = unary_map(cos.data(), [&](float c) {
    return margin.margin_branch(c) ? 1.0f : 0.0f;
  });
  const Variable in_branch(branch), out_branch(add(neg(branch), 1.0f));
  const Variable phi = add(mul(phi_margin, in_branch), mul(phi_else, out_branch));
  const Tensor hot = one_hot(labels, cos.size(1));
  const Variable target(hot), other(add(neg(hot), 1.0f));
  return mul(add(mul(phi, target), mul(cos, other)), p.s);
}

ArcFaceHead::ArcFaceHead(int64_t in_features, int64_t num_classes, float s, float m,
                         bool easy_margin, Generator& gen)
    : MarginHead(in_features, num_classes), params_{s, m, easy_margin} {
  KZ_CHECK(std::isfinite(s) && s > 0.0f, "ArcFaceHead", "s must be > 0, got {}", s);
  KZ_CHECK(m >= 0.0f && m < std::numbers::pi_v<float> / 2, "ArcFaceHead",
           "m must be in [0, pi/2), got {}", m);
  weight_ = register_parameter("weight", xavier_uniform_init(num_classes, in_features, gen));
}

Variable ArcFaceHead::cosine(const Variable& features) {
  check_features(features, "ArcFaceHead");
  return linear(l2_normalize(features), l2_normalize(weight_), Variable());
}

Variable ArcFaceHead::forward(const Variable& features) {
  return mul(cosine(features), params_.s);
}

Variable ArcFaceHead::forward(const Variable& features, const std::vector<int64_t>& labels) {
  check_labels(features, labels, "ArcFaceHead");
  return arcface_margin(cosine(features), labels, params_);
}

}  // namespace kz
