// margin_head.cpp — MarginHead's shared checks and loss, SoftmaxHead, l2_normalize, inits.
// Shapes: N samples, D features, C classes.
#include "losses/margin_head.h"

#include <cmath>

namespace kz {

MarginHead::MarginHead(int64_t in_features, int64_t num_classes)
    : in_features_(in_features), num_classes_(num_classes) {
  KZ_CHECK(in_features > 0, "MarginHead", "in_features must be > 0, got {}", in_features);
  KZ_CHECK(num_classes > 0, "MarginHead", "num_classes must be > 0, got {}", num_classes);
}

Variable MarginHead::loss(const Variable& features, const std::vector<int64_t>& labels) {
  return cross_entropy(forward(features, labels), labels, label_smoothing_);
}

void MarginHead::set_label_smoothing(float eps) {
  KZ_CHECK(eps >= 0.0f && eps <= 1.0f, type_name(), "label_smoothing {} is outside [0, 1]",
           eps);
  label_smoothing_ = eps;
}

void MarginHead::check_features(const Variable& features, const char* op) const {
  KZ_CHECK(features.defined() && features.dim() == 2 && features.size(1) == in_features_, op,
           "features must be (N, {}), got {}", in_features_,
           features.defined() ? shape_str(features.shape()) : "undefined");
  KZ_CHECK(features.size(0) > 0, op, "empty batch {}", shape_str(features.shape()));
}

void MarginHead::check_labels(const Variable& features, const std::vector<int64_t>& labels,
                              const char* op) const {
  check_features(features, op);
  KZ_CHECK(static_cast<int64_t>(labels.size()) == features.size(0), op,
           "{} labels for features {}", labels.size(), shape_str(features.shape()));
  for (size_t i = 0; i < labels.size(); ++i)
    KZ_CHECK(labels[i] >= 0 && labels[i] < num_classes_, op,
             "label {} at index {} is out of range for {} classes", labels[i], i, num_classes_);
}

SoftmaxHead::SoftmaxHead(int64_t in_features, int64_t num_classes, Generator& gen)
    : MarginHead(in_features, num_classes) {
  weight_ = register_parameter("weight", linear_weight_init(num_classes, in_features, gen));
  bias_ = register_parameter("bias", linear_bias_init(num_classes, in_features, gen));
}

Variable SoftmaxHead::forward(const Variable& features) {
  check_features(features, "SoftmaxHead");
  return linear(features, weight_, bias_);
}

Variable SoftmaxHead::forward(const Variable& features, const std::vector<int64_t>& labels) {
  check_labels(features, labels, "SoftmaxHead");
  return linear(features, weight_, bias_);
}

// x (N,D) -> (N,D).
Variable l2_normalize(const Variable& x, float eps) {
  KZ_CHECK(x.dim() == 2, "l2_normalize", "x must be (N,D), got {}", shape_str(x.shape()));
  const Variable norm = sqrt(add(sum(mul(x, x), {1}, true), eps * eps));  // (N,1)
  return div(x, norm);
}

Tensor linear_weight_init(int64_t out_features, int64_t in_features, Generator& gen) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  return Tensor::uniform({out_features, in_features}, -bound, bound, gen);
}

Tensor linear_bias_init(int64_t out_features, int64_t in_features, Generator& gen) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  return Tensor::uniform({out_features}, -bound, bound, gen);
}

Tensor xavier_uniform_init(int64_t out_features, int64_t in_features, Generator& gen) {
  const float bound = std::sqrt(6.0f / static_cast<float>(in_features + out_features));
  return Tensor::uniform({out_features, in_features}, -bound, bound, gen);
}

}  // namespace kz
