// batch_norm.cpp — batch normalisation forward (training / inference) and backward through
// oneDNN's batch_normalization primitives (tensor/dnnl.h), and the naive loops they are
// tested against.
//
// Shapes: x, y, dy, dx (N,C,H,W) in NCHW or channels-last; weight = gamma, bias = beta,
// mean, var, running stats (C). M = N·H·W values per channel. x̂ = (x − mean)·inv_std.
// oneDNN flags (2.6): use_scale / use_shift for gamma / beta, use_global_stats for inference
// (and for the backward of an inference forward). oneDNN returns the biased variance; the
// running-variance update applies PyTorch's unbiased factor M/(M−1) here.
#include "tensor/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "tensor/dnnl.h"

namespace kz {
namespace {

using dnnl::memory;
using flags = dnnl::normalization_flags;

void check_channel_vector(const Tensor& t, int64_t c, const char* op, const char* name) {
  KZ_CHECK(!t.defined() || t.shape() == Shape{c}, op, "{} must be ({},) for x with {} channels, got {}",
           name, c, c, shape_str(t.shape()));
}

void check_forward_args(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        float momentum, float eps) {
  const char* op = "batch_norm";
  KZ_CHECK(x.dim() == 4, op, "x must be (N,C,H,W), got {}", shape_str(x.shape()));
  const int64_t c = x.size(1);
  check_channel_vector(weight, c, op, "weight");
  check_channel_vector(bias, c, op, "bias");
  check_channel_vector(running_mean, c, op, "running_mean");
  check_channel_vector(running_var, c, op, "running_var");
  check_batch_norm_settings(running_mean, running_var, momentum, eps, op);
  if (training) {
    KZ_CHECK(x.size(0) * x.size(2) * x.size(3) > 1, op,
             "training needs more than one value per channel, x is {}", shape_str(x.shape()));
  } else {
    KZ_CHECK(running_mean.defined(), op, "inference needs running_mean and running_var");
  }
}

void check_backward_args(const Tensor& dy, const Tensor& x, const Tensor& weight,
                         const Tensor& mean, const Tensor& var, const char* op) {
  KZ_CHECK(x.dim() == 4 && dy.shape() == x.shape(), op, "dy {} must match x {} (N,C,H,W)",
           shape_str(dy.shape()), shape_str(x.shape()));
  check_channel_vector(weight, x.size(1), op, "weight");
  KZ_CHECK(mean.defined() && var.defined(), op, "needs the mean and variance of the forward");
  check_channel_vector(mean, x.size(1), op, "mean");
  check_channel_vector(var, x.size(1), op, "var");
}

Tensor inv_std_of(const Tensor& var, float eps) {
  std::vector<float> v = var.to_vector();
  for (float& e : v) e = static_cast<float>(1.0 / std::sqrt(double(e) + eps));
  return Tensor::from_vector(v, var.shape());
}

// --- oneDNN plans ---------------------------------------------------------------------------

struct BnGeometry {
  Shape x;
  Layout layout;
  float eps;
  bool scale, shift, global_stats;

