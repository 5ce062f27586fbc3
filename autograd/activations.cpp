// activations.cpp — relu and relu6, forward and backward side by side.
//
// x is any shape. The output keeps x's memory format when x is dense (contiguous NCHW or
// channels-last), so a channels-last network stays channels-last; other strides are made
// contiguous first. Gradients follow PyTorch: relu passes dout where x > 0, relu6 where
// 0 < x < 6 (zero at the kinks themselves).
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

}  // namespace kz
