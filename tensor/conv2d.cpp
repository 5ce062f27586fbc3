// conv2d.cpp — 2-D convolution: forward, backward-data and backward-weights through oneDNN
// (tensor/dnnl.h), and the naive loops they are tested against.
//
// Shapes: x (N,C,H,W), weight (O,C/G,kH,kW) with G = groups, bias (O), y and dy (N,O,OH,OW).
// oneDNN reads and writes activations in place, in their own layout (NCHW or channels-last:
// the channels-last path is the fast one, brgconv / brdgmm_dw); only the weights are
// reordered into whatever blocked layout the chosen implementation wants ("any").
// Layouts of results: y in x's layout, dx in dy's layout, dweight contiguous OIHW.
// Where oneDNN 2.6 is slow, kizuki's own: depthwise backward-weights on channels-last data
// wherever oneDNN offers no jit_dw kernel for it (the small maps at the end of MobileNetV2),
// the backward of pointwise convolutions as GEMMs where jit_1x1 is slow, and their forward
// as one GEMM on 1×1 maps (see below).
#include "tensor/conv2d.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "tensor/blas.h"
#include "tensor/dnnl.h"
#include "tensor/strided.h"

namespace kz {

Conv2dParams Conv2dParams::symmetric(int64_t stride, int64_t pad, int64_t groups) {
  return Conv2dParams{stride, pad, pad, pad, pad, groups};
}

Conv2dParams Conv2dParams::tf_same(int64_t in_h, int64_t in_w, int64_t kernel, int64_t stride,
                                   int64_t groups) {
  KZ_CHECK(in_h > 0 && in_w > 0 && kernel > 0 && stride > 0, "conv2d",
           "tf_same needs positive sizes, got input {}x{}, kernel {}, stride {}", in_h, in_w,
           kernel, stride);
  auto total = [&](int64_t n) {
    return std::max<int64_t>(((n + stride - 1) / stride - 1) * stride + kernel - n, 0);
  };
  const int64_t th = total(in_h), tw = total(in_w);
  return Conv2dParams{stride, th / 2, th - th / 2, tw / 2, tw - tw / 2, groups};
}

Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& p) {
  KZ_CHECK(x.size() == 4, "conv2d", "x must be (N,C,H,W), got {}", shape_str(x));
  KZ_CHECK(weight.size() == 4, "conv2d", "weight must be (O,C/groups,kH,kW), got {}",
           shape_str(weight));
  KZ_CHECK(p.groups >= 1 && p.stride >= 1, "conv2d", "groups and stride must be >= 1, got {}, {}",
           p.groups, p.stride);
  KZ_CHECK(p.pad_top >= 0 && p.pad_bottom >= 0 && p.pad_left >= 0 && p.pad_right >= 0,
           "conv2d", "padding must be >= 0, got top {} bottom {} left {} right {}", p.pad_top,
           p.pad_bottom, p.pad_left, p.pad_right);
  KZ_CHECK(x[1] % p.groups == 0 && weight[0] % p.groups == 0, "conv2d",
           "channels must divide by groups {}: x {}, weight {}", p.groups, shape_str(x),
           shape_str(weight));
  KZ_CHECK(weight[1] * p.groups == x[1], "conv2d",
           "weight {} with groups {} expects {} input channels, x is {}", shape_str(weight),
           p.groups, weight[1] * p.groups, shape_str(x));
  const int64_t oh = (x[2] + p.pad_top + p.pad_bottom - weight[2]) / p.stride + 1;
  const int64_t ow = (x[3] + p.pad_left + p.pad_right - weight[3]) / p.stride + 1;
  KZ_CHECK(x[2] + p.pad_top + p.pad_bottom >= weight[2] &&
               x[3] + p.pad_left + p.pad_right >= weight[3] && x[0] > 0,
           "conv2d", "kernel {} larger than padded input {}", shape_str(weight), shape_str(x));
  return {x[0], weight[0], oh, ow};
}

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

void check_bias(const Tensor& bias, int64_t out_channels) {
  KZ_CHECK(!bias.defined() || bias.shape() == Shape{out_channels}, "conv2d",
           "bias must be ({},), got {}", out_channels, shape_str(bias.shape()));
}