  DnnlKey key(const char* op) const {
    uint32_t eps_bits = 0;
    std::memcpy(&eps_bits, &eps, sizeof eps_bits);
    return {op, {x[0], x[1], x[2], x[3], static_cast<int64_t>(layout), eps_bits, scale, shift,
                 global_stats}};
  }
  std::string describe(const char* op) const {
    return fmt::format("{} x{} {}{}", op, shape_str(x), layout == Layout::nhwc ? "nhwc" : "nchw",
                       global_stats ? " global_stats" : "");
  }
  flags bn_flags() const {
    flags f = flags::none;
    if (scale) f |= flags::use_scale;
    if (shift) f |= flags::use_shift;
    if (global_stats) f |= flags::use_global_stats;
    return f;
  }
  memory::desc x_md() const { return dnnl_desc(x, layout); }
  memory::desc c_md() const { return dnnl_desc({x[1]}, memory::format_tag::a); }
  dnnl::batch_normalization_forward::primitive_desc forward_pd(dnnl::prop_kind pk) const {
    using F = dnnl::batch_normalization_forward;
    return F::primitive_desc(F::desc(pk, x_md(), eps, bn_flags()), dnnl_engine());
  }
};

struct BnForwardPlan {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
};

struct BnBackwardPlan {
  dnnl::batch_normalization_backward::primitive_desc pd;
  dnnl::batch_normalization_backward prim;
};

std::shared_ptr<BnForwardPlan> forward_plan(const BnGeometry& g, bool training) {
  const char* op = training ? "batch_norm_forward_training" : "batch_norm_forward_inference";
  return dnnl_cached<BnForwardPlan>(g.key(op), [&] {
    auto pd = g.forward_pd(training ? dnnl::prop_kind::forward_training
                                    : dnnl::prop_kind::forward_inference);
    dnnl_note_impl(g.describe(op), pd);
    return BnForwardPlan{pd, dnnl::batch_normalization_forward(pd)};
  });
}

// dx (and dgamma, dbeta) for statistics mean/var: batch statistics, or the running ones
// when g.global_stats.
void backward_dnnl(const BnGeometry& g, const Tensor& dy, const Tensor& x, const Tensor& weight,
                   const Tensor& mean, const Tensor& var, Tensor* dx, Tensor* dweight,
                   Tensor* dbias) {
  const bool params = g.scale || g.shift;
  const char* op = "batch_norm_backward";
  auto plan = dnnl_cached<BnBackwardPlan>(g.key(op), [&] {
    using B = dnnl::batch_normalization_backward;
    const auto pk = params ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data;
    B::desc d(pk, g.x_md(), g.x_md(), g.eps, g.bn_flags());
    B::primitive_desc pd(d, dnnl_engine(), g.forward_pd(dnnl::prop_kind::forward_training));
    dnnl_note_impl(g.describe(op), pd);
    return BnBackwardPlan{pd, B(pd)};
  });
  const Tensor xin = to_layout(x, g.layout), dyin = to_layout(dy, g.layout);
  const Tensor m = mean.contiguous(), v = var.contiguous();
  Tensor dx_out = empty_in_layout(g.x, g.layout);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, dnnl_memory(g.x_md(), xin)},
                                       {DNNL_ARG_MEAN, dnnl_memory(g.c_md(), m)},
                                       {DNNL_ARG_VARIANCE, dnnl_memory(g.c_md(), v)},
                                       {DNNL_ARG_DIFF_DST, dnnl_memory(g.x_md(), dyin)},
                                       {DNNL_ARG_DIFF_SRC, dnnl_memory(g.x_md(), dx_out)}};
  Tensor w, dw, db;
  if (g.scale) {
    w = weight.contiguous();
    dw = Tensor::empty({g.x[1]});
    args[DNNL_ARG_SCALE] = dnnl_memory(g.c_md(), w);
    args[DNNL_ARG_DIFF_SCALE] = dnnl_memory(g.c_md(), dw);
  }
  Tensor shift;
  if (g.shift) {  // oneDNN 2.6 wants the shift as an input too; it does not change gradients
    shift = Tensor::zeros({g.x[1]});
    db = Tensor::empty({g.x[1]});
    args[DNNL_ARG_SHIFT] = dnnl_memory(g.c_md(), shift);
    args[DNNL_ARG_DIFF_SHIFT] = dnnl_memory(g.c_md(), db);
  }
  dnnl_execute(plan->prim, args);
  if (dx) *dx = dx_out;
  if (dweight) *dweight = dw;
  if (dbias) *dbias = db;
}

}  // namespace

void check_batch_norm_settings(const Tensor& running_mean, const Tensor& running_var,
                               float momentum, float eps, const char* op) {
  KZ_CHECK(eps >= 0.0f && momentum >= 0.0f && momentum <= 1.0f, op,
           "need eps >= 0 and momentum in [0, 1], got eps {} momentum {}", eps, momentum);
  KZ_CHECK(running_mean.defined() == running_var.defined(), op,
           "running_mean and running_var must both be given or both be undefined");
}

