// dw_bn_relu6.cpp — 3×3 depthwise conv (stride 1, padding 1) + training batch norm + ReLU6
// as one op (the formulas are in tensor/dw_bn_relu6.h): the row kernel, the forward's two
// passes and the backward's two. Neither y nor z is read back: y is recomputed from x, and
// the backward's ReLU6 mask from y (as batch_norm_relu6_backward finds it from its input).
//
// Shapes: x, z, dz, dx channels-last, rows of W·C floats ((n,h) row r at r·W·C); weights
// rearranged per tap, (9,C) with tap t = 3i + j. Loops run along C (contiguous), vectorised
// with GCC's vector extension at the CPU's own width, a scalar loop for the remainder of C.
// Statistics: float over a row (or a band of rows), double across; coefficients in double.
#include "tensor/dw_bn_relu6.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "tensor/batch_norm.h"
#include "tensor/dnnl.h"

namespace kz {

namespace {

constexpr int64_t kSerialBelow = 1 << 15;  // elements; fewer run on one thread
constexpr int64_t kBandBytes = 512 * 1024;  // the backward's per-thread dy buffer (L2)

#if defined(__AVX512F__)
constexpr int64_t kLanes = 16;
#elif defined(__AVX__)
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 4;
#endif
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));

template <class V>
V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
void store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
float relu6(float v) { return std::min(std::max(v, 0.0f), 6.0f); }
Vec relu6(Vec v) {
  const Vec zero = {}, six = zero + 6.0f;
  v = v < zero ? zero : v;
  return v > six ? six : v;
}

// g: d where 0 < z < 6, else 0 (ReLU6's mask), per lane.
float in_range(float z, float d) { return z > 0.0f && z < 6.0f ? d : 0.0f; }
Vec in_range(Vec z, Vec d) {
  const Vec zero = {}, six = zero + 6.0f;
  return ((z > zero) & (z < six)) ? d : zero;
}

// Per-channel sums over a row of W pixels of the two terms f(i, j) returns for element
// i = v·C + j (channel j), added to s1, s2 (C); f is called with V = Vec for kLanes channels
// at a time, then with float. The sums stay in registers along the row (kept in memory from
// one pixel to the next, the chain through the store ran at a third of the speed).
template <class F>
void row_sums(int64_t width, int64_t c, const F& f, float* s1, float* s2) {
  int64_t c0 = 0;
  for (; c0 + kLanes <= c; c0 += kLanes) {
    Vec a = {}, b = {};
    for (int64_t v = 0; v < width; ++v) {
      const auto t = f.template operator()<Vec>(v * c + c0, c0);
      a += t.first;
      b += t.second;
    }
    store(s1 + c0, load<Vec>(s1 + c0) + a);
    store(s2 + c0, load<Vec>(s2 + c0) + b);
  }
  for (; c0 < c; ++c0) {
    float a = 0.0f, b = 0.0f;
    for (int64_t v = 0; v < width; ++v) {
      const auto t = f.template operator()<float>(v * c + c0, c0);
      a += t.first;
      b += t.second;
    }
    s1[c0] += a;
    s2[c0] += b;
  }
}

// The input rows h−1, h, h+1 of image n (null outside the map: zero padding).
void rows_around(const float* base, int64_t n, int64_t h, int64_t height, int64_t row_len,
                 const float* rows[3]) {
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t hh = h + i - 1;
    rows[i] = hh >= 0 && hh < height ? base + (n * height + hh) * row_len : nullptr;
  }
}

// Channels [c0, c0 + lanes of V) of output pixel v of one row: out[v·C + c] = bias[c] +
// Σ_{i,j} wt[(3i+j)·C + c]·rows[i][(v+j−1)·C + c], clamped to [0, 6] when kClamp. A pixel's
// channels, then the next pixel's: every stream (three input rows, the output) is read in
// memory order. The first version kept a chunk's nine weights in registers and ran along
// the row chunk by chunk (a stride of C floats, two columns per step): faster with the
// activations in this machine's L3 (bench_ops), slower inside a training step, where the
// layer's f3 rows in `kizuki profile` (96 px, 2 threads) went 10.0 → 8.6 ms forward and
// 16.8 → 15.4 ms backward with this order.
template <class V, bool kClamp>
void dw_pixel(const float* const rows[3], const float* wt, const float* bias, int64_t width,
              int64_t c, int64_t v, int64_t c0, float* __restrict out) {
  V acc = bias ? load<V>(bias + c0) : V{};
  for (int64_t i = 0; i < 3; ++i) {
    if (!rows[i]) continue;
    const float* r = rows[i] + v * c + c0;
    const float* w = wt + 3 * i * c + c0;
    if (v > 0) acc += load<V>(w) * load<V>(r - c);
    acc += load<V>(w + c) * load<V>(r);
    if (v + 1 < width) acc += load<V>(w + 2 * c) * load<V>(r + c);
  }
  if (kClamp) acc = relu6(acc);
  store(out + v * c + c0, acc);
}