void check_dy(const Tensor& dy, const Shape& x_shape, const Shape& w_shape,
              const Conv2dParams& p, const char* op) {
  const Shape want = conv2d_output_shape(x_shape, w_shape, p);
  KZ_CHECK(dy.shape() == want, op, "dy must be {} for x {} and weight {}, got {}",
           shape_str(want), shape_str(x_shape), shape_str(w_shape), shape_str(dy.shape()));
}

// Everything that fixes a convolution primitive, and the oneDNN descriptors it implies.
struct ConvGeometry {
  Shape x, w, y;
  Conv2dParams p;
  Layout layout;  // of the activations x, y (nchw or nhwc)
  bool bias;

  ConvGeometry(const Shape& x_, const Shape& w_, const Conv2dParams& p_, Layout l, bool b)
      : x(x_), w(w_), y(conv2d_output_shape(x_, w_, p_)), p(p_), layout(l), bias(b) {}

  DnnlKey key(const char* op) const {
    return {op, {x[0], x[1], x[2], x[3], w[0], w[2], w[3], p.stride, p.pad_top, p.pad_bottom,
                 p.pad_left, p.pad_right, p.groups, bias, static_cast<int64_t>(layout)}};
  }
  std::string describe(const char* op) const {
    return fmt::format("{} x{} w{} g{} s{} pad({},{},{},{}) {}", op, shape_str(x), shape_str(w),
                       p.groups, p.stride, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right,
                       layout == Layout::nhwc ? "nhwc" : "nchw");
  }
  memory::desc x_md() const { return dnnl_desc(x, layout); }
  memory::desc y_md() const { return dnnl_desc(y, layout); }
  memory::dims w_dims() const {
    if (p.groups == 1) return w;
    return {p.groups, w[0] / p.groups, w[1], w[2], w[3]};
  }
  memory::desc w_user_md() const {  // our OIHW tensor (as goihw when grouped)
    return dnnl_desc(w_dims(), p.groups == 1 ? tag::oihw : tag::goihw);
  }
  memory::desc w_any_md() const { return dnnl_desc(w_dims(), tag::any); }
  memory::desc b_md() const { return dnnl_desc({w[0]}, tag::a); }
  memory::dims strides() const { return {p.stride, p.stride}; }
  memory::dims pad_l() const { return {p.pad_top, p.pad_left}; }
  memory::dims pad_r() const { return {p.pad_bottom, p.pad_right}; }

  // relu6: y = min(max(conv, 0), 6) by an eltwise_clip post-op (inference only).
  dnnl::convolution_forward::primitive_desc forward_pd(bool with_bias, bool relu6 = false) const {
    using F = dnnl::convolution_forward;
    const auto pk = relu6 ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
    const auto algo = dnnl::algorithm::convolution_direct;
    F::desc d = with_bias ? F::desc(pk, algo, x_md(), w_any_md(), b_md(), y_md(), strides(),
                                    pad_l(), pad_r())
                          : F::desc(pk, algo, x_md(), w_any_md(), y_md(), strides(), pad_l(),
                                    pad_r());
    if (!relu6) return F::primitive_desc(d, dnnl_engine());
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    return F::primitive_desc(d, attr, dnnl_engine());
  }
};

struct ConvForwardPlan {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  std::optional<dnnl::reorder> weights_in;  // OIHW -> the primitive's layout
};

struct ConvBackwardDataPlan {
  dnnl::convolution_backward_data::primitive_desc pd;
  std::optional<dnnl::convolution_backward_data> prim;  // none: pointwise_gemm
  std::optional<dnnl::reorder> weights_in;
};

