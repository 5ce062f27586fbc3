// conv_transpose2d.cpp — 2-D transposed convolution: forward, backward-data and
// backward-weights on oneDNN's deconvolution primitives (tensor/dnnl.h), and the naive loops
// they are tested against.
//
// Shapes: x (N,C,H,W), weight (C,O/G,kH,kW) with G = groups (PyTorch's layout), bias (O),
// y and dy (N,O,OH,OW).
// oneDNN describes deconvolution weights as (O, C, kH, kW) — (G, O/G, C/G, kH, kW) when
// grouped — so PyTorch's tensor is that with the first two dims swapped in memory: the
// format tag `iohw` (`giohw`). As in conv2d.cpp, activations are read and written in place in
// their own layout (NCHW or channels-last, the fast one) and only the weights are reordered
// into the blocked layout the chosen implementation wants ("any").
// Padding: oneDNN's deconvolution has OH = (H − 1)·s − pad_l − pad_r + kH, so PyTorch's
// padding p and output_padding op are pad_l = p, pad_r = p − op (negative when op > p: one
// more row of y than the full scatter reaches, which gets the bias only).
// oneDNN 2.6 implements these on its convolution kernels (deconvolution forward is
// convolution backward-data, and so on); their names are what dnnl_impls() reports.
// Layouts of results: y in x's layout, dx in dy's layout, dweight contiguous (C,O/G,kH,kW).
#include "tensor/conv_transpose2d.h"

#include <optional>

#include "tensor/dnnl.h"
#include "tensor/ops.h"
#include "tensor/strided.h"

namespace kz {

Shape conv_transpose2d_output_shape(const Shape& x, const Shape& weight,
                                    const ConvTranspose2dParams& p) {
  const char* op = "conv_transpose2d";
  KZ_CHECK(x.size() == 4, op, "x must be (N,C,H,W), got {}", shape_str(x));
  KZ_CHECK(weight.size() == 4, op, "weight must be (C,O/groups,kH,kW), got {}",
           shape_str(weight));
  KZ_CHECK(p.stride >= 1 && p.groups >= 1 && p.padding >= 0, op,
           "stride and groups must be >= 1 and padding >= 0, got stride {}, groups {}, "
           "padding {}",
           p.stride, p.groups, p.padding);
  KZ_CHECK(p.output_padding >= 0 && p.output_padding < p.stride, op,
           "output_padding must be in [0, stride {}), got {} (x {}, weight {})", p.stride,
           p.output_padding, shape_str(x), shape_str(weight));
  KZ_CHECK(weight[0] == x[1], op, "weight {} expects {} input channels, x is {}",
           shape_str(weight), weight[0], shape_str(x));
  KZ_CHECK(x[1] % p.groups == 0, op, "input channels must divide by groups {}: x {}, weight {}",
           p.groups, shape_str(x), shape_str(weight));
  KZ_CHECK(x[0] > 0 && x[2] > 0 && x[3] > 0 && weight[1] > 0 && weight[2] > 0 && weight[3] > 0,
           op, "empty input or kernel: x {}, weight {}", shape_str(x), shape_str(weight));
  const int64_t oh = (x[2] - 1) * p.stride - 2 * p.padding + weight[2] + p.output_padding;
  const int64_t ow = (x[3] - 1) * p.stride - 2 * p.padding + weight[3] + p.output_padding;
  KZ_CHECK(oh > 0 && ow > 0, op,
           "padding {} leaves no output ({}x{}) for x {}, weight {}, stride {}", p.padding, oh,
           ow, shape_str(x), shape_str(weight), p.stride);
  return {x[0], weight[1] * p.groups, oh, ow};
}

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

void check_bias(const Tensor& bias, int64_t out_channels) {
  KZ_CHECK(!bias.defined() || bias.shape() == Shape{out_channels}, "conv_transpose2d",
           "bias must be ({},), got {}", out_channels, shape_str(bias.shape()));
}

void check_dy(const Tensor& dy, const Shape& x_shape, const Shape& w_shape,
              const ConvTranspose2dParams& p, const char* op) {
  const Shape want = conv_transpose2d_output_shape(x_shape, w_shape, p);
  KZ_CHECK(dy.shape() == want, op, "dy must be {} for x {} and weight {}, got {}",
           shape_str(want), shape_str(x_shape), shape_str(w_shape), shape_str(dy.shape()));
}

// Everything that fixes a deconvolution primitive, and the oneDNN descriptors it implies.
struct DeconvGeometry {
  Shape x, w, y;
  ConvTranspose2dParams p;
  Layout layout;  // of the activations x, y (nchw or nhwc)
  bool bias;

