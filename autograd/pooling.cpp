// pooling.cpp — global_avg_pool2d, max_pool2d and dropout, forward and backward side by side.
//
// global_avg_pool2d: x is (N,C,H,W), contiguous or channels-last (other strides are made
// contiguous); y is (N,C) with y[n,c] = mean over h,w of x[n,c,h,w]; dx[n,c,h,w] =
// dy[n,c]/(H·W), in x's memory format.
// max_pool2d: x is (N,C,H,W); y (N,C,OH,OW) is the maximum of each window (kernels in
// tensor/pool2d.h); the forward keeps which tap won (1 byte per output), the backward sends
// dy there: dx[argmax] += dy, in x's memory format.
// dropout: x is any shape; mask m = 0 with probability p, else 1/(1−p), drawn in x's
// logical (row-major) order from `gen`; y = x·m, dx = dy·m. The identity in eval or p = 0.
#include "autograd/functions.h"

namespace kz {

// (N,C,H,W) -> (N,C)
Variable global_avg_pool2d(const Variable& x) {
  KZ_CHECK(x.dim() == 4, "global_avg_pool2d", "expected (N, C, H, W), got {}",
           shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  KZ_CHECK(hw > 0, "global_avg_pool2d", "empty spatial size in {}", shape_str(x.shape()));
  const bool nhwc = !x.data().is_contiguous() && x.data().is_channels_last();
  const Tensor xd = nhwc ? x.data() : x.data().contiguous();
  const float scale = 1.0f / static_cast<float>(hw);

  Tensor y = Tensor::zeros({n, c});
  const float* in = xd.data();
  float* out = y.data();
#pragma omp parallel for if (n * c * hw > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    float* yi = out + i * c;
    if (nhwc) {  // rows of C values, one per pixel
      for (int64_t p = 0; p < hw; ++p) {
        const float* row = in + (i * hw + p) * c;
        for (int64_t j = 0; j < c; ++j) yi[j] += row[j];
      }
      for (int64_t j = 0; j < c; ++j) yi[j] *= scale;
    } else {  // one plane of H·W values per channel
      for (int64_t j = 0; j < c; ++j) {
        const float* plane = in + (i * c + j) * hw;
        float s = 0.0f;
        for (int64_t p = 0; p < hw; ++p) s += plane[p];
        yi[j] = s * scale;
      }
    }
  }
  const Shape x_shape = x.shape();
  return make_result(std::move(y), "global_avg_pool2d", {x}, [x_shape, nhwc, scale, n, c, hw](
                                                                 const Tensor& dout) {
    const Tensor d = dout.contiguous();
    Tensor dx = nhwc ? Tensor::empty_channels_last(x_shape) : Tensor::empty(x_shape);
    const float* ds = d.data();
    float* out = dx.data();
#pragma omp parallel for if (n * c * hw > (1 << 15))
    for (int64_t i = 0; i < n; ++i) {
      const float* di = ds + i * c;
      if (nhwc) {
        for (int64_t p = 0; p < hw; ++p)
          for (int64_t j = 0; j < c; ++j) out[(i * hw + p) * c + j] = di[j] * scale;
      } else {
        for (int64_t j = 0; j < c; ++j)
          for (int64_t p = 0; p < hw; ++p) out[(i * c + j) * hw + p] = di[j] * scale;
      }
    }
    return std::vector<Tensor>{dx};
  });
}

Variable max_pool2d(const Variable& x, const MaxPool2dParams& p) {
  KZ_CHECK(x.defined(), "max_pool2d", "x must be defined");
  if (!needs_grad({x}))
    return make_result(max_pool2d_forward(x.data(), p, nullptr), "max_pool2d", {x}, nullptr);
  MaxPool2dIndices indices;
  Tensor y = max_pool2d_forward(x.data(), p, &indices);
  return make_result(std::move(y), "max_pool2d", {x}, [indices, p](const Tensor& dout) {
    return std::vector<Tensor>{max_pool2d_backward(dout, indices, p)};
  });
}

Variable dropout(const Variable& x, float p, bool training, Generator& gen) {
  KZ_CHECK(p >= 0.0f && p <= 1.0f, "dropout", "p must be in [0, 1], got {}", p);
  if (!training || p == 0.0f) return x;
  const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  Tensor mask = Tensor::empty(x.shape());
  float* m = mask.data();
  for (int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() < p ? 0.0f : keep_scale;

  const Tensor xd = x.data().contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* in = xd.data();
  float* out = y.data();
  for (int64_t i = 0; i < y.numel(); ++i) out[i] = in[i] * m[i];
  if (!needs_grad({x})) return make_result(std::move(y), "dropout", {x}, nullptr);
  return make_result(std::move(y), "dropout", {x}, [mask](const Tensor& dout) {
    const Tensor d = dout.contiguous();
    Tensor dx = Tensor::empty(mask.shape());
    for (int64_t i = 0; i < dx.numel(); ++i) dx.data()[i] = d.data()[i] * mask.data()[i];
    return std::vector<Tensor>{dx};
  });
}

}  // namespace kz
