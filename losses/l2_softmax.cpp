// l2_softmax.cpp — L2SoftmaxHead: logits = Linear(α·f/‖f‖). Shapes: N, D, C as in the header.
#include "losses/l2_softmax.h"

#include <cmath>

namespace kz {

L2SoftmaxHead::L2SoftmaxHead(int64_t in_features, int64_t num_classes, float alpha,
                             Generator& gen)
    : MarginHead(in_features, num_classes), alpha_(alpha) {
  KZ_CHECK(std::isfinite(alpha) && alpha > 0.0f, "L2SoftmaxHead", "alpha must be > 0, got {}",
           alpha);
  weight_ = register_parameter("weight", linear_weight_init(num_classes, in_features, gen));
  bias_ = register_parameter("bias", linear_bias_init(num_classes, in_features, gen));
}

Variable L2SoftmaxHead::forward(const Variable& features) {
  check_features(features, "L2SoftmaxHead");
  return linear(mul(l2_normalize(features), alpha_), weight_, bias_);
}

Variable L2SoftmaxHead::forward(const Variable& features, const std::vector<int64_t>& labels) {
  check_labels(features, labels, "L2SoftmaxHead");
  return forward(features);
}

}  // namespace kz