// One output row (W·C) of the depthwise convolution of rows (see dw_pixel).
template <bool kClamp>
void dw_row(const float* const rows[3], const float* wt, const float* bias, int64_t width,
            int64_t c, float* out) {
  for (int64_t v = 0; v < width; ++v) {
    int64_t c0 = 0;
    for (; c0 + kLanes <= c; c0 += kLanes) dw_pixel<Vec, kClamp>(rows, wt, bias, width, c, v, c0, out);
    for (; c0 < c; ++c0) dw_pixel<float, kClamp>(rows, wt, bias, width, c, v, c0, out);
  }
}

// acc[t·C + c] += Σ_v dy[v·C + c]·rows[i][(v+j−1)·C + c] for the channels of one chunk,
// t = 3i + j: the nine sums in registers along the row.
template <class V>
void weight_sums_chunk(const float* dy, const float* const rows[3], int64_t width, int64_t c,
                       int64_t c0, float* acc) {
  V s[9];
  for (V& e : s) e = V{};
  for (int64_t v = 0; v < width; ++v) {
    const V d = load<V>(dy + v * c + c0);
    for (int64_t i = 0; i < 3; ++i) {
      if (!rows[i]) continue;
      const float* r = rows[i] + c0;
      if (v > 0) s[3 * i] += d * load<V>(r + (v - 1) * c);
      s[3 * i + 1] += d * load<V>(r + v * c);
      if (v + 1 < width) s[3 * i + 2] += d * load<V>(r + (v + 1) * c);
    }
  }
  for (int64_t t = 0; t < 9; ++t) store(acc + t * c + c0, load<V>(acc + t * c + c0) + s[t]);
}

void weight_sums_row(const float* dy, const float* const rows[3], int64_t width, int64_t c,
                     float* acc) {
  int64_t c0 = 0;
  for (; c0 + kLanes <= c; c0 += kLanes) weight_sums_chunk<Vec>(dy, rows, width, c, c0, acc);
  for (; c0 < c; ++c0) weight_sums_chunk<float>(dy, rows, width, c, c0, acc);
}

// (C,1,3,3) → per tap (9,C); flipped: tap t takes the weight of tap 8 − t (the rotation by
// 180° that turns the backward-data of a stride-1 padding-1 convolution into a convolution).
std::vector<float> taps_of(const Tensor& weight, bool flipped) {
  const std::vector<float> w = weight.contiguous().to_vector();
  const size_t c = w.size() / 9;
  std::vector<float> out(w.size());
  for (size_t ch = 0; ch < c; ++ch)
    for (size_t t = 0; t < 9; ++t) out[(flipped ? 8 - t : t) * c + ch] = w[ch * 9 + t];
  return out;
}

// Per-channel sums (C) over every output pixel of the pair of values term(i, j) gives, with y
// recomputed row by row from x (N·H rows of W·C values, wt the taps): make_term(y_row, line)
// returns term for that row, i the value's index in the row and j its channel. Float within a
// row, double across rows and threads, as batch_norm.cpp sums.
template <class MakeTerm>
void recomputed_row_sums(const float* xp, const float* wt, int64_t n, int64_t h, int64_t w,
                         int64_t c, const MakeTerm& make_term, std::vector<double>& s1,
                         std::vector<double>& s2) {
  const int64_t row_len = w * c, lines = n * h;
  const auto cc = static_cast<size_t>(c);
  s1.assign(cc, 0.0);
  s2.assign(cc, 0.0);
#pragma omp parallel if (lines * row_len >= kSerialBelow)
  {
    std::vector<float> y(static_cast<size_t>(row_len)), f1(cc), f2(cc);
    std::vector<double> t1(cc, 0.0), t2(cc, 0.0);
#pragma omp for schedule(static)
    for (int64_t line = 0; line < lines; ++line) {
      const float* r3[3];
      rows_around(xp, line / h, line % h, h, row_len, r3);
      dw_row<false>(r3, wt, nullptr, w, c, y.data());
      std::fill(f1.begin(), f1.end(), 0.0f);
      std::fill(f2.begin(), f2.end(), 0.0f);
      row_sums(w, c, make_term(y.data(), line), f1.data(), f2.data());
      for (size_t j = 0; j < cc; ++j) t1[j] += f1[j], t2[j] += f2[j];
    }
#pragma omp critical
    for (size_t j = 0; j < cc; ++j) s1[j] += t1[j], s2[j] += t2[j];
  }
}

