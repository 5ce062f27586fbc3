// diagnostics.cpp — feature-collapse diagnostics (see diagnostics.h). Shapes: n, F as there.
#include "anomaly/diagnostics.h"

#include <cmath>
#include <vector>

#include "tensor/ops.h"

namespace kz {

FeatureDiagnostics feature_diagnostics(const Tensor& features) {
  KZ_CHECK(features.defined() && features.dim() == 2 && features.size(0) >= 2, "diagnostics",
           "features must be (n,F) with n >= 2, got {}",
           features.defined() ? shape_str(features.shape()) : "undefined");
  const int64_t n = features.size(0);
  const Tensor x = features.contiguous();
  const Tensor centred = sub(x, mean(x, {0}, true)).contiguous();   // (n,F)
  const Tensor gram = matmul(centred, centred.transpose(0, 1)).contiguous();  // (n,n)
  const float* g = gram.data();
  double trace = 0.0, frob = 0.0;
  std::vector<double> inv_norm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double d = g[i * n + i];
    trace += d;
    inv_norm[static_cast<size_t>(i)] = d > 0.0 ? 1.0 / std::sqrt(d) : 0.0;
  }
  double cos_sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double v = g[i * n + j];
      frob += v * v;
      if (i != j) cos_sum += v * inv_norm[static_cast<size_t>(i)] * inv_norm[static_cast<size_t>(j)];
    }
  FeatureDiagnostics d;
  d.mean_cosine = cos_sum / (static_cast<double>(n) * static_cast<double>(n - 1));
  d.effective_rank = frob > 0.0 ? trace * trace / frob : 0.0;
  return d;
}

}  // namespace kz
