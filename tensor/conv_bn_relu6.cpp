// conv_bn_relu6.cpp — pointwise conv + training batch norm + ReLU6 as one op (the formulas
// are in tensor/conv_bn_relu6.h): x's moments, the folded forward, the backward's blocked
// pass and the C×C corrections. The GEMMs are sgemm's (tensor/blas.h); oneDNN's convolution
// runs only where O is not a multiple of 16.
//
// Shapes: X (M,C) row-major (channels-last x), W (O,C), g and z (M,O); "(O,C)" matrices
// row-major. Statistics and per-channel coefficients in double, big arrays in float.
#include "tensor/conv_bn_relu6.h"

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "tensor/batch_norm.h"
#include "tensor/blas.h"
#include "tensor/conv2d.h"
#include "tensor/dnnl.h"

namespace kz {

namespace {

const Conv2dParams kPointwise{};  // 1×1: stride 1, no padding, groups 1
constexpr int64_t kSerialBelow = 1 << 15;  // elements; fewer run on one thread

// Mean (C) and biased covariance (C,C) of the rows of X (M,C). Shifted by the first row K so
// that the covariance does not cancel: chunks of rows d = x − K are copied to a buffer that
// stays in L2, and one sgemm per chunk adds dᵀ·d (float over the chunk, double across).
struct Moments {
  std::vector<double> mean, cov;
};

Moments row_moments(const float* x, int64_t rows, int64_t c) {
  const auto cc = static_cast<size_t>(c);
  const int64_t chunk_rows = std::max<int64_t>(64, (int64_t{1} << 16) / c);  // 256 KB
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  const float* k = x;  // row 0
  std::vector<double> sum(cc, 0.0), prod(cc * cc, 0.0);
#pragma omp parallel if (rows * c >= kSerialBelow)
  {
    std::vector<float> d(static_cast<size_t>(chunk_rows) * cc), dd(cc * cc), ds(cc);
    std::vector<double> t_sum(cc, 0.0), t_prod(cc * cc, 0.0);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < chunks; ++b) {
      const int64_t r0 = b * chunk_rows, n = std::min(rows, r0 + chunk_rows) - r0;
      std::fill(ds.begin(), ds.end(), 0.0f);
      for (int64_t r = 0; r < n; ++r) {
        const float* row = x + (r0 + r) * c;
        float* out = d.data() + r * c;
        for (int64_t j = 0; j < c; ++j) {
          out[j] = row[j] - k[j];
          ds[size_t(j)] += out[j];
        }
      }
      sgemm(true, false, c, c, n, 1.0f, d.data(), c, d.data(), c, 0.0f, dd.data(), c);
      for (size_t j = 0; j < cc; ++j) t_sum[j] += ds[j];
      for (size_t j = 0; j < cc * cc; ++j) t_prod[j] += dd[j];
    }
#pragma omp critical
    {
      for (size_t j = 0; j < cc; ++j) sum[j] += t_sum[j];
      for (size_t j = 0; j < cc * cc; ++j) prod[j] += t_prod[j];
    }
  }
  Moments m{std::vector<double>(cc), std::vector<double>(cc * cc)};
  const auto total = static_cast<double>(rows);
  for (size_t i = 0; i < cc; ++i) m.mean[i] = double(k[i]) + sum[i] / total;
  for (size_t i = 0; i < cc; ++i)
    for (size_t j = 0; j < cc; ++j)
      m.cov[i * cc + j] = prod[i * cc + j] / total - (sum[i] / total) * (sum[j] / total);
  return m;
}

// The backward's one pass over the (M,O) data, in blocks of rows whose g stays in L2:
//   g = dz where 0 < z < 6, else 0        (a per-thread buffer, never written to memory)
//   sum_g += Σ_rows g,  gx += gᵀ·X         (O) and (O,C), double across blocks
//   dx rows = g·W'                         (when dx is wanted; W' (O,C) the folded weights)
// Unfused, g would be written, and read back by both backward GEMMs: three passes over the
// largest tensors instead of none (bench_ops expansion_fused/16to96_48px/bwd: with the mask
// as a pass of its own and oneDNN's backward on g, 22–23 ms; this pass, 17 ms; unfused 26 ms).
struct MaskedSums {
  std::vector<double> sum_g, gx;  // (O), (O,C)
};

MaskedSums masked_pass(const float* dz, const float* z, const float* x, const float* folded,
                       float* dx, int64_t rows, int64_t c, int64_t o) {
  const auto cc = static_cast<size_t>(c), oo = static_cast<size_t>(o);
  const int64_t block_rows = std::max<int64_t>(16, (int64_t{1} << 17) / o);  // g: 512 KB
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  MaskedSums total{std::vector<double>(oo, 0.0), std::vector<double>(oo * cc, 0.0)};
#pragma omp parallel if (rows * o >= kSerialBelow)
  {
    std::vector<float> g(static_cast<size_t>(block_rows) * oo), sums(oo), gx(oo * cc);
    MaskedSums mine{std::vector<double>(oo, 0.0), std::vector<double>(oo * cc, 0.0)};
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * block_rows, n = std::min(rows, r0 + block_rows) - r0;
      const float* zb = z + r0 * o;
      const float* db = dz + r0 * o;
      float* gp = g.data();
      float* sp = sums.data();
      std::fill(sums.begin(), sums.end(), 0.0f);
      for (int64_t i = 0; i < n * o; i += o)
        for (int64_t j = 0; j < o; ++j) {
          const float zv = zb[i + j], dv = db[i + j];  // both loaded: see batch_norm.cpp
          const float gv = zv > 0.0f && zv < 6.0f ? dv : 0.0f;
          gp[i + j] = gv;
          sp[j] += gv;
        }
      sgemm(true, false, o, c, n, 1.0f, gp, o, x + r0 * c, c, 0.0f, gx.data(), c);
      if (dx) sgemm(false, false, n, c, o, 1.0f, gp, o, folded, c, 0.0f, dx + r0 * c, c);
      for (size_t j = 0; j < oo; ++j) mine.sum_g[j] += sums[j];
      for (size_t j = 0; j < oo * cc; ++j) mine.gx[j] += gx[j];
    }
#pragma omp critical
    {
      for (size_t j = 0; j < oo; ++j) total.sum_g[j] += mine.sum_g[j];
      for (size_t j = 0; j < oo * cc; ++j) total.gx[j] += mine.gx[j];
    }
  }
  return total;
}