// Names the kernel for the profiler's implementation column, once per op and shape.
void note_kernel(const char* op, const Tensor& x) {
  dnnl_note_own({op, {x.size(0), x.size(1), x.size(2), x.size(3)}},
                [&] { return fmt::format("{} x{} nhwc", op, shape_str(x.shape())); },
                "kizuki:dw_bn_relu6");
}

// x channels-last (N,C,H,W) with more than one value per channel, weight (C,1,3,3), each
// per-channel vector (C). Returns C.
int64_t check_args(const Tensor& x, const Tensor& weight,
                   std::initializer_list<std::pair<const Tensor*, const char*>> vectors,
                   const char* op) {
  KZ_CHECK(x.dim() == 4 && layout_of(x) == Layout::nhwc, op,
           "x must be channels-last (N,C,H,W), got {}", shape_str(x.shape()));
  const int64_t c = x.size(1);
  KZ_CHECK(weight.shape() == Shape({c, 1, 3, 3}), op,
           "weight must be ({},1,3,3) (3×3 depthwise) for x with {} channels, got {}", c, c,
           shape_str(weight.shape()));
  for (const auto& [t, name] : vectors)
    KZ_CHECK(t->shape() == Shape{c}, op, "{} must be ({},) for x with {} channels, got {}",
             name, c, c, t->defined() ? shape_str(t->shape()) : "undefined");
  KZ_CHECK(x.size(0) * x.size(2) * x.size(3) > 1, op,
           "batch statistics need more than one value per channel, x is {}",
           shape_str(x.shape()));
  return c;
}

}  // namespace

Tensor dw_bn_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& gamma,
                           const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                           float momentum, float eps, DwBnSaved* saved) {
  const char* op = "dw_bn_relu6";
  const int64_t c = check_args(x, weight, {{&gamma, "gamma"}, {&beta, "beta"}}, op);
  check_batch_norm_settings(running_mean, running_var, momentum, eps, op);
  if (running_mean.defined())
    check_args(x, weight, {{&running_mean, "running_mean"}, {&running_var, "running_var"}}, op);
  note_kernel(op, x);
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), row_len = w * c;
  const int64_t rows = n * h * w, lines = n * h;
  const auto cc = static_cast<size_t>(c);
  const float* xp = x.data();
  const std::vector<float> wt = taps_of(weight, false);
  // Pass 1: Σ(y − K), Σ(y − K)² per channel, K = y at the first pixel.
  std::vector<float> k(cc);
  {
    const float* r3[3];
    rows_around(xp, 0, 0, h, row_len, r3);
    std::vector<float> first(static_cast<size_t>(row_len));
    dw_row<false>(r3, wt.data(), nullptr, w, c, first.data());
    std::copy(first.begin(), first.begin() + c, k.begin());
  }
  const float* __restrict kp = k.data();
  std::vector<double> s1, s2;
  recomputed_row_sums(xp, wt.data(), n, h, w, c, [kp](const float* yp, int64_t) {
    return [yp, kp]<class V>(int64_t i, int64_t j) {
      const V d = load<V>(yp + i) - load<V>(kp + j);
      return std::pair<V, V>{d, d * d};
    };
  }, s1, s2);
  // μ, σ², a = γ/σ; z = relu6(dw(x, a·w) + β − a·μ).
  const std::vector<float> g = gamma.to_vector(), be = beta.to_vector();
  std::vector<float> mean(cc), var(cc), folded(wt.size()), bias(cc);
  DwBnSaved st{std::vector<double>(cc), std::vector<double>(cc)};
  for (size_t j = 0; j < cc; ++j) {
    const double m1 = s1[j] / double(rows), v = std::max(s2[j] / double(rows) - m1 * m1, 0.0);
    const double mu = double(k[j]) + m1, s = 1.0 / std::sqrt(v + double(eps)),
                 a = double(g[j]) * s;
    mean[j] = static_cast<float>(mu);
    var[j] = static_cast<float>(v);
    st.mean[j] = mu;
    st.inv_std[j] = s;
    bias[j] = static_cast<float>(double(be[j]) - a * mu);
    for (size_t t = 0; t < 9; ++t) folded[t * cc + j] = static_cast<float>(a * wt[t * cc + j]);
  }
  // Each row of z made in a buffer in L1, then copied out whole (measured with the first,
  // chunk-by-chunk row kernel, whose strided stores to memory not yet in cache cost more
  // than the copy; kept with the pixel order, not measured again).
  Tensor z = empty_in_layout(x.shape(), Layout::nhwc);
  float* zp = z.data();