// --- oneDNN ---------------------------------------------------------------------------------

// r = (1−momentum)·r + momentum·stat, in place (r may have any strides).
void batch_norm_update_running(Tensor& running_mean, Tensor& running_var, const Tensor& mean,
                               const Tensor& var, float momentum, int64_t count) {
  const double unbiased = double(count) / double(count - 1);
  for (auto [r, stat, factor] : {std::tuple{&running_mean, &mean, 1.0},
                                 std::tuple{&running_var, &var, unbiased}}) {
    const std::vector<float> old = r->to_vector(), s = stat->to_vector();
    std::vector<float> out(old.size());
    for (size_t i = 0; i < old.size(); ++i)
      out[i] = static_cast<float>((1.0 - momentum) * old[i] + momentum * factor * s[i]);
    r->copy_(Tensor::from_vector(out, r->shape()));
  }
}

FoldedConv batch_norm_fold(const Tensor& weight, const Tensor& bias, const Tensor& gamma,
                           const Tensor& beta, const Tensor& mean, const Tensor& var, float eps) {
  const int64_t o = weight.size(0);
  for (auto [t, name] : {std::pair{&gamma, "gamma"}, std::pair{&beta, "beta"},
                         std::pair{&mean, "mean"}, std::pair{&var, "var"}})
    check_channel_vector(*t, o, "batch_norm_fold", name);
  check_channel_vector(bias, o, "batch_norm_fold", "bias");
  std::vector<float> wv = weight.to_vector();
  const std::vector<float> g = gamma.to_vector(), be = beta.to_vector(), mu = mean.to_vector(),
                           v = var.to_vector();
  const std::vector<float> cb =
      bias.defined() ? bias.to_vector() : std::vector<float>(g.size(), 0.0f);
  const size_t per = wv.size() / g.size();
  std::vector<float> b(g.size());
  for (size_t q = 0; q < g.size(); ++q) {
    const double a = double(g[q]) / std::sqrt(double(v[q]) + eps);
    for (size_t i = 0; i < per; ++i) wv[q * per + i] = static_cast<float>(wv[q * per + i] * a);
    b[q] = static_cast<float>((double(cb[q]) - double(mu[q])) * a + double(be[q]));
  }
  return {Tensor::from_vector(wv, weight.shape()), Tensor::from_vector(b, {o})};
}

Tensor batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          Tensor& running_mean, Tensor& running_var, bool training,
                          float momentum, float eps, BatchNormSaved* saved) {
  check_forward_args(x, weight, bias, running_mean, running_var, training, momentum, eps);
  const BnGeometry g{x.shape(), compute_layout(x), eps, weight.defined(), bias.defined(),
                     !training};
  auto plan = forward_plan(g, training);
  const Tensor xin = to_layout(x, g.layout);
  Tensor y = empty_in_layout(g.x, g.layout);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, dnnl_memory(g.x_md(), xin)},
                                       {DNNL_ARG_DST, dnnl_memory(g.x_md(), y)}};
  Tensor w, b, mean, var;
  if (g.scale) args[DNNL_ARG_SCALE] = dnnl_memory(g.c_md(), w = weight.contiguous());
  if (g.shift) args[DNNL_ARG_SHIFT] = dnnl_memory(g.c_md(), b = bias.contiguous());
  if (training) {
    mean = Tensor::empty({g.x[1]});
    var = Tensor::empty({g.x[1]});
  } else {
    mean = running_mean.contiguous();
    var = running_var.contiguous();
  }
  args[DNNL_ARG_MEAN] = dnnl_memory(g.c_md(), mean);
  args[DNNL_ARG_VARIANCE] = dnnl_memory(g.c_md(), var);
  dnnl_execute(plan->prim, args);
  if (training) {
    if (running_mean.defined()) {
      batch_norm_update_running(running_mean, running_var, mean, var, momentum,
                                g.x[0] * g.x[2] * g.x[3]);
    }
    if (saved) *saved = BatchNormSaved{mean, inv_std_of(var, eps), var};
  }
  return y;
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                         const BatchNormSaved& saved, float eps, Tensor* dx, Tensor* dweight,
                         Tensor* dbias) {
  check_backward_args(dy, x, weight, saved.mean, saved.var, "batch_norm_backward");
  const BnGeometry g{x.shape(), compute_layout(x), eps, weight.defined(), dbias != nullptr,
                     false};
  backward_dnnl(g, dy, x, weight, saved.mean, saved.var, dx, dweight, dbias);
}

