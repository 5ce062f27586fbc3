// upsample.cpp — nearest and bilinear resizing, forward and backward (see upsample.h).
//
// Shapes: x and dx (N,C,H,W), y and dy (N,C,OH,OW). Each axis gets a table once per call:
// for every output index d its source indices i0, i1 and weights l0, l1 (nearest: i0 only).
// NCHW runs plane by plane along W; channels-last runs pixel by pixel along C, where the
// four source rows of a bilinear tap are contiguous runs of C floats. The backward scatters
// with the same tables; threads never share an output: planes (NCHW) or images (NHWC).
#include "tensor/upsample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/dnnl.h"

namespace kz {

UpsampleMode parse_upsample_mode(const std::string& text, const std::string& what) {
  if (text == "nearest") return UpsampleMode::nearest;
  if (text == "bilinear") return UpsampleMode::bilinear;
  fail("upsample2d", fmt::format("{}: '{}' is not an upsampling mode (nearest or bilinear)",
                                 what, text));
}

std::string to_string(UpsampleMode mode) {
  return mode == UpsampleMode::bilinear ? "bilinear" : "nearest";
}

Shape upsample2d_output_shape(const Shape& x, const Upsample2dParams& p) {
  const char* op = "upsample2d";
  KZ_CHECK(x.size() == 4, op, "x must be (N,C,H,W), got {}", shape_str(x));
  KZ_CHECK(x[2] > 0 && x[3] > 0, op, "x {} has an empty map", shape_str(x));
  KZ_CHECK(p.out_h > 0 && p.out_w > 0, op, "output size must be positive, got {}x{} for x {}",
           p.out_h, p.out_w, shape_str(x));
  KZ_CHECK(p.scale_h >= 0 && p.scale_w >= 0 && std::isfinite(p.scale_h) &&
               std::isfinite(p.scale_w),
           op, "scale factors must be positive (or 0: by size), got {} x {} for x {}",
           p.scale_h, p.scale_w, shape_str(x));
  return {x[0], x[1], p.out_h, p.out_w};
}

namespace {

// Maps smaller than this run on one thread: waking the others costs more.
constexpr int64_t kParallelMin = int64_t{1} << 15;

// One axis: output index d reads i0[d] with weight l0[d] and i1[d] with weight l1[d].
struct AxisTable {
  std::vector<int64_t> i0, i1;
  std::vector<float> l0, l1;
};

// PyTorch's source step (compute_scales_value), in float.
float source_step(int64_t in, int64_t out, double scale) {
  return scale > 0 ? static_cast<float>(1.0 / scale)
                   : static_cast<float>(in) / static_cast<float>(out);
}

AxisTable axis_table(int64_t in, int64_t out, double scale, UpsampleMode mode) {
  AxisTable t;
  const auto n = static_cast<size_t>(out);
  t.i0.resize(n), t.i1.resize(n), t.l0.resize(n), t.l1.resize(n);
  const float r = source_step(in, out, scale);
  for (int64_t d = 0; d < out; ++d) {
    const auto u = static_cast<size_t>(d);
    if (mode == UpsampleMode::nearest) {  // PyTorch's nearest_idx
      t.i0[u] = in == out       ? d
                : out == 2 * in ? d / 2
                                : std::min(static_cast<int64_t>(std::floor(d * r)), in - 1);
      t.i1[u] = t.i0[u], t.l0[u] = 1.0f, t.l1[u] = 0.0f;
    } else {  // area_pixel_compute_source_index, then compute_source_index_and_lambda
      const float s = in == out ? static_cast<float>(d)
                                : std::max(r * (static_cast<float>(d) + 0.5f) - 0.5f, 0.0f);
      const auto i0 = static_cast<int64_t>(s);
      t.i0[u] = i0, t.i1[u] = i0 + (i0 < in - 1 ? 1 : 0);
      t.l1[u] = std::clamp(s - static_cast<float>(i0), 0.0f, 1.0f);
      t.l0[u] = 1.0f - t.l1[u];
    }
  }
  return t;
}

struct Tables {
  AxisTable h, w;
  bool nearest;
};

Tables tables_for(const Shape& xs, const Upsample2dParams& p) {
  return {axis_table(xs[2], p.out_h, p.scale_h, p.mode),
          axis_table(xs[3], p.out_w, p.scale_w, p.mode), p.mode == UpsampleMode::nearest};
}

// --- forward ---

void forward_nchw(const Tensor& x, const Tables& t, Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh_n = y.size(2), ow_n = y.size(3);
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (planes * oh_n * ow_n > kParallelMin)
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const auto uh = static_cast<size_t>(oh);
      const float* r0 = xp + (pl * h + t.h.i0[uh]) * w;
      const float* r1 = xp + (pl * h + t.h.i1[uh]) * w;
      float* out = yp + (pl * oh_n + oh) * ow_n;
      if (t.nearest) {
        for (int64_t ow = 0; ow < ow_n; ++ow) out[ow] = r0[t.w.i0[size_t(ow)]];
        continue;
      }
      const float a0 = t.h.l0[uh], a1 = t.h.l1[uh];
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const auto uw = static_cast<size_t>(ow);
        const int64_t j0 = t.w.i0[uw], j1 = t.w.i1[uw];
        const float b0 = t.w.l0[uw], b1 = t.w.l1[uw];
        out[ow] = a0 * (b0 * r0[j0] + b1 * r0[j1]) + a1 * (b0 * r1[j0] + b1 * r1[j1]);
      }
    }
}

