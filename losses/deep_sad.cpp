// deep_sad.cpp — the Deep SAD loss composed of autograd ops (its gradient comes from theirs),
// and its centre (see deep_sad.h). Shapes: N samples, D outputs.
#include "losses/deep_sad.h"

#include <cmath>

#include "tensor/ops.h"

namespace kz {

// z (N,D), c (D) -> scalar.
Variable deep_sad_loss(const Variable& z, const Tensor& c, const std::vector<bool>& known,
                       float eta, float eps) {
  KZ_CHECK(z.defined() && z.dim() == 2 && z.size(0) > 0, "deep_sad_loss",
           "z must be (N,D) with N >= 1, got {}", z.defined() ? shape_str(z.shape()) : "undefined");
  KZ_CHECK(c.dim() == 1 && c.size(0) == z.size(1), "deep_sad_loss",
           "the centre must be ({}) for z {}, got {}", z.size(1), shape_str(z.shape()),
           shape_str(c.shape()));
  KZ_CHECK(static_cast<int64_t>(known.size()) == z.size(0), "deep_sad_loss",
           "{} labels for z {}", known.size(), shape_str(z.shape()));
  KZ_CHECK(std::isfinite(eta) && eta > 0.0f && std::isfinite(eps) && eps > 0.0f, "deep_sad_loss",
           "eta and eps must be > 0, got {} and {}", eta, eps);
  const int64_t N = z.size(0);
  const Variable diff = sub(z, Variable(c.reshape({1, c.size(0)})));
  const Variable d = sum(mul(diff, diff), {1});  // (N)
  std::vector<float> is_known(static_cast<size_t>(N)), is_unlabelled(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    is_known[static_cast<size_t>(i)] = known[static_cast<size_t>(i)] ? 1.0f : 0.0f;
    is_unlabelled[static_cast<size_t>(i)] = 1.0f - is_known[static_cast<size_t>(i)];
  }
  const Variable pulled = mul(d, Variable(Tensor::from_vector(is_unlabelled, {N})));
  const Variable pushed =
      mul(mul(pow(add(d, eps), -1.0f), eta), Variable(Tensor::from_vector(is_known, {N})));
  return mean(add(pulled, pushed));
}

// outputs (N,D) -> (D).
Tensor deep_sad_centre(const Tensor& outputs, float min_abs) {
  KZ_CHECK(outputs.dim() == 2 && outputs.size(0) > 0, "deep_sad_centre",
           "outputs must be (N,D) with N >= 1, got {}", shape_str(outputs.shape()));
  Tensor c = mean(outputs, {0}).contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) {
    float& v = c.data()[i];
    if (v != 0.0f && std::fabs(v) < min_abs) v = v < 0.0f ? -min_abs : min_abs;
  }
  return c;
}

}  // namespace kz