#pragma omp parallel if (rows * c >= kSerialBelow)
  {
    std::vector<float> row(static_cast<size_t>(row_len));
#pragma omp for schedule(static)
    for (int64_t line = 0; line < lines; ++line) {
      const float* r3[3];
      rows_around(xp, line / h, line % h, h, row_len, r3);
      dw_row<true>(r3, folded.data(), bias.data(), w, c, row.data());
      std::memcpy(zp + line * row_len, row.data(), sizeof(float) * size_t(row_len));
    }
  }
  if (running_mean.defined())
    batch_norm_update_running(running_mean, running_var, Tensor::from_vector(mean, {c}),
                              Tensor::from_vector(var, {c}), momentum, rows);
  if (saved) *saved = std::move(st);
  return z;
}

void dw_bn_relu6_backward(const Tensor& dz, const Tensor& x, const Tensor& weight,
                          const Tensor& gamma, const Tensor& beta, const DwBnSaved& saved,
                          Tensor* dx, Tensor* dweight, Tensor* dgamma, Tensor* dbeta) {
  const char* op = "dw_bn_relu6_backward";
  const int64_t c = check_args(x, weight, {{&gamma, "gamma"}, {&beta, "beta"}}, op);
  const auto cc = static_cast<size_t>(c);
  KZ_CHECK(dz.shape() == x.shape(), op, "dz {} must match x {}", shape_str(dz.shape()),
           shape_str(x.shape()));
  KZ_CHECK(saved.mean.size() == cc && saved.inv_std.size() == cc, op,
           "the saved statistics must have {} channels, have {}", c, saved.mean.size());
  note_kernel(op, x);
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), row_len = w * c;
  const int64_t rows = n * h * w;
  const Tensor dz_in = to_layout(dz, Layout::nhwc);
  const float *xp = x.data(), *dzp = dz_in.data();
  const std::vector<float> wt = taps_of(weight, false), gv = gamma.to_vector(),
                           bv = beta.to_vector();
  // The mask from y recomputed, as batch_norm_relu6_backward finds it from its x:
  // 0 < y·sa + sb < 6, sa = γ/σ, sb = β − sa·μ (in float, as the unfused path).
  std::vector<float> mu(cc), sa(cc), sb(cc);
  for (size_t j = 0; j < cc; ++j) {
    const double a = double(gv[j]) * saved.inv_std[j];
    mu[j] = static_cast<float>(saved.mean[j]);
    sa[j] = static_cast<float>(a);
    sb[j] = static_cast<float>(double(bv[j]) - a * saved.mean[j]);
  }
  const float* __restrict ap = sa.data();
  const float* __restrict bp = sb.data();
  // Pass 1: Σg and Σg·(y − μ), y recomputed.
  const float* __restrict m = mu.data();
  std::vector<double> sum_g, sum_gy;
  recomputed_row_sums(xp, wt.data(), n, h, w, c, [ap, bp, m, dzp, row_len](const float* yp,
                                                                          int64_t line) {
    const float* dr = dzp + line * row_len;
    return [yp, ap, bp, m, dr]<class V>(int64_t i, int64_t j) {
      const V yv = load<V>(yp + i), g = in_range(yv * load<V>(ap + j) + load<V>(bp + j),
                                                 load<V>(dr + i));
      return std::pair<V, V>{g, g * (yv - load<V>(m + j))};
    };
  }, sum_g, sum_gy);
  // dγ = (1/σ)·Σg·(y − μ), dβ = Σg; dy = k1·g + k2·(y − μ) + k3. μ is taken off y before
  // the product (batch_norm.cpp folds it into k3), which keeps the large per-channel means of
  // the tests from cancelling: without FMA (-march=x86-64-v2) dweight moved by 1e-5 with M = 4.
  std::vector<float> dg(cc), db(cc), k1(cc), k2(cc), k3(cc);
  const auto mcount = static_cast<double>(rows);
  for (size_t j = 0; j < cc; ++j) {
    const double s = saved.inv_std[j], dgamma_j = s * sum_gy[j], dbeta_j = sum_g[j];
    const double a = double(gv[j]) * s;
    dg[j] = static_cast<float>(dgamma_j);
    db[j] = static_cast<float>(dbeta_j);
    k1[j] = static_cast<float>(a);
    k2[j] = static_cast<float>(-a * s * dgamma_j / mcount);
    k3[j] = static_cast<float>(-a * dbeta_j / mcount);
  }
  if (dgamma) *dgamma = Tensor::from_vector(dg, {c});
  if (dbeta) *dbeta = Tensor::from_vector(db, {c});
  if (!dx && !dweight) return;
  // Pass 2, a band of rows [r0, r1) of one image at a time: dy for rows r0 − 1 … r1 (those
  // in the map) into the thread's buffer, then the weight sums and dx rows from it.
  const int64_t band =
      std::clamp<int64_t>(kBandBytes / int64_t(sizeof(float)) / row_len - 2, 1, h);
  const int64_t bands = (h + band - 1) / band, tasks = n * bands;
  const std::vector<float> flipped = taps_of(weight, true);
  Tensor dx_out = dx ? empty_in_layout(x.shape(), Layout::nhwc) : Tensor();
  float* dxp = dx ? dx_out.data() : nullptr;
  std::vector<double> wsum(9 * cc, 0.0);