// Pointwise (1×1, stride 1, no padding, groups 1) convolutions on channels-last maps are
// GEMMs: x is (M, C) row-major with M = N·H·W, dy (M, O), weight (O, C), and
//   dx = dy · weight            dweight = dyᵀ · x            dbias[o] = Σ_m dy[m, o]
// Where oneDNN 2.6's jit_1x1 backward is slow, kizuki runs these through sgemm (tensor/blas.h,
// oneDNN's AVX-512 sgemm). Measured per layer in `kizuki profile` (MobileNetV2 at 96×96, batch
// 128, 2 threads; docs/performance.md, change 8):
// - backward-weights of every projection (C > O), at any map size: jit_1x1 reaches 70–200
//   GFLOP/s there, the GEMM about twice that (96→16 at 24×24: 6.6 → 2.8 ms);
// - both backwards on maps of at most kGemmMaxMap pixels (the last blocks; 320→1280 on a 1×1
//   map at 32×32 input: 14.8 → 1.2 ms), backward-weights on maps up to kGemmMaxMapWeights
//   (96→576 at 6×6: 4.3 → 3.0 ms);
// - backward-data when x or y has fewer channels than one AVX-512 vector (16): jit_1x1 pads
//   them to 16 (8→48 at 48×48: 12.6 → 5.4 ms).
// Expansions on larger maps stay on jit_1x1, which is as fast or faster there (16→96 at 48×48:
// 9.9 ms against 11.3 as GEMMs).
constexpr int64_t kGemmMaxMap = 4;
constexpr int64_t kGemmMaxMapWeights = 36;
constexpr int64_t kVectorChannels = 16;

struct ConvBackwardWeightsPlan {
  dnnl::convolution_backward_weights::primitive_desc pd;
  std::optional<dnnl::convolution_backward_weights> prim;  // none: gemm or depthwise_dweight_nhwc
  std::optional<dnnl::reorder> dweights_out;  // the primitive's layout -> OIHW
  bool gemm = false;                          // pointwise_gemm
};

bool is_pointwise_nhwc(const ConvGeometry& g) {
  const Conv2dParams& p = g.p;
  return g.layout == Layout::nhwc && p.groups == 1 && g.w[2] == 1 && g.w[3] == 1 &&
         p.stride == 1 && p.pad_top == 0 && p.pad_bottom == 0 && p.pad_left == 0 &&
         p.pad_right == 0;
}

bool use_gemm_backward_data(const ConvGeometry& g) {
  const int64_t map = g.x[2] * g.x[3], c = g.x[1], o = g.w[0];
  return is_pointwise_nhwc(g) &&
         (map <= kGemmMaxMap || c < kVectorChannels || o < kVectorChannels);
}

// The forward of pointwise convolutions on channels-last 1×1 maps (the last blocks at 32×32
// input, M = N rows) runs as y (M,O) = x (M,C) · weightᵀ, one sgemm, then the bias (and ReLU6)
// in a pass over y: oneDNN 2.6's brgconv_1x1 reaches only 20–70 GFLOP/s there. bench_conv
// pointwise_infer, batch 128, 1 thread: 320→1280 with ReLU6 2.10 → 0.57 ms, 960→320 1.16 →
// 0.40 ms, 160→960 0.60 → 0.22 ms. On 2×2 and 3×3 maps the GEMM is 0–20 % slower than
// brgconv_1x1 and is not used (docs/performance.md, change 10).
bool use_gemm_forward(const ConvGeometry& g) {
  return is_pointwise_nhwc(g) && g.x[2] * g.x[3] == 1;
}

bool use_gemm_backward_weights(const ConvGeometry& g) {
  const int64_t map = g.x[2] * g.x[3], c = g.x[1], o = g.w[0];
  return is_pointwise_nhwc(g) && (c > o || map <= kGemmMaxMapWeights);
}

// Depthwise (groups = C = O) backward-weights on channels-last data: kizuki's own loop, for
// the shapes where oneDNN 2.6 has no depthwise kernel (1×1 and 2×2 maps: it falls back to
// its generic jit there, 20–60× slower than this loop at batch 32, bench_conv). Every
// thread owns a block of channels;
// the innermost loop runs along C, contiguous in both x and dy.
//   dweight[c,0,kh,kw] = Σ_{n,oh,ow} dy[n,c,oh,ow] · x[n,c,oh·s−pt+kh,ow·s−pl+kw]
//   dbias[c] = Σ_{n,oh,ow} dy[n,c,oh,ow]
bool use_own_depthwise(const ConvGeometry& g, const std::string& onednn_impl) {
  return g.layout == Layout::nhwc && g.p.groups == g.x[1] && g.w[0] == g.x[1] &&
         onednn_impl.rfind("jit_dw", 0) != 0;
}