// z = min(max(X·Wt + b, 0), 6): X (M,C), Wt (C,O) (the folded weights transposed), b (O), z
// (M,O); O a multiple of 16. kizuki's own loop rather than oneDNN's convolution with a bias
// and an eltwise_clip post-op, which oneDNN 2.6's brgconv_1x1 runs at half the speed of its
// plain convolution (16→96 at 48×48, batch 128: 8.4 ms against 4.6). bench_ops
// expansion_fused/16to96_48px/fwd_train, the whole fused forward: 9.3–9.9 ms with that
// convolution, 4.6–5.0 ms with this loop. kRowsPerBlock rows at a time, 16 output channels
// per step: each weight vector loaded once serves every row, and the independent sums keep
// both FMA units busy (AVX-512, four rows: 5.8–6.4 ms).
// The accumulators are the CPU's own vector width (GCC's vector extension), and the rows are
// as many as the register file holds: AVX-512 has 32 registers of 16 floats, 8 rows × 1
// vector; AVX2 has 16 registers of 8 floats, 6 rows × 2 vectors (12 accumulators, 2 weight
// vectors and the broadcast x: the shape of OpenBLAS's Haswell sgemm kernel). Written with
// 16-float vectors for both, the AVX2 build (-march=haswell) split each into two halves that
// GCC kept on the stack: the 8-row kernel was 1228 instructions, 571 of them stack accesses,
// against 160 and 13 now (objdump of bench_ops), and bench_ops
// expansion_fused/16to96_48px/fwd_train took 118 ms of CPU (1 thread) against 25 ms now and
// 20–23 ms on AVX-512 (docs/performance.md, "AVX2 emulated on an AVX-512 Xeon (issue 23)").
#if defined(__AVX512F__)
constexpr int64_t kVectorLanes = 16;
constexpr int64_t kRowsPerBlock = 8;
#elif defined(__AVX__)
constexpr int64_t kVectorLanes = 8;
constexpr int64_t kRowsPerBlock = 6;
#else
constexpr int64_t kVectorLanes = 4;  // SSE: 16 registers of 4 floats
constexpr int64_t kRowsPerBlock = 3;
#endif
using Floats = float __attribute__((vector_size(kVectorLanes * sizeof(float))));
constexpr int64_t kLanes = 16;  // output channels per step; O must divide by it
constexpr int64_t kVectors = kLanes / kVectorLanes;