void batch_norm_backward_inference(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   const Tensor& running_mean, const Tensor& running_var,
                                   float eps, Tensor* dx, Tensor* dweight, Tensor* dbias) {
  check_backward_args(dy, x, weight, running_mean, running_var, "batch_norm_backward");
  const BnGeometry g{x.shape(), compute_layout(x), eps, weight.defined(), dbias != nullptr,
                     true};
  backward_dnnl(g, dy, x, weight, running_mean, running_var, dx, dweight, dbias);
}

// --- naive reference ------------------------------------------------------------------------

namespace {

// Element offset of (n,c,h,w) in a 4-D tensor with any strides.
int64_t at4(const Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
  return n * t.stride(0) + c * t.stride(1) + h * t.stride(2) + w * t.stride(3);
}

// Calls f(n, h, w) for every position of a channel of x.
template <class F>
void for_each_nhw(const Tensor& x, F&& f) {
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t h = 0; h < x.size(2); ++h)
      for (int64_t w = 0; w < x.size(3); ++w) f(n, h, w);
}

float value_or(const Tensor& t, int64_t c, float fallback) {
  return t.defined() ? t.at({c}) : fallback;
}

}  // namespace

Tensor batch_norm_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                Tensor& running_mean, Tensor& running_var, bool training,
                                float momentum, float eps, BatchNormSaved* saved) {
  check_forward_args(x, weight, bias, running_mean, running_var, training, momentum, eps);
  const int64_t channels = x.size(1);
  const double m = double(x.size(0)) * x.size(2) * x.size(3);
  Tensor y = empty_in_layout(x.shape(), compute_layout(x));
  Tensor mean = Tensor::empty({channels}), var = Tensor::empty({channels});
  const float* xp = x.data();
  float* yp = y.data();
  for (int64_t c = 0; c < channels; ++c) {
    double mu, v;
    if (training) {
      double s = 0.0, ss = 0.0;
      for_each_nhw(x, [&](int64_t n, int64_t h, int64_t w) { s += xp[at4(x, n, c, h, w)]; });
      mu = s / m;
      for_each_nhw(x, [&](int64_t n, int64_t h, int64_t w) {
        const double d = xp[at4(x, n, c, h, w)] - mu;
        ss += d * d;
      });
      v = ss / m;
    } else {
      mu = running_mean.at({c});
      v = running_var.at({c});
    }
    mean.data()[c] = static_cast<float>(mu);
    var.data()[c] = static_cast<float>(v);
    const double inv_std = 1.0 / std::sqrt(v + eps);
    const double gamma = value_or(weight, c, 1.0f), beta = value_or(bias, c, 0.0f);
    for_each_nhw(x, [&](int64_t n, int64_t h, int64_t w) {
      yp[at4(y, n, c, h, w)] =
          static_cast<float>((xp[at4(x, n, c, h, w)] - mu) * inv_std * gamma + beta);
    });
  }
  if (training) {
    if (running_mean.defined()) {
      batch_norm_update_running(running_mean, running_var, mean, var, momentum,
                                x.size(0) * x.size(2) * x.size(3));
    }
    if (saved) *saved = BatchNormSaved{mean, inv_std_of(var, eps), var};
  }
  return y;
}

