// adacos.cpp — AdaCos: the fixed and dynamic scales and the head (see adacos.h).
// Shapes: N samples, D features, C classes.
#include "losses/adacos.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/ops.h"

namespace kz {

float adacos_fixed_scale(int64_t classes) {
  KZ_CHECK(classes >= 3, "AdaCos",
           "needs at least 3 classes: its scale sqrt(2)*ln(C-1) is {} for C = {} (add "
           "reference classes)",
           classes == 2 ? "0" : "undefined", classes);
  return static_cast<float>(std::numbers::sqrt2 * std::log(static_cast<double>(classes - 1)));
}

// cos (N,C), N labels -> the next scale. float32 arithmetic, as the PyTorch reference.
float adacos_dynamic_scale(const Tensor& cos, const std::vector<int64_t>& labels, float s_old) {
  KZ_CHECK(cos.dim() == 2 && static_cast<int64_t>(labels.size()) == cos.size(0) &&
               cos.size(0) > 0,
           "AdaCos", "cos must be (N,C) with N = {} labels, got {}", labels.size(),
           shape_str(cos.shape()));
  const int64_t N = cos.size(0), C = cos.size(1);
  const Tensor c = cos.contiguous();
  const float* p = c.data();
  float b_sum = 0.0f;                  // Σ_i Σ_{k≠y_i} exp(s_old·cos_ik)
  std::vector<float> target_angles;  // θ_{i,y_i}
  for (int64_t i = 0; i < N; ++i) {
    const int64_t y = labels[static_cast<size_t>(i)];
    KZ_CHECK(y >= 0 && y < C, "AdaCos", "label {} at index {} is out of range for {} classes",
             y, i, C);
    for (int64_t k = 0; k < C; ++k)
      if (k != y) b_sum += std::exp(s_old * p[i * C + k]);
    target_angles.push_back(std::acos(std::clamp(p[i * C + y], -1.0f + 1e-7f, 1.0f - 1e-7f)));
  }
  const float b_avg = b_sum / static_cast<float>(N);
  const auto middle = target_angles.begin() + (N - 1) / 2;  // the lower median
  std::nth_element(target_angles.begin(), middle, target_angles.end());
  const float theta_med = std::min(std::numbers::pi_v<float> / 4, *middle);
  return std::log(b_avg) / std::cos(theta_med);
}

AdaCosHead::AdaCosHead(int64_t in_features, int64_t num_classes, bool dynamic, Generator& gen)
    : MarginHead(in_features, num_classes), dynamic_(dynamic) {
  const float s0 = adacos_fixed_scale(num_classes);
  weight_ = register_parameter("weight", xavier_uniform_init(num_classes, in_features, gen));
  scale_ = &register_buffer("scale", Tensor::full({1}, s0));
}

float AdaCosHead::scale() const { return scale_->contiguous().data()[0]; }

Variable AdaCosHead::cosine(const Variable& features) {
  check_features(features, "AdaCosHead");
  return linear(l2_normalize(features), l2_normalize(weight_), Variable());
}

Variable AdaCosHead::forward(const Variable& features) { return mul(cosine(features), scale()); }

Variable AdaCosHead::forward(const Variable& features, const std::vector<int64_t>& labels) {
  check_labels(features, labels, "AdaCosHead");
  const Variable cos = cosine(features);
  if (dynamic_ && is_training())
    *scale_ = Tensor::full({1}, adacos_dynamic_scale(cos.data(), labels, scale()));
  return mul(cos, scale());
}

}  // namespace kz