Floats load_floats(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int64_t kRows>
void affine_relu6_rows(const float* __restrict x, const float* __restrict wt,
                       const float* __restrict b, float* __restrict z, int64_t c, int64_t o) {
  const Floats zero = {}, six = zero + 6.0f;
  for (int64_t o0 = 0; o0 < o; o0 += kLanes) {
    Floats acc[kRows][kVectors];
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t v = 0; v < kVectors; ++v) acc[r][v] = load_floats(b + o0 + v * kVectorLanes);
    for (int64_t j = 0; j < c; ++j) {
      Floats w[kVectors];
      for (int64_t v = 0; v < kVectors; ++v)
        w[v] = load_floats(wt + j * o + o0 + v * kVectorLanes);
      for (int64_t r = 0; r < kRows; ++r) {
        const float xv = x[r * c + j];
        for (int64_t v = 0; v < kVectors; ++v) acc[r][v] += xv * w[v];
      }
    }
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t v = 0; v < kVectors; ++v) {
        Floats y = acc[r][v] < zero ? zero : acc[r][v];
        y = y > six ? six : y;
        std::memcpy(z + r * o + o0 + v * kVectorLanes, &y, sizeof y);
      }
  }
}

void affine_relu6(const float* x, const float* wt, const float* b, float* z, int64_t rows,
                  int64_t c, int64_t o) {
  constexpr int64_t kRows = kRowsPerBlock;
  const int64_t blocks = rows / kRows;
#pragma omp parallel for schedule(static) if (rows * o >= kSerialBelow)
  for (int64_t i = 0; i < blocks; ++i)
    affine_relu6_rows<kRows>(x + i * kRows * c, wt, b, z + i * kRows * o, c, o);
  for (int64_t r = blocks * kRows; r < rows; ++r)
    affine_relu6_rows<1>(x + r * c, wt, b, z + r * o, c, o);
}

// Names kizuki's kernel for the profiler's implementation column, once per op and shape.
void note_kernel(const char* op, const Tensor& x, int64_t o, const char* impl) {
  dnnl_note_own({op, {x.size(0), x.size(1), x.size(2), x.size(3), o}},
                [&] { return fmt::format("{} x{} to {} nhwc", op, shape_str(x.shape()), o); },
                impl);
}

// x channels-last (N,C,H,W) with more than one value per channel, weight (O,C,1,1), each
// per-output-channel vector (O). Returns O.
int64_t check_args(const Tensor& x, const Tensor& weight,
                   std::initializer_list<std::pair<const Tensor*, const char*>> vectors,
                   const char* op) {
  KZ_CHECK(x.dim() == 4 && layout_of(x) == Layout::nhwc, op,
           "x must be channels-last (N,C,H,W), got {}", shape_str(x.shape()));
  const int64_t c = x.size(1), o = weight.dim() == 4 ? weight.size(0) : -1;
  KZ_CHECK(weight.shape() == Shape({o, c, 1, 1}), op,
           "weight must be (O,{},1,1) for x with {} channels, got {}", c, c,
           shape_str(weight.shape()));
  for (const auto& [t, name] : vectors)
    KZ_CHECK(t->shape() == Shape{o}, op, "{} must be ({},) for weight {}, got {}", name, o,
             shape_str(weight.shape()), t->defined() ? shape_str(t->shape()) : "undefined");
  KZ_CHECK(x.size(0) * x.size(2) * x.size(3) > 1, op,
           "batch statistics need more than one value per channel, x is {}",
           shape_str(x.shape()));
  return o;
}

}  // namespace

