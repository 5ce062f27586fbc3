// pool2d.cpp — 2-D max pooling, forward and backward (see pool2d.h), and the naive loops
// they are tested against.
//
// Shapes: x and dx (N,C,H,W), y and dy (N,C,OH,OW); k = kernel, s = stride, p = padding.
// Why kizuki's own loops and not oneDNN's pooling primitive: on the encoder/decoder shape
// (N = 128, C = 32..128, 32×32 → 16×16, 2×2 stride 2, channels-last) oneDNN 2.6's
// jit:avx512_core max pooling (forward_training with its workspace, then backward) is
// slower: bench_ops max_pool2d/*, two threads, medians of 5, forward / backward in ms,
// kizuki against oneDNN: C = 32 10.7 / 11.1 against 14.3 / 18.0, C = 64 15.9 / 18.5 against
// 19.9 / 25.1, C = 128 21.6 / 28.4 against 35.9 / 51.2. (Measured while other jobs shared
// the two cores, so the absolute times are high; a second, busier run ranked them the same.)
// Channels-last, the window's taps are rows of C contiguous floats: the forward keeps a
// running maximum row and the winning tap's number, a compare and two blends per vector; the
// backward adds dy into each tap's row where that tap won, again along C, with no gather or
// scatter, each thread zeroing its image of dx just before (it is then in cache). The winners
// are 1-byte tap numbers (kh·k + kw), as oneDNN's workspace; PyTorch's indices are 8 bytes.
// NCHW runs plane by plane with the same rule (the slow layout; kept simple).
#include "tensor/pool2d.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/dnnl.h"
#include "tensor/strided.h"

namespace kz {

Shape max_pool2d_output_shape(const Shape& x, const MaxPool2dParams& p) {
  const char* op = "max_pool2d";
  KZ_CHECK(x.size() == 4, op, "x must be (N,C,H,W), got {}", shape_str(x));
  KZ_CHECK(p.kernel >= 1 && p.stride >= 1 && p.padding >= 0, op,
           "kernel and stride must be >= 1 and padding >= 0, got kernel {}, stride {}, "
           "padding {} for x {}",
           p.kernel, p.stride, p.padding, shape_str(x));
  KZ_CHECK(p.kernel * p.kernel <= 256, op, "kernel {} too large (at most 16), x {}", p.kernel,
           shape_str(x));
  KZ_CHECK(2 * p.padding <= p.kernel, op,
           "padding {} must be at most half the kernel {}, x {}", p.padding, p.kernel,
           shape_str(x));
  KZ_CHECK(x[2] + 2 * p.padding >= p.kernel && x[3] + 2 * p.padding >= p.kernel, op,
           "kernel {} larger than padded input {} with padding {}", p.kernel, shape_str(x),
           p.padding);
  return {x[0], x[1], (x[2] + 2 * p.padding - p.kernel) / p.stride + 1,
          (x[3] + 2 * p.padding - p.kernel) / p.stride + 1};
}

namespace {

// Maps smaller than this run on one thread: waking the others costs more.
constexpr int64_t kParallelMin = int64_t{1} << 15;

// The taps [k0, k1) of a window starting at o·s − p that fall inside 0..n−1.
struct TapRange {
  int64_t k0, k1, start;
  TapRange(int64_t o, const MaxPool2dParams& p, int64_t n)
      : k0(std::max<int64_t>(0, p.padding - o * p.stride)),
        k1(std::min(p.kernel, n + p.padding - o * p.stride)),
        start(o * p.stride - p.padding) {}
};

// PyTorch's rule: a later tap wins when it is larger or NaN (v != v; `|` not `||`, which
// keeps the channels-last loop free of branches, so that it vectorises).
inline bool wins(float v, float best) { return (v > best) | (v != v); }

void check_indices(const Tensor& dy, const MaxPool2dIndices& ix, const char* op) {
  KZ_CHECK(ix.storage != nullptr && ix.y_shape.size() == 4, op,
           "no indices: run the forward with indices first (dy {})", shape_str(dy.shape()));
  KZ_CHECK(dy.shape() == ix.y_shape, op, "dy must be {} for x {}, got {}",
           shape_str(ix.y_shape), shape_str(ix.x_shape), shape_str(dy.shape()));
}

Layout layout_of_indices(const MaxPool2dIndices& ix) {
  return ix.channels_last ? Layout::nhwc : Layout::nchw;
}

// --- channels-last: rows of C along every loop's inside ---

void forward_nhwc(const Tensor& x, const MaxPool2dParams& p, Tensor& y, uint8_t* taps) {
  const int64_t n_all = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh_n = y.size(2), ow_n = y.size(3), k = p.kernel;
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > kParallelMin)
  for (int64_t n = 0; n < n_all; ++n)
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const TapRange rh(oh, p, h);
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const TapRange rw(ow, p, w);
        const int64_t out = ((n * oh_n + oh) * ow_n + ow) * c;
        float* __restrict best = yp + out;
        uint8_t* __restrict tap = taps + out;
        auto row = [&](int64_t kh, int64_t kw) {
          return xp + ((n * h + rh.start + kh) * w + rw.start + kw) * c;
        };
        std::memcpy(best, row(rh.k0, rw.k0), sizeof(float) * static_cast<size_t>(c));
        std::memset(tap, static_cast<int>(rh.k0 * k + rw.k0), static_cast<size_t>(c));
        // A local count: stores through uint8_t* may alias anything, the shared c included,
        // and a count re-read every iteration would stop the loop from vectorising.
        const int64_t len = c;
        for (int64_t kh = rh.k0; kh < rh.k1; ++kh)
          for (int64_t kw = rw.k0; kw < rw.k1; ++kw) {
            if (kh == rh.k0 && kw == rw.k0) continue;
            const float* __restrict xr = row(kh, kw);
            const auto t = static_cast<uint8_t>(kh * k + kw);
            for (int64_t i = 0; i < len; ++i) {
              const float v = xr[i], b = best[i];
              const bool take = wins(v, b);
              best[i] = take ? v : b;
              tap[i] = take ? t : tap[i];
            }
          }
      }
    }
}