void forward_nhwc(const Tensor& x, const Tables& t, Tensor& y) {
  const int64_t n_all = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh_n = y.size(2), ow_n = y.size(3);
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for collapse(2) schedule(static) if (n_all * c * oh_n * ow_n > kParallelMin)
  for (int64_t n = 0; n < n_all; ++n)
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const auto uh = static_cast<size_t>(oh);
      const float* r0 = xp + (n * h + t.h.i0[uh]) * w * c;
      const float* r1 = xp + (n * h + t.h.i1[uh]) * w * c;
      const float a0 = t.h.l0[uh], a1 = t.h.l1[uh];
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const auto uw = static_cast<size_t>(ow);
        float* __restrict out = yp + ((n * oh_n + oh) * ow_n + ow) * c;
        const float* __restrict p00 = r0 + t.w.i0[uw] * c;
        if (t.nearest) {
          std::copy(p00, p00 + c, out);
          continue;
        }
        const float* __restrict p01 = r0 + t.w.i1[uw] * c;
        const float* __restrict p10 = r1 + t.w.i0[uw] * c;
        const float* __restrict p11 = r1 + t.w.i1[uw] * c;
        const float b0 = t.w.l0[uw], b1 = t.w.l1[uw];
        for (int64_t i = 0; i < c; ++i)
          out[i] = a0 * (b0 * p00[i] + b1 * p01[i]) + a1 * (b0 * p10[i] + b1 * p11[i]);
      }
    }
}

// --- backward (dx zeroed by the caller) ---

void backward_nchw(const Tensor& dy, const Tables& t, Tensor& dx) {
  const int64_t planes = dx.size(0) * dx.size(1), h = dx.size(2), w = dx.size(3);
  const int64_t oh_n = dy.size(2), ow_n = dy.size(3);
  const float* dyp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (planes * oh_n * ow_n > kParallelMin)
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const auto uh = static_cast<size_t>(oh);
      float* r0 = dxp + (pl * h + t.h.i0[uh]) * w;
      float* r1 = dxp + (pl * h + t.h.i1[uh]) * w;
      const float* g = dyp + (pl * oh_n + oh) * ow_n;
      if (t.nearest) {
        for (int64_t ow = 0; ow < ow_n; ++ow) r0[t.w.i0[size_t(ow)]] += g[ow];
        continue;
      }
      const float a0 = t.h.l0[uh], a1 = t.h.l1[uh];
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const auto uw = static_cast<size_t>(ow);
        const int64_t j0 = t.w.i0[uw], j1 = t.w.i1[uw];
        const float b0 = t.w.l0[uw], b1 = t.w.l1[uw];
        r0[j0] += a0 * b0 * g[ow];
        r0[j1] += a0 * b1 * g[ow];
        r1[j0] += a1 * b0 * g[ow];
        r1[j1] += a1 * b1 * g[ow];
      }
    }
}