#pragma omp parallel if (rows * c >= kSerialBelow)
  {
    std::vector<float> buf(static_cast<size_t>((band + 2) * row_len)), acc(9 * cc),
        row(static_cast<size_t>(row_len));
    std::vector<double> mine(9 * cc, 0.0);
    const float* __restrict q1 = k1.data();
    const float* __restrict q2 = k2.data();
    const float* __restrict q3 = k3.data();
    const float* __restrict mp = mu.data();
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t ni = task / bands, r0 = (task % bands) * band, r1 = std::min(h, r0 + band);
      const int64_t lo = std::max<int64_t>(r0 - 1, 0), hi = std::min(h, r1 + 1);
      for (int64_t hh = lo; hh < hi; ++hh) {
        const float* r3[3];
        rows_around(xp, ni, hh, h, row_len, r3);
        float* __restrict yd = buf.data() + (hh - lo) * row_len;
        dw_row<false>(r3, wt.data(), nullptr, w, c, yd);
        const float* __restrict dr = dzp + (ni * h + hh) * row_len;
        for (int64_t v = 0; v < w; ++v)
          for (int64_t j = 0; j < c; ++j) {
            const int64_t i = v * c + j;
            const float yv = yd[i], zv = yv * ap[j] + bp[j], dv = dr[i];
            const float gg = zv > 0.0f && zv < 6.0f ? dv : 0.0f;
            yd[i] = q1[j] * gg + q2[j] * (yv - mp[j]) + q3[j];
          }
      }
      if (dweight) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t hh = r0; hh < r1; ++hh) {
          const float* r3[3];
          rows_around(xp, ni, hh, h, row_len, r3);
          weight_sums_row(buf.data() + (hh - lo) * row_len, r3, w, c, acc.data());
        }
        for (size_t j = 0; j < 9 * cc; ++j) mine[j] += acc[j];
      }
      if (dx) {
        for (int64_t hh = r0; hh < r1; ++hh) {
          const float* r3[3];
          for (int64_t i = 0; i < 3; ++i) {
            const int64_t src = hh + i - 1;
            r3[i] = src >= 0 && src < h ? buf.data() + (src - lo) * row_len : nullptr;
          }
          dw_row<false>(r3, flipped.data(), nullptr, w, c, row.data());  // as z's rows
          std::memcpy(dxp + (ni * h + hh) * row_len, row.data(), sizeof(float) * size_t(row_len));
        }
      }
    }
#pragma omp critical
    for (size_t j = 0; j < 9 * cc; ++j) wsum[j] += mine[j];
  }
  if (dweight) {
    std::vector<float> dw(9 * cc);
    for (size_t ch = 0; ch < cc; ++ch)
      for (size_t t = 0; t < 9; ++t) dw[ch * 9 + t] = static_cast<float>(wsum[t * cc + ch]);
    *dweight = Tensor::from_vector(dw, weight.shape());
  }
  if (dx) *dx = dx_out;
}

}  // namespace kz