namespace {

// The shared loop of both backwards. With batch statistics (training) dx also carries the
// terms through mean and variance: dx = gamma·inv_std/M · (M·dy − Σdy − x̂·Σ(dy·x̂)).
void backward_naive(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                    const Tensor& var, float eps, bool batch_stats, Tensor* dx, Tensor* dweight,
                    Tensor* dbias) {
  const int64_t channels = x.size(1);
  const double m = double(x.size(0)) * x.size(2) * x.size(3);
  Tensor dx_out = empty_in_layout(x.shape(), compute_layout(x));
  Tensor dw = Tensor::empty({channels}), db = Tensor::empty({channels});
  const float *xp = x.data(), *dyp = dy.data();
  float* dxp = dx_out.data();
  for (int64_t c = 0; c < channels; ++c) {
    const double mu = mean.at({c}), inv_std = 1.0 / std::sqrt(double(var.at({c})) + eps);
    const double gamma = value_or(weight, c, 1.0f);
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for_each_nhw(x, [&](int64_t n, int64_t h, int64_t w) {
      const double g = dyp[at4(dy, n, c, h, w)];
      sum_dy += g;
      sum_dy_xhat += g * (xp[at4(x, n, c, h, w)] - mu) * inv_std;
    });
    dw.data()[c] = static_cast<float>(sum_dy_xhat);
    db.data()[c] = static_cast<float>(sum_dy);
    for_each_nhw(x, [&](int64_t n, int64_t h, int64_t w) {
      const double g = dyp[at4(dy, n, c, h, w)];
      const double xhat = (xp[at4(x, n, c, h, w)] - mu) * inv_std;
      const double through_stats = batch_stats ? (sum_dy + xhat * sum_dy_xhat) / m : 0.0;
      dxp[at4(dx_out, n, c, h, w)] = static_cast<float>(gamma * inv_std * (g - through_stats));
    });
  }
  if (dx) *dx = dx_out;
  if (dweight) *dweight = weight.defined() ? dw : Tensor();
  if (dbias) *dbias = db;
}

}  // namespace

void batch_norm_backward_naive(const Tensor& dy, const Tensor& x, const Tensor& weight,
                               const BatchNormSaved& saved, float eps, Tensor* dx,
                               Tensor* dweight, Tensor* dbias) {
  check_backward_args(dy, x, weight, saved.mean, saved.var, "batch_norm_backward");
  backward_naive(dy, x, weight, saved.mean, saved.var, eps, true, dx, dweight, dbias);
}

void batch_norm_backward_inference_naive(const Tensor& dy, const Tensor& x,
                                         const Tensor& weight, const Tensor& running_mean,
                                         const Tensor& running_var, float eps, Tensor* dx,
                                         Tensor* dweight, Tensor* dbias) {
  check_backward_args(dy, x, weight, running_mean, running_var, "batch_norm_backward");
  backward_naive(dy, x, weight, running_mean, running_var, eps, false, dx, dweight, dbias);
}


// --- batch norm then ReLU6, fused -------------------------------------------------------------
//
// Channels-last x is a row-major (M, C) matrix, M = N·H·W rows of C channels: every pass
// walks rows, the inner loop runs over the channels (vectorised), threads split the rows.
// Sums are taken in float over blocks of kBlockRows rows, then added up in double; the
// moments are shifted by the first row (K) so that E[(x−K)²] − E[x−K]² does not cancel.

namespace {

constexpr int64_t kBlockRows = 64;
constexpr int64_t kSerialBelow = 1 << 15;  // elements; fewer run on one thread

// One block of rows [r0, r1) and one chunk of kChunk channels from j0: the two terms of each
// element (f(i, j) for element i = r·C + j of channel j) summed down the rows in registers,
// so that no partial sum passes through memory from one row to the next; the block's rows
// stay in L1 from one chunk to the next.
template <int64_t kChunk, class Terms>
void chunk_sums(const Terms& f, int64_t r0, int64_t r1, int64_t channels, int64_t j0,
                double* t1, double* t2) {
  float a1[kChunk] = {}, a2[kChunk] = {};
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t jj = 0; jj < kChunk; ++jj) {
      const auto [u, v] = f(r * channels + j0 + jj, j0 + jj);
      a1[jj] += u;
      a2[jj] += v;
    }
  for (int64_t jj = 0; jj < kChunk; ++jj) t1[j0 + jj] += a1[jj], t2[j0 + jj] += a2[jj];
}