bool conv1x1_bn_relu6_pays(int64_t rows, int64_t in_channels, int64_t out_channels) {
  return in_channels < out_channels && rows >= kMinRowsPerOutput * out_channels;
}

Tensor conv1x1_bn_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& gamma,
                                const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                float momentum, float eps, Conv1x1BnSaved* saved) {
  const char* op = "conv1x1_bn_relu6";
  const int64_t o = check_args(x, weight, {{&gamma, "gamma"}, {&beta, "beta"}}, op);
  check_batch_norm_settings(running_mean, running_var, momentum, eps, op);
  if (running_mean.defined())
    check_args(x, weight, {{&running_mean, "running_mean"}, {&running_var, "running_var"}}, op);
  const int64_t c = x.size(1), rows = x.numel() / c;
  const auto cc = static_cast<size_t>(c), oo = static_cast<size_t>(o);
  const Moments mx = row_moments(x.data(), rows, c);
  // W·Σx (O,C), then per output channel μ_o = w_o·μx, σ²_o = w_o·(W·Σx)_o.
  const Tensor w = weight.contiguous();
  const std::vector<float> cov(mx.cov.begin(), mx.cov.end());
  Tensor weight_cov = Tensor::empty({o, c});
  sgemm(false, false, o, c, c, 1.0f, w.data(), c, cov.data(), c, 0.0f, weight_cov.data(), c);
  const std::vector<float> wv = w.to_vector(), wc = weight_cov.to_vector();
  std::vector<float> mean(oo), var(oo);
  std::vector<double> inv_std(oo);
  for (size_t q = 0; q < oo; ++q) {
    double mu = 0.0, v = 0.0;
    for (size_t j = 0; j < cc; ++j) {
      mu += double(wv[q * cc + j]) * mx.mean[j];
      v += double(wv[q * cc + j]) * wc[q * cc + j];
    }
    v = std::max(v, 0.0);
    inv_std[q] = 1.0 / std::sqrt(v + eps);
    mean[q] = static_cast<float>(mu);
    var[q] = static_cast<float>(v);
  }
  const Tensor mean_t = Tensor::from_vector(mean, {o}), var_t = Tensor::from_vector(var, {o});
  const FoldedConv folded = batch_norm_fold(w, Tensor(), gamma, beta, mean_t, var_t, eps);
  Tensor z;
  if (o % kLanes == 0) {
    const std::vector<float> fv = folded.weight.to_vector();
    std::vector<float> wt(fv.size());  // (C,O)
    for (size_t q = 0; q < oo; ++q)
      for (size_t j = 0; j < cc; ++j) wt[j * oo + q] = fv[q * cc + j];
    note_kernel(op, x, o, "kizuki:conv1x1_bn_relu6");
    z = empty_in_layout({x.size(0), o, x.size(2), x.size(3)}, Layout::nhwc);
    affine_relu6(x.data(), wt.data(), folded.bias.data(), z.data(), rows, c, o);
  } else {
    z = conv2d_relu6_forward(x, folded.weight, folded.bias, kPointwise);
  }
  if (running_mean.defined())
    batch_norm_update_running(running_mean, running_var, mean_t, var_t, momentum, rows);
  if (saved) *saved = Conv1x1BnSaved{folded.weight, weight_cov, mx.mean, inv_std};
  return z;
}