// Threads take whole images (windows may overlap); each zeroes its image of dx first, so
// the additions after find it in cache.
void backward_nhwc(const Tensor& dy, const uint8_t* taps, const MaxPool2dParams& p,
                   Tensor& dx) {
  const int64_t n_all = dx.size(0), c = dx.size(1), h = dx.size(2), w = dx.size(3);
  const int64_t oh_n = dy.size(2), ow_n = dy.size(3), k = p.kernel;
  const float* dyp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (dx.numel() > kParallelMin)
  for (int64_t n = 0; n < n_all; ++n) {
    std::memset(dxp + n * h * w * c, 0, sizeof(float) * static_cast<size_t>(h * w * c));
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const TapRange rh(oh, p, h);
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const TapRange rw(ow, p, w);
        const int64_t out = ((n * oh_n + oh) * ow_n + ow) * c;
        const float* __restrict g = dyp + out;
        const uint8_t* __restrict tap = taps + out;
        for (int64_t kh = rh.k0; kh < rh.k1; ++kh)
          for (int64_t kw = rw.k0; kw < rw.k1; ++kw) {
            float* __restrict dr = dxp + ((n * h + rh.start + kh) * w + rw.start + kw) * c;
            const auto t = static_cast<uint8_t>(kh * k + kw);
            for (int64_t i = 0; i < c; ++i) dr[i] += tap[i] == t ? g[i] : 0.0f;
          }
      }
    }
  }
}

// --- NCHW: one plane at a time ---

void forward_nchw(const Tensor& x, const MaxPool2dParams& p, Tensor& y, uint8_t* taps) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh_n = y.size(2), ow_n = y.size(3), k = p.kernel;
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelMin)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* plane = xp + pl * h * w;
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const TapRange rh(oh, p, h);
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const TapRange rw(ow, p, w);
        float best = plane[(rh.start + rh.k0) * w + rw.start + rw.k0];
        int64_t t = rh.k0 * k + rw.k0;
        for (int64_t kh = rh.k0; kh < rh.k1; ++kh)
          for (int64_t kw = rw.k0; kw < rw.k1; ++kw) {
            const float v = plane[(rh.start + kh) * w + rw.start + kw];
            if ((kh != rh.k0 || kw != rw.k0) && wins(v, best)) best = v, t = kh * k + kw;
          }
        const int64_t out = (pl * oh_n + oh) * ow_n + ow;
        yp[out] = best;
        taps[out] = static_cast<uint8_t>(t);
      }
    }
  }
}

void backward_nchw(const Tensor& dy, const uint8_t* taps, const MaxPool2dParams& p,
                   Tensor& dx) {
  const int64_t planes = dx.size(0) * dx.size(1), h = dx.size(2), w = dx.size(3);
  const int64_t oh_n = dy.size(2), ow_n = dy.size(3), k = p.kernel;
  const float* dyp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (dx.numel() > kParallelMin)
  for (int64_t pl = 0; pl < planes; ++pl) {
    float* plane = dxp + pl * h * w;
    std::memset(plane, 0, sizeof(float) * static_cast<size_t>(h * w));
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const int64_t out = (pl * oh_n + oh) * ow_n + ow;
        const int64_t ih = oh * p.stride - p.padding + taps[out] / k;
        const int64_t iw = ow * p.stride - p.padding + taps[out] % k;
        plane[ih * w + iw] += dyp[out];
      }
  }
}

using Taps = std::shared_ptr<Storage>;

Taps new_taps(const Shape& ys) { return std::make_shared<Storage>((numel_of(ys) + 3) / 4); }
uint8_t* tap_data(const Taps& taps) { return reinterpret_cast<uint8_t*>(taps->data()); }

void hand_out(Taps taps, const Shape& xs, const Shape& ys, Layout layout,
              MaxPool2dIndices* indices) {
  if (indices) *indices = {std::move(taps), xs, ys, layout == Layout::nhwc};
}

}  // namespace