// Per-channel sums of two terms over the M rows of (M,C) data: f(i, j) returns the pair
// for element i = r·C + j (channel j); the double totals go to s1, s2. Threads split the
// blocks of kBlockRows rows; chunks of 32 channels (2 AVX-512 registers per sum), then 8,
// then 1, cover any C.
template <class Terms>
void channel_sums(int64_t rows, int64_t channels, const Terms& f, std::vector<double>& s1,
                  std::vector<double>& s2) {
  const auto c = static_cast<size_t>(channels);
  s1.assign(c, 0.0);
  s2.assign(c, 0.0);
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
#pragma omp parallel if (rows * channels >= kSerialBelow)
  {
    std::vector<double> t1(c, 0.0), t2(c, 0.0);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * kBlockRows, r1 = std::min(rows, r0 + kBlockRows);
      int64_t j = 0;
      for (; j + 32 <= channels; j += 32) chunk_sums<32>(f, r0, r1, channels, j, t1.data(), t2.data());
      for (; j + 8 <= channels; j += 8) chunk_sums<8>(f, r0, r1, channels, j, t1.data(), t2.data());
      for (; j < channels; ++j) chunk_sums<1>(f, r0, r1, channels, j, t1.data(), t2.data());
    }
#pragma omp critical
    for (size_t k = 0; k < c; ++k) s1[k] += t1[k], s2[k] += t2[k];
  }
}

// z = x·a + b per channel: a = gamma·inv_std, b = beta − mean·a (float, as the passes use).
struct ChannelAffine {
  std::vector<float> a, b;
};
ChannelAffine bn_affine(const Tensor& weight, const Tensor& bias, const Tensor& mean,
                        const Tensor& var, float eps) {
  const std::vector<float> g = weight.to_vector(), be = bias.to_vector(), mu = mean.to_vector(),
                           v = var.to_vector();
  ChannelAffine t{std::vector<float>(g.size()), std::vector<float>(g.size())};
  for (size_t k = 0; k < g.size(); ++k) {
    const double a = double(g[k]) / std::sqrt(double(v[k]) + eps);
    t.a[k] = static_cast<float>(a);
    t.b[k] = static_cast<float>(double(be[k]) - double(mu[k]) * a);
  }
  return t;
}

void check_fused_args(const Tensor& weight, const Tensor& bias, const char* op) {
  KZ_CHECK(weight.defined() && bias.defined(), op, "needs weight and bias (affine batch norm)");
}

// dz = dy where 0 < z < 6 (z = x·a + b), else 0: the ReLU6 mask for any layout, in x's
// compute layout (the unfused paths).
Tensor relu6_masked(const Tensor& dy, const Tensor& x, const ChannelAffine& t) {
  const Layout layout = compute_layout(x);
  const Tensor xin = to_layout(x, layout), dyin = to_layout(dy, layout);
  Tensor dz = empty_in_layout(x.shape(), layout);
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  const float *xp = xin.data(), *dyp = dyin.data();
  float* out = dz.data();
  for (int64_t i = 0; i < n * c * hw; ++i) {
    const int64_t ch = layout == Layout::nhwc ? i % c : (i / hw) % c;
    const float z = xp[i] * t.a[size_t(ch)] + t.b[size_t(ch)];
    out[i] = z > 0.0f && z < 6.0f ? dyp[i] : 0.0f;
  }
  return dz;
}

void clamp_relu6(Tensor& y) {
  float* p = y.data();
  const int64_t n = y.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = std::min(std::max(p[i], 0.0f), 6.0f);
}

}  // namespace