void depthwise_dweight_nhwc(const ConvGeometry& g, const Tensor& dy, const Tensor& x,
                            Tensor& dweight, Tensor* dbias) {
  constexpr int64_t kBlock = 64;  // channels per task; sums for one block stay in L1
  const int64_t n_batch = g.x[0], c_all = g.x[1], h = g.x[2], w = g.x[3];
  const int64_t oh_n = g.y[2], ow_n = g.y[3], kh_n = g.w[2], kw_n = g.w[3], taps = kh_n * kw_n;
  if (dbias) *dbias = Tensor::empty({c_all});
  const float* __restrict xp = x.data();
  const float* __restrict dyp = dy.data();
  float* __restrict dwp = dweight.data();  // (C,1,kH,kW) contiguous
  float* __restrict dbp = dbias ? dbias->data() : nullptr;
  const int64_t blocks = (c_all + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, len = std::min(kBlock, c_all - c0);
    std::vector<float> acc(static_cast<size_t>((taps + 1) * kBlock), 0.0f);  // [tap][c], bias last
    float* __restrict sums = acc.data();
    for (int64_t n = 0; n < n_batch; ++n)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          const float* __restrict gr = dyp + ((n * oh_n + oh) * ow_n + ow) * c_all + c0;
          float* __restrict bsum = sums + taps * kBlock;
          for (int64_t c = 0; c < len; ++c) bsum[c] += gr[c];
          for (int64_t kh = 0; kh < kh_n; ++kh) {
            const int64_t ih = oh * g.p.stride - g.p.pad_top + kh;
            if (ih < 0 || ih >= h) continue;
            for (int64_t kw = 0; kw < kw_n; ++kw) {
              const int64_t iw = ow * g.p.stride - g.p.pad_left + kw;
              if (iw < 0 || iw >= w) continue;
              const float* __restrict xr = xp + ((n * h + ih) * w + iw) * c_all + c0;
              float* __restrict a = sums + (kh * kw_n + kw) * kBlock;
              for (int64_t c = 0; c < len; ++c) a[c] += gr[c] * xr[c];
            }
          }
        }
    for (int64_t c = 0; c < len; ++c) {
      for (int64_t t = 0; t < taps; ++t) dwp[(c0 + c) * taps + t] = sums[t * kBlock + c];
      if (dbp) dbp[c0 + c] = sums[taps * kBlock + c];
    }
  }
}

}  // namespace

// --- oneDNN ---------------------------------------------------------------------------------