  DeconvGeometry(const Shape& x_, const Shape& w_, const ConvTranspose2dParams& p_, Layout l,
                 bool b)
      : x(x_), w(w_), y(conv_transpose2d_output_shape(x_, w_, p_)), p(p_), layout(l), bias(b) {}

  DnnlKey key(const char* op) const {
    return {op, {x[0], x[1], x[2], x[3], w[1], w[2], w[3], p.stride, p.padding,
                 p.output_padding, p.groups, bias, static_cast<int64_t>(layout)}};
  }
  std::string describe(const char* op) const {
    return fmt::format("{} x{} w{} g{} s{} p{} op{} {}", op, shape_str(x), shape_str(w),
                       p.groups, p.stride, p.padding, p.output_padding,
                       layout == Layout::nhwc ? "nhwc" : "nchw");
  }
  memory::desc x_md() const { return dnnl_desc(x, layout); }
  memory::desc y_md() const { return dnnl_desc(y, layout); }
  // oneDNN's (O, C, kH, kW), or (G, O/G, C/G, kH, kW).
  memory::dims w_dims() const {
    if (p.groups == 1) return {w[1], w[0], w[2], w[3]};
    return {p.groups, w[1], w[0] / p.groups, w[2], w[3]};
  }
  memory::desc w_user_md() const {  // our (C, O/G, kH, kW) tensor
    return dnnl_desc(w_dims(), p.groups == 1 ? tag::iohw : tag::giohw);
  }
  memory::desc w_any_md() const { return dnnl_desc(w_dims(), tag::any); }
  memory::desc b_md() const { return dnnl_desc({y[1]}, tag::a); }
  memory::dims strides() const { return {p.stride, p.stride}; }
  memory::dims pad_l() const { return {p.padding, p.padding}; }
  memory::dims pad_r() const {
    const int64_t r = p.padding - p.output_padding;
    return {r, r};
  }

  dnnl::deconvolution_forward::primitive_desc forward_pd(bool with_bias) const {
    using F = dnnl::deconvolution_forward;
    const auto pk = dnnl::prop_kind::forward_training;
    const auto algo = dnnl::algorithm::deconvolution_direct;
    const F::desc d = with_bias ? F::desc(pk, algo, x_md(), w_any_md(), b_md(), y_md(),
                                          strides(), pad_l(), pad_r())
                                : F::desc(pk, algo, x_md(), w_any_md(), y_md(), strides(),
                                          pad_l(), pad_r());
    return F::primitive_desc(d, dnnl_engine());
  }
};

struct DeconvForwardPlan {
  dnnl::deconvolution_forward::primitive_desc pd;
  dnnl::deconvolution_forward prim;
  std::optional<dnnl::reorder> weights_in;  // (C,O,kH,kW) -> the primitive's layout
};

struct DeconvBackwardDataPlan {
  dnnl::deconvolution_backward_data::primitive_desc pd;
  dnnl::deconvolution_backward_data prim;
  std::optional<dnnl::reorder> weights_in;
};

struct DeconvBackwardWeightsPlan {
  dnnl::deconvolution_backward_weights::primitive_desc pd;
  dnnl::deconvolution_backward_weights prim;
  std::optional<dnnl::reorder> dweights_out;  // the primitive's layout -> (C,O,kH,kW)
};

}  // namespace