Tensor max_pool2d_forward(const Tensor& x, const MaxPool2dParams& p, MaxPool2dIndices* indices) {
  const Shape ys = max_pool2d_output_shape(x.shape(), p);
  const Layout layout = compute_layout(x);
  const Tensor xin = to_layout(x, layout);
  Tensor y = empty_in_layout(ys, layout);
  Taps taps = new_taps(ys);
  if (layout == Layout::nhwc)
    forward_nhwc(xin, p, y, tap_data(taps));
  else
    forward_nchw(xin, p, y, tap_data(taps));
  hand_out(std::move(taps), x.shape(), ys, layout, indices);
  return y;
}

Tensor max_pool2d_backward(const Tensor& dy, const MaxPool2dIndices& indices,
                           const MaxPool2dParams& p) {
  check_indices(dy, indices, "max_pool2d_backward");
  const Layout layout = layout_of_indices(indices);
  const Tensor dyin = to_layout(dy, layout);
  Tensor dx = empty_in_layout(indices.x_shape, layout);  // zeroed by the loops
  if (layout == Layout::nhwc)
    backward_nhwc(dyin, indices.taps(), p, dx);
  else
    backward_nchw(dyin, indices.taps(), p, dx);
  return dx;
}

// --- naive reference ------------------------------------------------------------------------
// One output element at a time, reading any strides; the taps sit at y's element offsets.

Tensor max_pool2d_forward_naive(const Tensor& x, const MaxPool2dParams& p,
                                MaxPool2dIndices* indices) {
  const Shape ys = max_pool2d_output_shape(x.shape(), p);
  const Layout layout = compute_layout(x);
  Tensor y = empty_in_layout(ys, layout);
  Taps taps = new_taps(ys);
  const At4 xa(x), ya(y);
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t c = 0; c < ys[1]; ++c)
      for (int64_t oh = 0; oh < ys[2]; ++oh)
        for (int64_t ow = 0; ow < ys[3]; ++ow) {
          float best = -INFINITY;
          int64_t t = -1;
          for (int64_t kh = 0; kh < p.kernel; ++kh)
            for (int64_t kw = 0; kw < p.kernel; ++kw) {
              const int64_t ih = oh * p.stride - p.padding + kh;
              const int64_t iw = ow * p.stride - p.padding + kw;
              if (ih < 0 || ih >= x.size(2) || iw < 0 || iw >= x.size(3)) continue;
              const float v = xa(n, c, ih, iw);
              if (t < 0 || wins(v, best)) best = v, t = kh * p.kernel + kw;
            }
          const int64_t out = ya.index(n, c, oh, ow);
          y.data()[out] = best;
          tap_data(taps)[out] = static_cast<uint8_t>(t);
        }
  hand_out(std::move(taps), x.shape(), ys, layout, indices);
  return y;
}

Tensor max_pool2d_backward_naive(const Tensor& dy, const MaxPool2dIndices& indices,
                                 const MaxPool2dParams& p) {
  check_indices(dy, indices, "max_pool2d_backward");
  const Layout layout = layout_of_indices(indices);
  Tensor dx = empty_in_layout(indices.x_shape, layout);
  dx.zero_();
  const Tensor y_order = empty_in_layout(indices.y_shape, layout);  // only its strides are read
  const At4 dya(dy), ya(y_order), dxa(dx);
  const Shape& ys = indices.y_shape;
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t c = 0; c < ys[1]; ++c)
      for (int64_t oh = 0; oh < ys[2]; ++oh)
        for (int64_t ow = 0; ow < ys[3]; ++ow) {
          const int64_t t = indices.taps()[ya.index(n, c, oh, ow)];
          const int64_t ih = oh * p.stride - p.padding + t / p.kernel;
          const int64_t iw = ow * p.stride - p.padding + t % p.kernel;
          dx.data()[dxa.index(n, c, ih, iw)] += dya(n, c, oh, ow);
        }
  return dx;
}

Tensor max_pool2d_flat_indices(const MaxPool2dIndices& indices, const MaxPool2dParams& p) {
  KZ_CHECK(indices.storage != nullptr, "max_pool2d", "no indices");
  const Layout layout = layout_of_indices(indices);
  const Tensor y_order = empty_in_layout(indices.y_shape, layout);
  const At4 ya(y_order);
  const Shape& ys = indices.y_shape;
  const int64_t w = indices.x_shape[3];
  Tensor flat = Tensor::empty(ys);
  float* out = flat.data();
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t c = 0; c < ys[1]; ++c)
      for (int64_t oh = 0; oh < ys[2]; ++oh)
        for (int64_t ow = 0; ow < ys[3]; ++ow) {
          const int64_t t = indices.taps()[ya.index(n, c, oh, ow)];
          const int64_t ih = oh * p.stride - p.padding + t / p.kernel;
          const int64_t iw = ow * p.stride - p.padding + t % p.kernel;
          *out++ = static_cast<float>(ih * w + iw);
        }
  return flat;
}

}  // namespace kz