namespace {

// y (M,O) = x (M,C) · weightᵀ + bias, then ReLU6 when asked; x channels-last (use_gemm_forward).
Tensor pointwise_forward_gemm(const ConvGeometry& g, const Tensor& x, const Tensor& weight,
                              const Tensor& bias, bool relu6) {
  const int64_t m = g.x[0] * g.x[2] * g.x[3], c = g.x[1], o = g.w[0];
  const Tensor w = weight.contiguous(), b = g.bias ? bias.contiguous() : Tensor();
  Tensor y = empty_in_layout(g.y, Layout::nhwc);
  sgemm(false, true, m, o, c, 1.0f, x.data(), c, w.data(), c, 0.0f, y.data(), o);
  if (!g.bias && !relu6) return y;
  const float* bp = g.bias ? b.data() : nullptr;
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (m * o >= (1 << 15))
  for (int64_t r = 0; r < m; ++r) {
    float* row = yp + r * o;
    for (int64_t q = 0; q < o; ++q) {
      const float v = bp ? row[q] + bp[q] : row[q];
      row[q] = relu6 ? std::min(std::max(v, 0.0f), 6.0f) : v;
    }
  }
  return y;
}

Tensor conv_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv2dParams& p, bool relu6) {
  const ConvGeometry g(x.shape(), weight.shape(), p, compute_layout(x), bias.defined());
  check_bias(bias, g.w[0]);
  const char* op = relu6 ? "conv2d_relu6_forward" : "conv2d_forward";
  if (use_gemm_forward(g)) {
    dnnl_note_own(g.key(relu6 ? "conv2d_relu6_forward:gemm" : "conv2d_forward:gemm"),
                  [&] { return g.describe(op); }, "kizuki:pointwise_gemm");
    return pointwise_forward_gemm(g, to_layout(x, g.layout), weight, bias, relu6);
  }
  auto plan = dnnl_cached<ConvForwardPlan>(g.key(op), [&] {
    auto pd = g.forward_pd(g.bias, relu6);
    dnnl_note_impl(g.describe(op), pd);
    return ConvForwardPlan{
        pd, dnnl::convolution_forward(pd),
        dnnl_reorder_if_needed(g.w_user_md(), pd.weights_desc(), "conv weights")};
  });
  const Tensor xin = to_layout(x, g.layout), w = weight.contiguous();
  Tensor y = empty_in_layout(g.y, g.layout), w_holder;
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, dnnl_memory(g.x_md(), xin)},
      {DNNL_ARG_WEIGHTS, dnnl_weights_for(plan->weights_in, dnnl_memory(g.w_user_md(), w),
                                          plan->pd.weights_desc(), &w_holder)},
      {DNNL_ARG_DST, dnnl_memory(g.y_md(), y)}};
  Tensor b;
  if (g.bias) {
    b = bias.contiguous();
    args[DNNL_ARG_BIAS] = dnnl_memory(g.b_md(), b);
  }
  dnnl_execute(plan->prim, args);
  return y;
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& p) {
  return conv_forward(x, weight, bias, p, false);
}

Tensor conv2d_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dParams& p) {
  return conv_forward(x, weight, bias, p, true);
}

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& p) {
  check_dy(dy, x_shape, weight.shape(), p, "conv2d_backward_data");
  const ConvGeometry g(x_shape, weight.shape(), p, compute_layout(dy), false);
  auto plan = dnnl_cached<ConvBackwardDataPlan>(g.key("conv2d_backward_data"), [&] {
    using B = dnnl::convolution_backward_data;
    B::desc d(dnnl::algorithm::convolution_direct, g.x_md(), g.w_any_md(), g.y_md(),
              g.strides(), g.pad_l(), g.pad_r());
    B::primitive_desc pd(d, dnnl_engine(), g.forward_pd(false));
    const std::string what = g.describe("conv2d_backward_data");
    if (use_gemm_backward_data(g)) {
      dnnl_note_impl(what, std::string("kizuki:pointwise_gemm (oneDNN offers ") + pd.impl_info_str() + ")");
      return ConvBackwardDataPlan{pd, std::nullopt, std::nullopt};
    }
    dnnl_note_impl(what, pd);
    return ConvBackwardDataPlan{
        pd, B(pd), dnnl_reorder_if_needed(g.w_user_md(), pd.weights_desc(), "conv weights")};
  });
  const Tensor dyin = to_layout(dy, g.layout), w = weight.contiguous();
  Tensor dx = empty_in_layout(g.x, g.layout), w_holder;
  if (!plan->prim) {  // dx (M,C) = dy (M,O) · weight (O,C)
    const int64_t m = g.x[0] * g.x[2] * g.x[3], c = g.x[1], o = g.w[0];
    sgemm(false, false, m, c, o, 1.0f, dyin.data(), o, w.data(), c, 0.0f, dx.data(), c);
    return dx;
  }
  dnnl_execute(*plan->prim,
               {{DNNL_ARG_DIFF_DST, dnnl_memory(g.y_md(), dyin)},
                {DNNL_ARG_WEIGHTS,
                 dnnl_weights_for(plan->weights_in, dnnl_memory(g.w_user_md(), w),
                                  plan->pd.weights_desc(), &w_holder)},
                {DNNL_ARG_DIFF_SRC, dnnl_memory(g.x_md(), dx)}});
  return dx;
}