void conv1x1_bn_relu6_backward(const Tensor& dz, const Tensor& z, const Tensor& x,
                               const Tensor& weight, const Tensor& gamma,
                               const Conv1x1BnSaved& saved, Tensor* dx, Tensor* dweight,
                               Tensor* dgamma, Tensor* dbeta) {
  const int64_t o = check_args(x, weight, {{&gamma, "gamma"}}, "conv1x1_bn_relu6_backward");
  const int64_t c = x.size(1), rows = x.numel() / c;
  const auto cc = static_cast<size_t>(c), oo = static_cast<size_t>(o);
  KZ_CHECK(dz.shape() == z.shape() && z.shape() == Shape({x.size(0), o, x.size(2), x.size(3)}),
           "conv1x1_bn_relu6_backward", "dz {} and z {} must be (N,{},H,W) for x {}",
           shape_str(dz.shape()), shape_str(z.shape()), o, shape_str(x.shape()));
  KZ_CHECK(layout_of(z) == Layout::nhwc, "conv1x1_bn_relu6_backward",
           "z must be the forward's channels-last output");
  note_kernel("conv1x1_bn_relu6_backward", x, o, "kizuki:conv1x1_bn_relu6");
  const Tensor dz_in = to_layout(dz, Layout::nhwc);
  Tensor out = dx ? empty_in_layout(x.shape(), Layout::nhwc) : Tensor();
  const MaskedSums ms = masked_pass(dz_in.data(), z.data(), x.data(),
                                    saved.folded_weight.data(), dx ? out.data() : nullptr,
                                    rows, c, o);
  // Per output channel o, with G = gᵀ·X: Gc_o = G_o − dβ_o·μx, dγ_o = (1/σ_o)·w_o·Gc_o,
  // dW_o = a_o·(Gc_o − (dγ_o/σ_o)·(W·Σx)_o).
  const std::vector<double>& gxv = ms.gx;
  const std::vector<float> wv = weight.contiguous().to_vector(),
                           wc = saved.weight_cov.to_vector(), gv = gamma.to_vector();
  const std::vector<double>& mu = saved.x_mean;
  std::vector<float> dw(wv.size()), dg(oo), db(oo), wk(wv.size());
  std::vector<double> v(cc, 0.0);
  const auto m = static_cast<double>(rows);
  std::vector<double> gc(cc);  // Gc_o
  for (size_t q = 0; q < oo; ++q) {
    const double s = saved.inv_std[q], a = gv[q] * s, sum_g = ms.sum_g[q];
    double wg = 0.0;
    for (size_t j = 0; j < cc; ++j) {
      gc[j] = gxv[q * cc + j] - sum_g * mu[j];
      wg += double(wv[q * cc + j]) * gc[j];
    }
    const double dgamma_q = s * wg;
    for (size_t j = 0; j < cc; ++j) {
      dw[q * cc + j] = static_cast<float>(a * (gc[j] - dgamma_q * s * wc[q * cc + j]));
      wk[q * cc + j] = static_cast<float>(wv[q * cc + j] * (a * dgamma_q * s / m));
      v[j] += a * sum_g / m * wv[q * cc + j];
    }
    dg[q] = static_cast<float>(dgamma_q);
    db[q] = static_cast<float>(sum_g);
  }
  if (dweight) *dweight = Tensor::from_vector(dw, weight.shape());
  if (dgamma) *dgamma = Tensor::from_vector(dg, {o});
  if (dbeta) *dbeta = Tensor::from_vector(db, {o});
  if (!dx) return;
  // dx = g·W' − X·K + u, K = Wᵀ·diag(a·dγ/(σ·M))·W (C,C), u = μx·K − v (C).
  std::vector<float> k(cc * cc);
  sgemm(true, false, c, c, o, 1.0f, wk.data(), c, wv.data(), c, 0.0f, k.data(), c);
  std::vector<float> u(cc);
  for (size_t j = 0; j < cc; ++j) {
    double t = -v[j];
    for (size_t i = 0; i < cc; ++i) t += mu[i] * k[i * cc + j];
    u[j] = static_cast<float>(t);
  }
  float* op = out.data();  // g·W' from the pass above
  sgemm(false, false, rows, c, c, -1.0f, x.data(), c, k.data(), c, 1.0f, op, c);
  const float* up = u.data();
#pragma omp parallel for schedule(static) if (rows * c >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < c; ++j) op[r * c + j] += up[j];
  *dx = out;
}

}  // namespace kz