Tensor batch_norm_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                Tensor& running_mean, Tensor& running_var, bool training,
                                float momentum, float eps, BatchNormSaved* saved) {
  check_forward_args(x, weight, bias, running_mean, running_var, training, momentum, eps);
  check_fused_args(weight, bias, "batch_norm_relu6");
  if (layout_of(x) != Layout::nhwc) {  // the unfused oneDNN path
    Tensor y = batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                                  momentum, eps, saved);
    clamp_relu6(y);
    if (!training && saved)
      *saved = BatchNormSaved{running_mean.clone(), inv_std_of(running_var, eps),
                              running_var.clone()};
    return y;
  }
  // x (M,C) row-major, y likewise.
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const float* xp = x.data();
  Tensor mean, var;
  if (training) {
    std::vector<float> shift(xp, xp + channels);  // K: the first row
    const float* k = shift.data();
    std::vector<double> s1, s2;
    channel_sums(rows, channels, [&](int64_t i, int64_t j) {
      const float d = xp[i] - k[j];
      return std::pair{d, d * d};
    }, s1, s2);
    std::vector<float> mu(static_cast<size_t>(channels)), v(mu.size());
    for (size_t j = 0; j < size_t(channels); ++j) {
      const double m1 = s1[j] / double(rows);
      mu[j] = static_cast<float>(double(shift[j]) + m1);
      v[j] = static_cast<float>(std::max(s2[j] / double(rows) - m1 * m1, 0.0));
    }
    mean = Tensor::from_vector(mu, {channels});
    var = Tensor::from_vector(v, {channels});
    if (running_mean.defined()) {
      batch_norm_update_running(running_mean, running_var, mean, var, momentum, rows);
    }
  } else {
    mean = running_mean.clone();
    var = running_var.clone();
  }
  const ChannelAffine t = bn_affine(weight, bias, mean, var, eps);
  Tensor y = empty_in_layout(x.shape(), Layout::nhwc);
  float* yp = y.data();
  const float *a = t.a.data(), *b = t.b.data();
#pragma omp parallel for schedule(static) if (rows * channels >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = xp + r * channels;
    float* out = yp + r * channels;
    for (int64_t j = 0; j < channels; ++j)
      out[j] = std::min(std::max(row[j] * a[j] + b[j], 0.0f), 6.0f);
  }
  if (saved) *saved = BatchNormSaved{mean, inv_std_of(var, eps), var};
  return y;
}