Tensor conv2d_backward_weights(const Tensor& dy, const Tensor& x, const Shape& weight_shape,
                               const Conv2dParams& p, Tensor* dbias) {
  check_dy(dy, x.shape(), weight_shape, p, "conv2d_backward_weights");
  const ConvGeometry g(x.shape(), weight_shape, p, compute_layout(x), dbias != nullptr);
  auto plan = dnnl_cached<ConvBackwardWeightsPlan>(g.key("conv2d_backward_weights"), [&] {
    using B = dnnl::convolution_backward_weights;
    const auto algo = dnnl::algorithm::convolution_direct;
    B::desc d = g.bias ? B::desc(algo, g.x_md(), g.w_any_md(), g.b_md(), g.y_md(), g.strides(),
                                 g.pad_l(), g.pad_r())
                       : B::desc(algo, g.x_md(), g.w_any_md(), g.y_md(), g.strides(), g.pad_l(),
                                 g.pad_r());
    B::primitive_desc pd(d, dnnl_engine(), g.forward_pd(g.bias));
    const std::string what = g.describe("conv2d_backward_weights");
    if (use_gemm_backward_weights(g)) {
      dnnl_note_impl(what, std::string("kizuki:pointwise_gemm (oneDNN offers ") + pd.impl_info_str() + ")");
      return ConvBackwardWeightsPlan{pd, std::nullopt, std::nullopt, true};
    }
    if (use_own_depthwise(g, pd.impl_info_str())) {
      dnnl_note_impl(what, std::string("kizuki:depthwise_nhwc (oneDNN offers ") +
                               pd.impl_info_str() + ")");
      return ConvBackwardWeightsPlan{pd, std::nullopt, std::nullopt};
    }
    dnnl_note_impl(what, pd);
    return ConvBackwardWeightsPlan{
        pd, B(pd), dnnl_reorder_if_needed(pd.diff_weights_desc(), g.w_user_md(), "conv dweights")};
  });
  const Tensor xin = to_layout(x, g.layout), dyin = to_layout(dy, g.layout);
  Tensor dweight = Tensor::empty(weight_shape), dw_holder;
  if (plan->gemm) {  // dweight (O,C) = dyᵀ (O,M) · x (M,C); dbias = Σ_m dy
    const int64_t m = g.x[0] * g.x[2] * g.x[3], c = g.x[1], o = g.w[0];
    sgemm(true, false, o, c, m, 1.0f, dyin.data(), o, xin.data(), c, 0.0f, dweight.data(), c);
    if (dbias) {
      std::vector<double> sums(static_cast<size_t>(o), 0.0);
      const float* d = dyin.data();
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < o; ++j) sums[size_t(j)] += d[r * o + j];
      *dbias = Tensor::empty({o});
      for (int64_t j = 0; j < o; ++j) dbias->data()[j] = static_cast<float>(sums[size_t(j)]);
    }
    return dweight;
  }
  if (!plan->prim) {
    depthwise_dweight_nhwc(g, dyin, xin, dweight, dbias);
    return dweight;
  }
  const memory dw_user = dnnl_memory(g.w_user_md(), dweight);
  const memory dw_prim = plan->dweights_out
                             ? dnnl_scratch_memory(plan->pd.diff_weights_desc(), &dw_holder)
                             : dw_user;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, dnnl_memory(g.x_md(), xin)},
                                       {DNNL_ARG_DIFF_DST, dnnl_memory(g.y_md(), dyin)},
                                       {DNNL_ARG_DIFF_WEIGHTS, dw_prim}};
  if (dbias) {
    *dbias = Tensor::empty({g.w[0]});
    args[DNNL_ARG_DIFF_BIAS] = dnnl_memory(g.b_md(), *dbias);
  }
  dnnl_execute(*plan->prim, args);
  if (plan->dweights_out)
    dnnl_execute(*plan->dweights_out, {{DNNL_ARG_FROM, dw_prim}, {DNNL_ARG_TO, dw_user}});
  return dweight;
}

// --- naive reference ------------------------------------------------------------------------
// Direct loops over every output element and kernel tap, reading any strides; float sums.

