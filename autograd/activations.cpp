// activations.cpp — relu, relu6, sigmoid, tanh, leaky_relu, softplus, forward and backward
// side by side.
//
// x is any shape. The output keeps x's memory format when x is dense (contiguous NCHW or
// channels-last), so a channels-last network stays channels-last; other strides are made
// contiguous first. Gradients follow PyTorch: relu passes dout where x > 0, relu6 where
// 0 < x < 6 (zero at the kinks themselves).
//   sigmoid:    y = 1/(1 + e^−x), computed as e^x/(1 + e^x) for x < 0 (no overflow);
//               dx = dy·y·(1 − y), from the saved output.
//   tanh:       y = tanh x; dx = dy·(1 − y²), from the saved output.
//   leaky_relu: y = x for x > 0, else s·x; dx = dy for x > 0, else s·dy (s at x = 0, as
//               PyTorch).
//   softplus:   y = x where β·x > threshold (PyTorch's linear region), else
//               log(1 + e^(βx))/β = (max(βx, 0) + log1p(e^−|βx|))/β (no overflow for any
//               threshold); dx = dy where β·x > threshold, else dy·σ(βx).
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save

// x itself when its elements fill its storage span densely in NCHW or channels-last order.
Tensor dense(const Tensor& x) { return x.is_dense() ? x : x.contiguous(); }

// t (x's shape) rearranged, if needed, so that it has dense x's strides.
Tensor like_dense(const Tensor& t, const Tensor& x) {
  if (t.strides() == x.strides()) return t;
  return x.is_contiguous() ? t.contiguous() : t.to_channels_last();
}

// dx = dout where pass(x), else 0; dx in x's layout.
template <class Pass>
Tensor masked_grad(const Tensor& dout, const Tensor& x, Pass pass) {
  const Tensor d = like_dense(dout, x);
  Tensor dx = Tensor::empty_like(x);
  const float* xs = x.data();
  const float* ds = d.data();
  float* out = dx.data();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = pass(xs[i]) ? ds[i] : 0.0f;
  return dx;
}

// y = f(x) element-wise over dense x, in x's layout.
template <class F>
Tensor map_dense(const Tensor& x, F f) {
  Tensor y = Tensor::empty_like(x);
  const float* xs = x.data();
  float* out = y.data();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = f(xs[i]);
  return y;
}

// dx = dout·g(s), s the saved x or y (dense, x's layout); dx in s's layout.
template <class G>
Tensor scaled_grad(const Tensor& dout, const Tensor& s, G g) {
  const Tensor d = like_dense(dout, s);
  Tensor dx = Tensor::empty_like(s);
  const float* ss = s.data();
  const float* ds = d.data();
  float* out = dx.data();
  const int64_t n = s.numel();
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = ds[i] * g(ss[i]);
  return dx;
}

// σ(v) without overflow for any v.
inline float sigmoid_of(float v) {
  if (v >= 0.0f) return 1.0f / (1.0f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.0f + e);
}

}  // namespace

Variable relu(const Variable& x) {
  const Tensor xd = dense(x.data());
  Tensor y = clamp(xd, 0.0f, std::numeric_limits<float>::infinity());  // x's layout
  if (!needs_grad({x})) return make_result(std::move(y), "relu", {x}, nullptr);
  return make_result(std::move(y), "relu", {x}, [xd](const Tensor& dout) {
    return std::vector<Tensor>{masked_grad(dout, xd, [](float v) { return v > 0.0f; })};
  });
}

Variable relu6(const Variable& x) {
  const Tensor xd = dense(x.data());
  Tensor y = clamp(xd, 0.0f, 6.0f);
  if (!needs_grad({x})) return make_result(std::move(y), "relu6", {x}, nullptr);
  return make_result(std::move(y), "relu6", {x}, [xd](const Tensor& dout) {
    return std::vector<Tensor>{
        masked_grad(dout, xd, [](float v) { return v > 0.0f && v < 6.0f; })};
  });
}

// x any shape -> y of x's shape.
Variable sigmoid(const Variable& x) {
  Tensor y = map_dense(dense(x.data()), sigmoid_of);
  if (!needs_grad({x})) return make_result(std::move(y), "sigmoid", {x}, nullptr);
  const Tensor ys = y;  // saved output (shares storage with the result)
  return make_result(std::move(y), "sigmoid", {x}, [ys](const Tensor& dout) {
    return std::vector<Tensor>{scaled_grad(dout, ys, [](float v) { return v * (1.0f - v); })};
  });
}

// x any shape -> y of x's shape.
Variable tanh(const Variable& x) {
  Tensor y = map_dense(dense(x.data()), [](float v) { return std::tanh(v); });
  if (!needs_grad({x})) return make_result(std::move(y), "tanh", {x}, nullptr);
  const Tensor ys = y;
  return make_result(std::move(y), "tanh", {x}, [ys](const Tensor& dout) {
    return std::vector<Tensor>{scaled_grad(dout, ys, [](float v) { return 1.0f - v * v; })};
  });
}

// x any shape -> y of x's shape.
Variable leaky_relu(const Variable& x, float negative_slope) {
  const float s = negative_slope;
  const Tensor xd = dense(x.data());
  Tensor y = map_dense(xd, [s](float v) { return v > 0.0f ? v : v * s; });
  if (!needs_grad({x})) return make_result(std::move(y), "leaky_relu", {x}, nullptr);
  return make_result(std::move(y), "leaky_relu", {x}, [xd, s](const Tensor& dout) {
    return std::vector<Tensor>{
        scaled_grad(dout, xd, [s](float v) { return v > 0.0f ? 1.0f : s; })};
  });
}

// x any shape -> y of x's shape.
Variable softplus(const Variable& x, float beta, float threshold) {
  KZ_CHECK(std::isfinite(beta) && beta != 0.0f, "softplus",
           "beta must be finite and nonzero, got {}", beta);
  const Tensor xd = dense(x.data());
  Tensor y = map_dense(xd, [beta, threshold](float v) {
    const float bx = beta * v;
    if (bx > threshold) return v;
    return (std::max(bx, 0.0f) + std::log1p(std::exp(-std::fabs(bx)))) / beta;
  });
  if (!needs_grad({x})) return make_result(std::move(y), "softplus", {x}, nullptr);
  return make_result(std::move(y), "softplus", {x}, [xd, beta, threshold](const Tensor& dout) {
    return std::vector<Tensor>{scaled_grad(dout, xd, [beta, threshold](float v) {
      const float bx = beta * v;
      return bx > threshold ? 1.0f : sigmoid_of(bx);
    })};
  });
}

}  // namespace kz