void batch_norm_relu6_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                               const Tensor& bias, const BatchNormSaved& saved, bool training,
                               float eps, Tensor* dx, Tensor* dweight, Tensor* dbias) {
  check_backward_args(dy, x, weight, saved.mean, saved.var, "batch_norm_relu6_backward");
  check_fused_args(weight, bias, "batch_norm_relu6_backward");
  const ChannelAffine t = bn_affine(weight, bias, saved.mean, saved.var, eps);
  if (layout_of(x) != Layout::nhwc) {  // the unfused oneDNN path
    const Tensor dz = relu6_masked(dy, x, t);
    if (training)
      batch_norm_backward(dz, x, weight, saved, eps, dx, dweight, dbias);
    else
      batch_norm_backward_inference(dz, x, weight, saved.mean, saved.var, eps, dx, dweight,
                                    dbias);
    return;
  }
  // x, dy, dx (M,C) row-major. Pass 1: Σdz and Σdz·(x − mean) per channel.
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const Tensor dyin = to_layout(dy, Layout::nhwc);
  const float *xp = x.data(), *dyp = dyin.data(), *a = t.a.data(), *b = t.b.data();
  const std::vector<float> mu = saved.mean.to_vector(), g = weight.to_vector(),
                           var = saved.var.to_vector();
  const float* m = mu.data();
  std::vector<double> sum_dz, sum_dz_xc;
  channel_sums(rows, channels, [&](int64_t i, int64_t j) {
    const float z = xp[i] * a[j] + b[j];
    // dy is loaded whether or not the mask keeps it: written as `mask ? dy[i] : 0`, GCC
    // emits a masked load that waits for x's load and the compare, which halves the
    // memory parallelism of this bandwidth-bound pass (bench_ops bn_relu6_fused/96ch_48px
    // backward: 27 → 17 ms). Pass 2 below likewise.
    const float dv = dyp[i];
    const float dz = z > 0.0f && z < 6.0f ? dv : 0.0f;
    return std::pair{dz, dz * (xp[i] - m[j])};
  }, sum_dz, sum_dz_xc);
  // dγ = inv_std·Σdz(x−μ), dβ = Σdz; dx = k1·dz + k2·x + k3 (training: γ·inv_std·(dz −
  // dβ/M − x̂·dγ/M); inference: γ·inv_std·dz).
  const auto c = static_cast<size_t>(channels);
  std::vector<float> dw(c), db(c), k1(c), k2(c), k3(c);
  for (size_t j = 0; j < c; ++j) {
    const double s = 1.0 / std::sqrt(double(var[j]) + eps);
    const double dgamma = s * sum_dz_xc[j], dbeta = sum_dz[j], gs = double(g[j]) * s;
    dw[j] = static_cast<float>(dgamma);
    db[j] = static_cast<float>(dbeta);
    k1[j] = static_cast<float>(gs);
    if (training) {
      const double mcount = double(rows);
      k2[j] = static_cast<float>(-gs * s * dgamma / mcount);
      k3[j] = static_cast<float>(-gs * dbeta / mcount + gs * s * double(m[j]) * dgamma / mcount);
    } else {
      k2[j] = k3[j] = 0.0f;
    }
  }
  if (dweight) *dweight = Tensor::from_vector(dw, {channels});
  if (dbias) *dbias = Tensor::from_vector(db, {channels});
  if (!dx) return;
  // Pass 2: dx. *dx may arrive holding dy's own buffer (autograd passes it when it holds the
  // only reference to dy): each dx is then written over the dy just read, and no fresh
  // buffer is pulled into the cache only to be overwritten (bench_train 96×96 w1.0: +3 %).
  const bool in_place =
      dx->defined() && dx->data() == dyin.data() && layout_of(*dx) == Layout::nhwc;
  Tensor dx_out = in_place ? *dx : empty_in_layout(x.shape(), Layout::nhwc);
  float* dxp = dx_out.data();
  const float *q1 = k1.data(), *q2 = k2.data(), *q3 = k3.data();
  // One row: dz from x and dy, then dx; `d` and `out` are the same row when in place (read
  // before written, element by element), distinct otherwise.
  auto dx_row = [&](const float* __restrict row, const float* d, float* out) {
    for (int64_t j = 0; j < channels; ++j) {
      const float z = row[j] * a[j] + b[j];
      const float dv = d[j];
      const float dz = z > 0.0f && z < 6.0f ? dv : 0.0f;
      out[j] = q1[j] * dz + q2[j] * row[j] + q3[j];
    }
  };
#pragma omp parallel for schedule(static) if (rows * channels >= kSerialBelow)
  for (int64_t r = 0; r < rows; ++r) {
    float* out = dxp + r * channels;
    if (in_place)
      dx_row(xp + r * channels, out, out);
    else
      dx_row(xp + r * channels, dyp + r * channels, out);
  }
  *dx = dx_out;
}

Tensor batch_norm_relu6_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      Tensor& running_mean, Tensor& running_var, bool training,
                                      float momentum, float eps, BatchNormSaved* saved) {
  check_fused_args(weight, bias, "batch_norm_relu6");
  Tensor y = batch_norm_forward_naive(x, weight, bias, running_mean, running_var, training,
                                      momentum, eps, saved);
  clamp_relu6(y);
  if (!training && saved)
    *saved = BatchNormSaved{running_mean.clone(), inv_std_of(running_var, eps),
                            running_var.clone()};
  return y;
}

void batch_norm_relu6_backward_naive(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                     const Tensor& bias, const BatchNormSaved& saved,
                                     bool training, float eps, Tensor* dx, Tensor* dweight,
                                     Tensor* dbias) {
  check_backward_args(dy, x, weight, saved.mean, saved.var, "batch_norm_relu6_backward");
  check_fused_args(weight, bias, "batch_norm_relu6_backward");
  const Tensor dz = relu6_masked(dy, x, bn_affine(weight, bias, saved.mean, saved.var, eps));
  backward_naive(dz, x, weight, saved.mean, saved.var, eps, training, dx, dweight, dbias);
}

}  // namespace kz
