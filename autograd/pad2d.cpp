// pad2d.cpp — pad2d_symmetric: mirror padding of images, forward and backward side by side.
//
// x is (N,C,H,W), any strides; y is (N,C,H+top+bottom,W+left+right), channels-last when x is
// channels-last, else contiguous NCHW. The border mirrors the image *including* its edge
// pixel (half-sample symmetric):  d c b a | a b c d | d c b a.  This is numpy's
// 'symmetric' and scipy.ndimage's 'reflect' (what scikit-image filters with); it is NOT
// PyTorch's F.pad 'reflect', which skips the edge pixel (d c b | a b c d). Pads wider than
// the image keep mirroring (the extension is periodic with period 2H), as numpy and scipy.
//   y[n,c,i,j] = x[n,c,src(i−top, H),src(j−left, W)],  src(s, H) = m < H ? m : 2H−1−m,
//   m = s mod 2H (in [0, 2H))
//   dx[n,c,h,w] = Σ dy[n,c,i,j] over the (i,j) whose source is (h,w)
#include <vector>

#include "autograd/functions.h"

namespace kz {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save

// For each of `out` padded positions, the source index in [0, n).
std::vector<int64_t> source_indices(int64_t n, int64_t before, int64_t out) {
  std::vector<int64_t> src(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    int64_t m = (i - before) % (2 * n);
    if (m < 0) m += 2 * n;
    src[static_cast<size_t>(i)] = m < n ? m : 2 * n - 1 - m;
  }
  return src;
}

bool nhwc_of(const Tensor& x) { return x.is_channels_last() && !x.is_contiguous(); }

// Calls f(n, c, i, j, h, w) for every padded position (i,j) of every image and channel with
// its source (h,w), in an order that walks `out` (OH,OW) in memory order; parallel over n,
// so every call for one image comes from one thread (the backward's scatter is race-free).
template <class F>
void for_each_position(const Shape& out, bool nhwc, const std::vector<int64_t>& rows,
                       const std::vector<int64_t>& cols, F f) {
  const int64_t n = out[0], c = out[1], oh = out[2], ow = out[3];
#pragma omp parallel for if (numel_of(out) > kParallelMin)
  for (int64_t b = 0; b < n; ++b) {
    if (nhwc) {
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j)
          for (int64_t k = 0; k < c; ++k)
            f(b, k, i, j, rows[static_cast<size_t>(i)], cols[static_cast<size_t>(j)]);
    } else {
      for (int64_t k = 0; k < c; ++k)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j)
            f(b, k, i, j, rows[static_cast<size_t>(i)], cols[static_cast<size_t>(j)]);
    }
  }
}

// x (N,C,H,W) -> y (N,C,OH,OW).
Tensor pad2d_symmetric_forward(const Tensor& x, const std::vector<int64_t>& rows,
                               const std::vector<int64_t>& cols) {
  const bool nhwc = nhwc_of(x);
  const Shape shape = {x.size(0), x.size(1), static_cast<int64_t>(rows.size()),
                       static_cast<int64_t>(cols.size())};
  Tensor y = nhwc ? Tensor::empty_channels_last(shape) : Tensor::empty(shape);
  const Shape& xs = x.strides();
  const Shape& ys = y.strides();
  const float* in = x.data();
  float* out = y.data();
  for_each_position(shape, nhwc, rows, cols,
                    [&](int64_t b, int64_t k, int64_t i, int64_t j, int64_t h, int64_t w) {
                      out[b * ys[0] + k * ys[1] + i * ys[2] + j * ys[3]] =
                          in[b * xs[0] + k * xs[1] + h * xs[2] + w * xs[3]];
                    });
  return y;
}

// dy (N,C,OH,OW), any strides -> dx (x_shape), channels-last when nhwc.
Tensor pad2d_symmetric_backward(const Tensor& dy, const Shape& x_shape, bool nhwc,
                                const std::vector<int64_t>& rows,
                                const std::vector<int64_t>& cols) {
  Tensor dx = nhwc ? Tensor::empty_channels_last(x_shape) : Tensor::empty(x_shape);
  dx.zero_();
  const Shape& gs = dy.strides();
  const Shape& xs = dx.strides();
  const float* in = dy.data();
  float* out = dx.data();
  for_each_position(dy.shape(), nhwc, rows, cols,
                    [&](int64_t b, int64_t k, int64_t i, int64_t j, int64_t h, int64_t w) {
                      out[b * xs[0] + k * xs[1] + h * xs[2] + w * xs[3]] +=
                          in[b * gs[0] + k * gs[1] + i * gs[2] + j * gs[3]];
                    });
  return dx;
}

}  // namespace

Variable pad2d_symmetric(const Variable& x, int64_t pad_top, int64_t pad_bottom,
                         int64_t pad_left, int64_t pad_right) {
  KZ_CHECK(x.defined() && x.dim() == 4, "pad2d_symmetric", "x must be (N,C,H,W), got {}",
           x.defined() ? shape_str(x.shape()) : "undefined");
  KZ_CHECK(pad_top >= 0 && pad_bottom >= 0 && pad_left >= 0 && pad_right >= 0,
           "pad2d_symmetric", "pads (top {}, bottom {}, left {}, right {}) must be >= 0 for x {}",
           pad_top, pad_bottom, pad_left, pad_right, shape_str(x.shape()));
  const Shape x_shape = x.shape();
  const int64_t h = x_shape[2], w = x_shape[3];
  KZ_CHECK(h > 0 && w > 0, "pad2d_symmetric", "cannot mirror an empty image {}",
           shape_str(x_shape));
  const auto rows = source_indices(h, pad_top, h + pad_top + pad_bottom);
  const auto cols = source_indices(w, pad_left, w + pad_left + pad_right);
  const bool nhwc = nhwc_of(x.data());
  Tensor y = pad2d_symmetric_forward(x.data(), rows, cols);
  if (!needs_grad({x})) return make_result(std::move(y), "pad2d_symmetric", {x}, nullptr);
  return make_result(std::move(y), "pad2d_symmetric", {x},
                     [x_shape, nhwc, rows, cols](const Tensor& dout) {
                       return std::vector<Tensor>{
                           pad2d_symmetric_backward(dout, x_shape, nhwc, rows, cols)};
                     });
}

}  // namespace kz
