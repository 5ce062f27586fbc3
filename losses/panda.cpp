// panda.cpp — PANDA's compactness about a fixed centre and the weight pull (see panda.h),
// composed of autograd ops (their gradients come from the ops' own backwards).
#include "losses/panda.h"

#include <cmath>

namespace kz {

// features (N,F), center (F) -> scalar.
Variable panda_compactness_loss(const Variable& features, const Tensor& center) {
  KZ_CHECK(features.defined() && features.dim() == 2 && features.size(0) > 0, "panda_compactness_loss",
           "features must be (N,F) with N > 0, got {}",
           features.defined() ? shape_str(features.shape()) : "undefined");
  KZ_CHECK(center.defined() && center.dim() == 1 && center.size(0) == features.size(1),
           "panda_compactness_loss", "center must be ({}), got {}", features.size(1),
           center.defined() ? shape_str(center.shape()) : "undefined");
  const Variable d = sub(features, Variable(center.reshape({1, center.size(0)})));
  return mul(sum(mul(d, d)), 1.0f / static_cast<float>(features.size(0)));
}

Variable weight_pull_loss(const std::vector<Variable>& params, const std::vector<Tensor>& anchors,
                          const std::vector<Tensor>& fisher, float lambda) {
  KZ_CHECK(std::isfinite(lambda) && lambda >= 0.0f, "weight_pull_loss",
           "lambda must be >= 0, got {}", lambda);
  KZ_CHECK(!params.empty(), "weight_pull_loss", "no parameters");
  KZ_CHECK(anchors.size() == params.size(), "weight_pull_loss", "{} parameters but {} anchors",
           params.size(), anchors.size());
  KZ_CHECK(fisher.empty() || fisher.size() == params.size(), "weight_pull_loss",
           "{} parameters but {} Fisher tensors (give one per parameter, or none for L2-SP)",
           params.size(), fisher.size());
  Variable total;
  for (size_t p = 0; p < params.size(); ++p) {
    KZ_CHECK(anchors[p].shape() == params[p].shape(), "weight_pull_loss",
             "parameter {} is {} but its anchor is {}", p, shape_str(params[p].shape()),
             shape_str(anchors[p].shape()));
    KZ_CHECK(fisher.empty() || fisher[p].shape() == params[p].shape(), "weight_pull_loss",
             "parameter {} is {} but its Fisher tensor is {}", p, shape_str(params[p].shape()),
             shape_str(fisher[p].shape()));
    const Variable d = sub(params[p], Variable(anchors[p]));
    Variable sq = mul(d, d);
    if (!fisher.empty()) sq = mul(sq, Variable(fisher[p]));
    const Variable s = sum(sq);
    total = total.defined() ? add(total, s) : s;
  }
  return mul(total, 0.5f * lambda);
}

}  // namespace kz