// --- oneDNN ---------------------------------------------------------------------------------

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const ConvTranspose2dParams& p) {
  conv_transpose2d_output_shape(x.shape(), weight.shape(), p);  // checks before layout_of
  const DeconvGeometry g(x.shape(), weight.shape(), p, compute_layout(x), bias.defined());
  check_bias(bias, g.y[1]);
  const char* op = "conv_transpose2d_forward";
  auto plan = dnnl_cached<DeconvForwardPlan>(g.key(op), [&] {
    auto pd = g.forward_pd(g.bias);
    dnnl_note_impl(g.describe(op), pd);
    return DeconvForwardPlan{pd, dnnl::deconvolution_forward(pd),
                             dnnl_reorder_if_needed(g.w_user_md(), pd.weights_desc(),
                                                    "deconv weights")};
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

Tensor conv_transpose2d_backward_data(const Tensor& dy, const Tensor& weight,
                                      const Shape& x_shape, const ConvTranspose2dParams& p) {
  const char* op = "conv_transpose2d_backward_data";
  check_dy(dy, x_shape, weight.shape(), p, op);
  const DeconvGeometry g(x_shape, weight.shape(), p, compute_layout(dy), false);
  auto plan = dnnl_cached<DeconvBackwardDataPlan>(g.key(op), [&] {
    using B = dnnl::deconvolution_backward_data;
    const B::desc d(dnnl::algorithm::deconvolution_direct, g.x_md(), g.w_any_md(), g.y_md(),
                    g.strides(), g.pad_l(), g.pad_r());
    const B::primitive_desc pd(d, dnnl_engine(), g.forward_pd(false));
    dnnl_note_impl(g.describe(op), pd);
    return DeconvBackwardDataPlan{
        pd, B(pd), dnnl_reorder_if_needed(g.w_user_md(), pd.weights_desc(), "deconv weights")};
  });
  const Tensor dyin = to_layout(dy, g.layout), w = weight.contiguous();
  Tensor dx = empty_in_layout(g.x, g.layout), w_holder;
  dnnl_execute(plan->prim,
               {{DNNL_ARG_DIFF_DST, dnnl_memory(g.y_md(), dyin)},
                {DNNL_ARG_WEIGHTS,
                 dnnl_weights_for(plan->weights_in, dnnl_memory(g.w_user_md(), w),
                                  plan->pd.weights_desc(), &w_holder)},
                {DNNL_ARG_DIFF_SRC, dnnl_memory(g.x_md(), dx)}});
  return dx;
}

Tensor conv_transpose2d_backward_weights(const Tensor& dy, const Tensor& x,
                                         const Shape& weight_shape,
                                         const ConvTranspose2dParams& p, Tensor* dbias) {
  const char* op = "conv_transpose2d_backward_weights";
  check_dy(dy, x.shape(), weight_shape, p, op);
  const DeconvGeometry g(x.shape(), weight_shape, p, compute_layout(x), dbias != nullptr);
  auto plan = dnnl_cached<DeconvBackwardWeightsPlan>(g.key(op), [&] {
    using B = dnnl::deconvolution_backward_weights;
    const auto algo = dnnl::algorithm::deconvolution_direct;
    const B::desc d = g.bias ? B::desc(algo, g.x_md(), g.w_any_md(), g.b_md(), g.y_md(),
                                       g.strides(), g.pad_l(), g.pad_r())
                             : B::desc(algo, g.x_md(), g.w_any_md(), g.y_md(), g.strides(),
                                       g.pad_l(), g.pad_r());
    const B::primitive_desc pd(d, dnnl_engine(), g.forward_pd(g.bias));
    dnnl_note_impl(g.describe(op), pd);
    return DeconvBackwardWeightsPlan{
        pd, B(pd),
        dnnl_reorder_if_needed(pd.diff_weights_desc(), g.w_user_md(), "deconv dweights")};
  });
  const Tensor xin = to_layout(x, g.layout), dyin = to_layout(dy, g.layout);
  Tensor dweight = Tensor::empty(weight_shape), dw_holder;
  const memory dw_user = dnnl_memory(g.w_user_md(), dweight);
  const memory dw_prim = plan->dweights_out
                             ? dnnl_scratch_memory(plan->pd.diff_weights_desc(), &dw_holder)
                             : dw_user;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, dnnl_memory(g.x_md(), xin)},
                                       {DNNL_ARG_DIFF_DST, dnnl_memory(g.y_md(), dyin)},
                                       {DNNL_ARG_DIFF_WEIGHTS, dw_prim}};
  if (dbias) {
    *dbias = Tensor::empty({g.y[1]});
    args[DNNL_ARG_DIFF_BIAS] = dnnl_memory(g.b_md(), *dbias);
  }
  dnnl_execute(plan->prim, args);
  if (plan->dweights_out)
    dnnl_execute(*plan->dweights_out, {{DNNL_ARG_FROM, dw_prim}, {DNNL_ARG_TO, dw_user}});
  return dweight;
}

// --- naive reference ------------------------------------------------------------------------
// Direct loops over every input element and kernel tap, reading any strides; float sums.

namespace {

// Calls f(n, c, ih, iw, o, oi, oh, ow, kh, kw) for every product term
// x[n,c,ih,iw]·w[c,oi,kh,kw] that lands inside y at (n,o,oh,ow); o is the output channel,
// oi its index within c's group.
template <class F>
void for_each_tap(const Shape& xs, const Shape& ws, const Shape& ys,
                  const ConvTranspose2dParams& p, F&& f) {
  const int64_t cg = xs[1] / p.groups, og = ws[1];
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t c = 0; c < xs[1]; ++c)
      for (int64_t ih = 0; ih < xs[2]; ++ih)
        for (int64_t iw = 0; iw < xs[3]; ++iw)
          for (int64_t oi = 0; oi < og; ++oi)
            for (int64_t kh = 0; kh < ws[2]; ++kh) {
              const int64_t oh = ih * p.stride - p.padding + kh;
              if (oh < 0 || oh >= ys[2]) continue;
              for (int64_t kw = 0; kw < ws[3]; ++kw) {
                const int64_t ow = iw * p.stride - p.padding + kw;
                if (ow < 0 || ow >= ys[3]) continue;
                f(n, c, ih, iw, (c / cg) * og + oi, oi, oh, ow, kh, kw);
              }
            }
}

}  // namespace

