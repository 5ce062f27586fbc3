// clip_grad.cpp — total-norm gradient clipping (see clip_grad.h).
#include "optim/clip_grad.h"

#include <cmath>

namespace kz {

double clip_grad_norm(const std::vector<Variable>& params, double max_norm) {
  KZ_CHECK(std::isfinite(max_norm) && max_norm > 0.0, "clip_grad_norm",
           "max_norm must be > 0, got {}", max_norm);
  double sq = 0.0;
  for (const Variable& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    KZ_CHECK(g.is_dense(), "clip_grad_norm", "gradient {} is not dense",
             shape_str(g.shape()));
    const float* d = g.data();
    for (int64_t i = 0, n = g.numel(); i < n; ++i) sq += static_cast<double>(d[i]) * d[i];
  }
  const double total = std::sqrt(sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (const Variable& p : params) {
      Tensor g = p.grad();  // shares the gradient's storage
      if (!g.defined()) continue;
      float* d = g.data();
      for (int64_t i = 0, n = g.numel(); i < n; ++i) d[i] = static_cast<float>(d[i] * coef);
    }
  return total;
}

}  // namespace kz
