// reconstruction.cpp — mse_loss, l1_loss, binary_cross_entropy_with_logits (formulas in
// reconstruction.h). Each is one element-wise kernel ℓ(x, y) with its two partial
// derivatives, forward and backward side by side, followed by the reduction (autograd
// sum/mean). Shapes: x and y any shape, the same; ℓ has it too.
#include "losses/reconstruction.h"

#include <algorithm>
#include <cmath>

namespace kz {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save

// t rearranged, if needed, into dense x's strides (x is contiguous or channels-last).
Tensor like(const Tensor& t, const Tensor& x) {
  if (t.strides() == x.strides()) return t;
  return x.is_contiguous() ? t.contiguous() : t.to_channels_last();
}

// ℓ = loss(x, y) element-wise, x and y any shape (the same) -> ℓ of that shape, in x's
// memory format when x is dense. Backward: dx = dℓ·dloss_dx(x, y), dy = dℓ·dloss_dy(x, y),
// each only when its input requires grad.
template <class L, class DX, class DY>
Variable pointwise_loss(const Variable& input, const Variable& target, const char* op,
                        Reduction reduction, L loss, DX dloss_dx, DY dloss_dy) {
  KZ_CHECK(input.defined() && target.defined(), op, "input and target must be defined");
  KZ_CHECK(input.shape() == target.shape(), op, "input {} and target {} differ in shape",
           shape_str(input.shape()), shape_str(target.shape()));
  const Tensor x = input.data().is_dense() ? input.data() : input.data().contiguous();
  const Tensor y = like(target.data(), x);
  const int64_t n = x.numel();

  Tensor l = Tensor::empty_like(x);
  {
    const float* xs = x.data();
    const float* ys = y.data();
    float* out = l.data();
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) out[i] = loss(xs[i], ys[i]);
  }

  const bool want_dx = input.requires_grad(), want_dy = target.requires_grad();
  const Variable per_element =
      !needs_grad({input, target})
          ? make_result(std::move(l), op, {input, target}, nullptr)
          : make_result(std::move(l), op, {input, target}, [=](const Tensor& dl) {
              const Tensor d = like(dl, x);
              const float* xs = x.data();
              const float* ys = y.data();
              const float* ds = d.data();
              Tensor dx = want_dx ? Tensor::empty_like(x) : Tensor();
              Tensor dy = want_dy ? Tensor::empty_like(x) : Tensor();
              float* dxs = want_dx ? dx.data() : nullptr;
              float* dys = want_dy ? dy.data() : nullptr;
#pragma omp parallel for if (n > kParallelMin)
              for (int64_t i = 0; i < n; ++i) {
                if (dxs) dxs[i] = ds[i] * dloss_dx(xs[i], ys[i]);
                if (dys) dys[i] = ds[i] * dloss_dy(xs[i], ys[i]);
              }
              return std::vector<Tensor>{dx, dy};
            });
  return reduce_loss(per_element, reduction, op);
}

inline float sign_of(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); }

// σ(v) without overflow for any v.
inline float sigmoid_of(float v) {
  if (v >= 0.0f) return 1.0f / (1.0f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.0f + e);
}

}  // namespace

Variable mse_loss(const Variable& input, const Variable& target, Reduction reduction) {
  return pointwise_loss(
      input, target, "mse_loss", reduction, [](float x, float y) { return (x - y) * (x - y); },
      [](float x, float y) { return 2.0f * (x - y); },
      [](float x, float y) { return 2.0f * (y - x); });
}

Variable l1_loss(const Variable& input, const Variable& target, Reduction reduction) {
  return pointwise_loss(
      input, target, "l1_loss", reduction, [](float x, float y) { return std::fabs(x - y); },
      [](float x, float y) { return sign_of(x - y); },
      [](float x, float y) { return sign_of(y - x); });
}

Variable binary_cross_entropy_with_logits(const Variable& logits, const Variable& target,
                                          Reduction reduction) {
  return pointwise_loss(
      logits, target, "binary_cross_entropy_with_logits", reduction,
      [](float x, float y) {
        return std::max(x, 0.0f) - x * y + std::log1p(std::exp(-std::fabs(x)));
      },
      [](float x, float y) { return sigmoid_of(x) - y; }, [](float x, float) { return -x; });
}

}  // namespace kz