void backward_nhwc(const Tensor& dy, const Tables& t, Tensor& dx) {
  const int64_t n_all = dx.size(0), c = dx.size(1), h = dx.size(2), w = dx.size(3);
  const int64_t oh_n = dy.size(2), ow_n = dy.size(3);
  const float* dyp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (n_all * c * oh_n * ow_n > kParallelMin)
  for (int64_t n = 0; n < n_all; ++n)
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const auto uh = static_cast<size_t>(oh);
      float* r0 = dxp + (n * h + t.h.i0[uh]) * w * c;
      float* r1 = dxp + (n * h + t.h.i1[uh]) * w * c;
      const float a0 = t.h.l0[uh], a1 = t.h.l1[uh];
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const auto uw = static_cast<size_t>(ow);
        const float* __restrict g = dyp + ((n * oh_n + oh) * ow_n + ow) * c;
        float* p00 = r0 + t.w.i0[uw] * c;
        if (t.nearest) {
          for (int64_t i = 0; i < c; ++i) p00[i] += g[i];
          continue;
        }
        // The four rows may coincide at the borders (i1 = i0): one at a time.
        float* p01 = r0 + t.w.i1[uw] * c;
        float* p10 = r1 + t.w.i0[uw] * c;
        float* p11 = r1 + t.w.i1[uw] * c;
        const float w00 = a0 * t.w.l0[uw], w01 = a0 * t.w.l1[uw];
        const float w10 = a1 * t.w.l0[uw], w11 = a1 * t.w.l1[uw];
        for (int64_t i = 0; i < c; ++i) p00[i] += w00 * g[i];
        for (int64_t i = 0; i < c; ++i) p01[i] += w01 * g[i];
        for (int64_t i = 0; i < c; ++i) p10[i] += w10 * g[i];
        for (int64_t i = 0; i < c; ++i) p11[i] += w11 * g[i];
      }
    }
}

}  // namespace

Tensor upsample2d_forward(const Tensor& x, const Upsample2dParams& p) {
  const Shape ys = upsample2d_output_shape(x.shape(), p);
  const Layout layout = compute_layout(x);
  const Tensor xin = to_layout(x, layout);
  Tensor y = empty_in_layout(ys, layout);
  const Tables t = tables_for(x.shape(), p);
  if (layout == Layout::nhwc)
    forward_nhwc(xin, t, y);
  else
    forward_nchw(xin, t, y);
  return y;
}

Tensor upsample2d_backward(const Tensor& dy, const Shape& x_shape, const Upsample2dParams& p) {
  const Shape ys = upsample2d_output_shape(x_shape, p);
  KZ_CHECK(dy.shape() == ys, "upsample2d_backward", "dy must be {} for x {}, got {}",
           shape_str(ys), shape_str(x_shape), shape_str(dy.shape()));
  const Layout layout = compute_layout(dy);
  const Tensor dyin = to_layout(dy, layout);
  Tensor dx = empty_in_layout(x_shape, layout);
  dx.zero_();
  const Tables t = tables_for(x_shape, p);
  if (layout == Layout::nhwc)
    backward_nhwc(dyin, t, dx);
  else
    backward_nchw(dyin, t, dx);
  return dx;
}

}  // namespace kz