Tensor conv_transpose2d_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      const ConvTranspose2dParams& p) {
  const Shape ys = conv_transpose2d_output_shape(x.shape(), weight.shape(), p);
  check_bias(bias, ys[1]);
  Tensor y = empty_in_layout(ys, compute_layout(x));
  y.zero_();
  const At4 xa(x), wa(weight), ya(y);
  float* yp = y.data();
  for_each_tap(x.shape(), weight.shape(), ys, p,
               [&](int64_t n, int64_t c, int64_t ih, int64_t iw, int64_t o, int64_t oi,
                   int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
                 yp[ya.index(n, o, oh, ow)] += xa(n, c, ih, iw) * wa(c, oi, kh, kw);
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

Tensor conv_transpose2d_backward_data_naive(const Tensor& dy, const Tensor& weight,
                                            const Shape& x_shape,
                                            const ConvTranspose2dParams& p) {
  check_dy(dy, x_shape, weight.shape(), p, "conv_transpose2d_backward_data");
  Tensor dx = empty_in_layout(x_shape, compute_layout(dy));
  dx.zero_();
  const At4 dya(dy), wa(weight), dxa(dx);
  float* dxp = dx.data();
  for_each_tap(x_shape, weight.shape(), dy.shape(), p,
               [&](int64_t n, int64_t c, int64_t ih, int64_t iw, int64_t o, int64_t oi,
                   int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
                 dxp[dxa.index(n, c, ih, iw)] += dya(n, o, oh, ow) * wa(c, oi, kh, kw);
               });
  return dx;
}

Tensor conv_transpose2d_backward_weights_naive(const Tensor& dy, const Tensor& x,
                                               const Shape& weight_shape,
                                               const ConvTranspose2dParams& p, Tensor* dbias) {
  check_dy(dy, x.shape(), weight_shape, p, "conv_transpose2d_backward_weights");
  Tensor dweight = Tensor::zeros(weight_shape);
  const At4 dya(dy), xa(x), dwa(dweight);
  float* dwp = dweight.data();
  for_each_tap(x.shape(), weight_shape, dy.shape(), p,
               [&](int64_t n, int64_t c, int64_t ih, int64_t iw, int64_t o, int64_t oi,
                   int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
                 dwp[dwa.index(c, oi, kh, kw)] += dya(n, o, oh, ow) * xa(n, c, ih, iw);
               });
  if (dbias) *dbias = sum(dy, {0, 2, 3});
  return dweight;
}

}  // namespace kz