namespace {

// Calls f(n, o, oh, ow, c, ci, ih, iw, kh, kw) for every product term
// x[n,c,ih,iw]·w[o,ci,kh,kw] that lands inside the input (padding taps skipped); c is the
// input channel, ci its index within o's group.
template <class F>
void for_each_tap(const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p,
                  F&& f) {
  const int64_t og = ws[0] / p.groups, cg = ws[1];
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t o = 0; o < ys[1]; ++o)
      for (int64_t oh = 0; oh < ys[2]; ++oh)
        for (int64_t ow = 0; ow < ys[3]; ++ow)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t kh = 0; kh < ws[2]; ++kh) {
              const int64_t ih = oh * p.stride - p.pad_top + kh;
              if (ih < 0 || ih >= xs[2]) continue;
              for (int64_t kw = 0; kw < ws[3]; ++kw) {
                const int64_t iw = ow * p.stride - p.pad_left + kw;
                if (iw < 0 || iw >= xs[3]) continue;
                f(n, o, oh, ow, (o / og) * cg + ci, ci, ih, iw, kh, kw);
              }
            }
}

}  // namespace

Tensor conv2d_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dParams& p) {
  const Shape ys = conv2d_output_shape(x.shape(), weight.shape(), p);
  check_bias(bias, ys[1]);
  Tensor y = empty_in_layout(ys, compute_layout(x));
  y.zero_();
  const At4 xa(x), wa(weight), ya(y);
  float* yp = y.data();
  for_each_tap(x.shape(), weight.shape(), ys, p,
               [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t c, int64_t ci,
                   int64_t ih, int64_t iw, int64_t kh, int64_t kw) {
                 yp[ya.index(n, o, oh, ow)] += xa(n, c, ih, iw) * wa(o, ci, kh, kw);
               });
  if (bias.defined()) {
    const Tensor b = bias.contiguous();
    for (int64_t n = 0; n < ys[0]; ++n)
      for (int64_t o = 0; o < ys[1]; ++o)
        for (int64_t oh = 0; oh < ys[2]; ++oh)
          for (int64_t ow = 0; ow < ys[3]; ++ow) yp[ya.index(n, o, oh, ow)] += b.data()[o];
  }
  return y;
}

Tensor conv2d_backward_data_naive(const Tensor& dy, const Tensor& weight,
                                  const Shape& x_shape, const Conv2dParams& p) {
  check_dy(dy, x_shape, weight.shape(), p, "conv2d_backward_data");
  Tensor dx = empty_in_layout(x_shape, compute_layout(dy));
  dx.zero_();
  const At4 dya(dy), wa(weight), dxa(dx);
  float* dxp = dx.data();
  for_each_tap(x_shape, weight.shape(), dy.shape(), p,
               [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t c, int64_t ci,
                   int64_t ih, int64_t iw, int64_t kh, int64_t kw) {
                 dxp[dxa.index(n, c, ih, iw)] += dya(n, o, oh, ow) * wa(o, ci, kh, kw);
               });
  return dx;
}

Tensor conv2d_backward_weights_naive(const Tensor& dy, const Tensor& x,
                                     const Shape& weight_shape, const Conv2dParams& p,
                                     Tensor* dbias) {
  check_dy(dy, x.shape(), weight_shape, p, "conv2d_backward_weights");
  Tensor dweight = Tensor::zeros(weight_shape);
  const At4 dya(dy), xa(x), dwa(dweight);
  float* dwp = dweight.data();
  for_each_tap(x.shape(), weight_shape, dy.shape(), p,
               [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t c, int64_t ci,
                   int64_t ih, int64_t iw, int64_t kh, int64_t kw) {
                 dwp[dwa.index(o, ci, kh, kw)] += dya(n, o, oh, ow) * xa(n, c, ih, iw);
               });
  if (dbias) {
    *dbias = Tensor::zeros({weight_shape[0]});
    for (int64_t n = 0; n < dy.size(0); ++n)
      for (int64_t o = 0; o < dy.size(1); ++o)
        for (int64_t oh = 0; oh < dy.size(2); ++oh)
          for (int64_t ow = 0; ow < dy.size(3); ++ow) dbias->data()[o] += dya(n, o, oh, ow);
  }
  return dweight;
}

}  // namespace kz
