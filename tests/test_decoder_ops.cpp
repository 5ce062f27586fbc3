// test_decoder_ops.cpp — the spatial ops of convolutional decoders: conv_transpose2d
// (tensor/conv_transpose2d.h, oneDNN's deconvolution), max_pool2d (tensor/pool2d.h) and
// upsample2d (tensor/upsample.h), as kernels, autograd ops and layers. Each is checked
// against PyTorch (decoder_ops.safetensors from make_decoder_ops.py: forward and the
// gradients of sum(y·dy) for every input), against its naive loops on random shapes in both
// layouts (upsample2d, whose loops are their own reference: layouts against each other and
// the backward as the adjoint of the forward), by gradcheck in both layouts, and on bad
// arguments. Shapes: x (N,C,H,W), y and dy (N,O,OH,OW); transposed-conv weight (C,O/G,k,k).
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "layers/conv_transpose.h"
#include "layers/simple.h"
#include "tensor/conv_transpose2d.h"
#include "tensor/dnnl.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/pool2d.h"
#include "tensor/safetensors.h"
#include "tensor/upsample.h"
#include "tests/error_of.h"
#include "tests/kernel_checks.h"

using namespace kz;

namespace {

using kz::test::case_names;
using kz::test::check_close;
using kz::test::metadata_numbers;
using kz::test::error_of;
using kz::test::in_layout;

const Safetensors& fixture() {
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/decoder_ops.safetensors");
  return f;
}


int64_t draw(Generator& gen, int64_t low, int64_t high) {  // uniform in [low, high]
  return low + static_cast<int64_t>(gen.below(static_cast<uint64_t>(high - low + 1)));
}

// Tiny primitives run faster on one thread (see test_conv.cpp).
class OneThread {
 public:
  OneThread() : saved_(dnnl_num_threads()) { dnnl_set_num_threads(1); }
  ~OneThread() { dnnl_set_num_threads(saved_); }

 private:
  int saved_;
};

// x as a view with a gap between rows: neither NCHW nor channels-last.
Tensor gappy(const Tensor& x) {
  const Tensor wide = Tensor::zeros({x.size(0), x.size(1), x.size(2), x.size(3) + 2});
  Tensor v = wide.narrow(3, 1, x.size(3));
  v.copy_(x);
  REQUIRE(layout_of(v) == Layout::other);
  return v;
}

// Distinct values 0.1 apart in random order: no two taps of a pooling window within a
// finite-difference step of each other.
Tensor distinct_values(const Shape& shape, Generator& gen) {
  const int64_t n = numel_of(shape);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = 0.1f * static_cast<float>(i - n / 2);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(v[size_t(i)], v[size_t(draw(gen, 0, i))]);
  return Tensor::from_vector(v, shape);
}

// Values drawn from {0, 1, 2}: pooling windows full of ties.
Tensor small_integers(const Shape& shape, Generator& gen) {
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (float& e : v) e = static_cast<float>(draw(gen, 0, 2));
  return Tensor::from_vector(v, shape);
}

Layout layout_for(bool channels_last) { return channels_last ? Layout::nhwc : Layout::nchw; }

// Σ a·b over all elements, in double.
double dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  REQUIRE(va.size() == vb.size());
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += double(va[i]) * double(vb[i]);
  return s;
}

}  // namespace

// --- conv_transpose2d -----------------------------------------------------------------------

TEST_CASE("conv_transpose2d: output shapes and bad arguments name the op and the shapes") {
  using P = ConvTranspose2dParams;
  CHECK(conv_transpose2d_output_shape({2, 4, 8, 8}, {4, 3, 4, 4}, P{2, 1, 0, 1}) ==
        Shape{2, 3, 16, 16});
  CHECK(conv_transpose2d_output_shape({2, 4, 8, 8}, {4, 3, 3, 3}, P{2, 1, 1, 1}) ==
        Shape{2, 3, 16, 16});
  CHECK(conv_transpose2d_output_shape({2, 4, 7, 5}, {4, 3, 2, 2}, P{2, 0, 0, 1}) ==
        Shape{2, 3, 14, 10});
  CHECK(conv_transpose2d_output_shape({1, 4, 5, 5}, {4, 2, 3, 3}, P{2, 1, 1, 2}) ==
        Shape{1, 4, 10, 10});

  Generator gen(1);
  const Tensor x = Tensor::normal({2, 4, 5, 5}, 0, 1, gen);
  const Tensor w = Tensor::normal({4, 3, 3, 3}, 0, 1, gen);
  const P p{2, 1, 1, 1};
  auto fwd = [&](const Tensor& xx, const Tensor& ww, const Tensor& b, const P& pp) {
    return error_of([&] { conv_transpose2d_forward(xx, ww, b, pp); });
  };
  const std::string rank = fwd(x.flatten(2), w, Tensor(), p);
  CHECK(rank.find("[conv_transpose2d]") == 0);
  CHECK(rank.find("(2, 4, 25)") != std::string::npos);
  const std::string channels = fwd(x, Tensor::zeros({3, 3, 3, 3}), Tensor(), p);
  CHECK(channels.find("[conv_transpose2d]") == 0);
  CHECK(channels.find("(3, 3, 3, 3)") != std::string::npos);
  CHECK(channels.find("(2, 4, 5, 5)") != std::string::npos);
  const std::string op = fwd(x, w, Tensor(), P{2, 1, 2, 1});
  CHECK(op.find("[conv_transpose2d] output_padding") == 0);
  CHECK(op.find("(2, 4, 5, 5)") != std::string::npos);
  const std::string pad = fwd(Tensor::zeros({1, 4, 1, 1}), Tensor::zeros({4, 3, 1, 1}),
                              Tensor(), P{1, 1, 0, 1});
  CHECK(pad.find("[conv_transpose2d] padding 1 leaves no output") == 0);
  CHECK(pad.find("(1, 4, 1, 1)") != std::string::npos);
  const std::string bias = fwd(x, w, Tensor::zeros({4}), p);
  CHECK(bias.find("[conv_transpose2d] bias must be (3,)") == 0);
  CHECK(fwd(x, w, Tensor(), P{0, 0, 0, 1}).find("[conv_transpose2d] stride") == 0);
  CHECK(fwd(x, w, Tensor(), P{1, 0, 0, 3}).find("divide by groups 3") != std::string::npos);
  CHECK(error_of([&] { conv_transpose2d_forward_naive(x, w, Tensor(), P{2, 1, 2, 1}); })
            .find("[conv_transpose2d] output_padding") == 0);
  const std::string dy = error_of([&] {
    conv_transpose2d_backward_data(Tensor::zeros({2, 3, 9, 9}), w, x.shape(), p);
  });
  CHECK(dy.find("[conv_transpose2d_backward_data] dy must be (2, 3, 10, 10)") == 0);
  CHECK(error_of([&] {
          conv_transpose2d_backward_weights(Tensor::zeros({2, 3, 9, 9}), x, w.shape(), p,
                                            nullptr);
        }).find("[conv_transpose2d_backward_weights]") == 0);
}

TEST_CASE("conv_transpose2d: oneDNN matches the naive loops on random shapes and layouts") {
  const OneThread one_thread;
  Generator gen(21);
  for (int trial = 0; trial < 24; ++trial) {
    const int64_t k = draw(gen, 1, 4), stride = draw(gen, 1, 3);
    const ConvTranspose2dParams p{stride, draw(gen, 0, k - 1), draw(gen, 0, stride - 1),
                                  trial % 4 == 3 ? 2 : 1};
    const int64_t c = p.groups * draw(gen, 1, 4), o = p.groups * draw(gen, 1, 4);
    const int64_t h = draw(gen, 1, 6), w = draw(gen, 1, 6);
    const bool with_bias = trial % 2 == 0;
    const Tensor x = Tensor::normal({2, c, h, w}, 0, 1, gen);
    const Tensor weight = Tensor::normal({c, o / p.groups, k, k}, 0, 0.5f, gen);
    const Tensor bias = with_bias ? Tensor::normal({o}, 0, 1, gen) : Tensor();
    Shape ys;
    try {
      ys = conv_transpose2d_output_shape(x.shape(), weight.shape(), p);
    } catch (const Error&) {  // padding too large for this tiny input: draw again
      continue;
    }
    const Tensor dy = Tensor::normal(ys, 0, 1, gen);
    const Tensor y_ref = conv_transpose2d_forward_naive(x, weight, bias, p);
    const Tensor dx_ref = conv_transpose2d_backward_data_naive(dy, weight, x.shape(), p);
    Tensor db_ref;
    const Tensor dw_ref = conv_transpose2d_backward_weights_naive(
        dy, x, weight.shape(), p, with_bias ? &db_ref : nullptr);
    for (bool cl : {false, true}) {
      const std::string what =
          fmt::format("trial {} x{} w{} s{} p{} op{} g{} bias {} {}", trial,
                      shape_str(x.shape()), shape_str(weight.shape()), p.stride, p.padding,
                      p.output_padding, p.groups, with_bias, cl ? "nhwc" : "nchw");
      const Tensor xl = in_layout(x, cl), dyl = in_layout(dy, cl);
      const Tensor y = conv_transpose2d_forward(xl, weight, bias, p);
      check_close(y, y_ref, 1e-4f, 1e-4f, what + " y");
      CHECK_MESSAGE(layout_of(y) == compute_layout(xl), what, " y layout");
      const Tensor dx = conv_transpose2d_backward_data(dyl, weight, x.shape(), p);
      check_close(dx, dx_ref, 1e-4f, 1e-4f, what + " dx");
      CHECK_MESSAGE(layout_of(dx) == compute_layout(dyl), what, " dx layout");
      Tensor db;
      const Tensor dw = conv_transpose2d_backward_weights(dyl, xl, weight.shape(), p,
                                                          with_bias ? &db : nullptr);
      check_close(dw, dw_ref, 1e-4f, 1e-4f, what + " dweight");
      CHECK(dw.is_contiguous());
      if (with_bias) check_close(db, db_ref, 1e-4f, 1e-4f, what + " dbias");
      if (cl)  // the naive loops read any strides: channels-last in, the same numbers out
        check_close(conv_transpose2d_forward_naive(xl, weight, bias, p), y_ref, 1e-5f, 1e-5f,
                    what + " naive y");
    }
    check_close(conv_transpose2d_forward(gappy(x), weight, bias, p), y_ref, 1e-4f, 1e-4f,
                "odd strides y");
  }
}

TEST_CASE("conv_transpose2d: oneDNN, naive and autograd match PyTorch") {
  const OneThread one_thread;
  const auto names = case_names(fixture(), "ct.");
  REQUIRE(names.size() >= 8);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "ct." + name);
    REQUIRE(m.size() == 5);
    const ConvTranspose2dParams p{int64_t(m[0]), int64_t(m[1]), int64_t(m[2]), int64_t(m[3])};
    const bool with_bias = m[4] != 0;
    const std::string k = "ct." + name + ".";
    const Safetensors& f = fixture();
    const Tensor weight = f.at(k + "weight");
    const Tensor bias = with_bias ? f.at(k + "bias") : Tensor();
    for (bool cl : {false, true}) {
      const Tensor x = in_layout(f.at(k + "x"), cl), dy = in_layout(f.at(k + "dy"), cl);
      for (bool naive : {false, true}) {
        const std::string what = name + (cl ? " nhwc" : " nchw") + (naive ? " naive" : " onednn");
        const Tensor y = naive ? conv_transpose2d_forward_naive(x, weight, bias, p)
                               : conv_transpose2d_forward(x, weight, bias, p);
        check_close(y, f.at(k + "y"), 1e-5f, 1e-5f, what + " y");
        const Tensor dx = naive ? conv_transpose2d_backward_data_naive(dy, weight, x.shape(), p)
                                : conv_transpose2d_backward_data(dy, weight, x.shape(), p);
        check_close(dx, f.at(k + "dx"), 1e-5f, 1e-5f, what + " dx");
        Tensor db;
        Tensor* dbp = with_bias ? &db : nullptr;
        const Tensor dw =
            naive ? conv_transpose2d_backward_weights_naive(dy, x, weight.shape(), p, dbp)
                  : conv_transpose2d_backward_weights(dy, x, weight.shape(), p, dbp);
        check_close(dw, f.at(k + "dweight"), 1e-5f, 1e-5f, what + " dweight");
        if (with_bias) check_close(db, f.at(k + "dbias"), 1e-5f, 1e-5f, what + " dbias");
      }
      // The autograd op: the same output and gradients of sum(y·dy).
      Variable xv(x, true), wv(weight, true), bv(bias, with_bias);
      Variable y = conv_transpose2d(xv, wv, with_bias ? bv : Variable(), p);
      check_close(y.data(), f.at(k + "y"), 1e-5f, 1e-5f, name + " autograd y");
      y.backward(dy);
      check_close(xv.grad(), f.at(k + "dx"), 1e-5f, 1e-5f, name + " autograd dx");
      check_close(wv.grad(), f.at(k + "dweight"), 1e-5f, 1e-5f, name + " autograd dweight");
      if (with_bias)
        check_close(bv.grad(), f.at(k + "dbias"), 1e-5f, 1e-5f, name + " autograd dbias");
    }
  }
}

TEST_CASE("conv_transpose2d: gradcheck of the autograd op, both layouts") {
  const OneThread one_thread;
  Generator gen(23);
  struct Case {
    Shape x, w;
    ConvTranspose2dParams p;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 3, 4}, {3, 2, 3, 3}, {2, 1, 1, 1}, true},
      {{1, 2, 3, 3}, {2, 3, 4, 4}, {2, 1, 0, 1}, false},
      {{2, 2, 2, 3}, {2, 2, 2, 2}, {2, 0, 1, 1}, true},
      {{1, 4, 3, 2}, {4, 1, 3, 3}, {1, 1, 0, 2}, true},
  };
  for (const Case& c : cases)
    for (bool cl : {false, true}) {
      std::vector<Tensor> inputs = {in_layout(Tensor::normal(c.x, 0, 1, gen), cl),
                                    Tensor::normal(c.w, 0, 0.5f, gen)};
      if (c.bias) inputs.push_back(Tensor::normal({c.w[1] * c.p.groups}, 0, 1, gen));
      const auto r = gradcheck(
          [&](const std::vector<Variable>& v) {
            return conv_transpose2d(v[0], v[1], c.bias ? v[2] : Variable(), c.p);
          },
          inputs);
      CHECK_MESSAGE(r.ok, shape_str(c.x), " ", shape_str(c.w), (cl ? " nhwc: " : " nchw: "),
                    r.message);
    }
}

TEST_CASE("ConvTranspose2d: PyTorch's parameter names, shapes and init range") {
  Generator gen(5);
  ConvTranspose2d up(64, 32, 4, {.stride = 2, .padding = 1}, gen);
  const StateDict sd = up.state_dict();
  REQUIRE(sd.size() == 2);
  CHECK(sd.at("weight").shape() == Shape{64, 32, 4, 4});
  CHECK(sd.at("bias").shape() == Shape{32});
  // fan_in = weight.size(1)·k·k = 32·16 = 512 (PyTorch's rule for transposed convs).
  const float bound = 1.0f / std::sqrt(512.0f);
  for (const char* name : {"weight", "bias"}) {
    const std::vector<float> v = sd.at(name).to_vector();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    CHECK_MESSAGE(*lo >= -bound, name);
    CHECK_MESSAGE(*hi <= bound, name);
    CHECK_MESSAGE(*hi - *lo > (v.size() > 100 ? 1.9f : 1.0f) * bound, name, " spans the range");
  }
  Generator g2(5);
  ConvTranspose2d grouped(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1,
                                    .groups = 2, .bias = false}, g2);
  CHECK(grouped.state_dict().size() == 1);
  CHECK(grouped.weight().shape() == Shape{4, 3, 3, 3});
  const Variable y = grouped(Variable(Tensor::zeros({2, 4, 5, 5}).to_channels_last()));
  CHECK(y.shape() == Shape{2, 6, 10, 10});
  CHECK(layout_of(y.data()) == Layout::nhwc);
  CHECK(error_of([&] { up(Variable(Tensor::zeros({1, 3, 4, 4}))); })
            .find("[ConvTranspose2d] expected input (N, 64, H, W), got (1, 3, 4, 4)") == 0);
  CHECK(error_of([&] { ConvTranspose2d(4, 4, 3, {.stride = 2, .output_padding = 2}, gen); })
            .find("[ConvTranspose2d] output_padding") == 0);
}

// --- max_pool2d -----------------------------------------------------------------------------

TEST_CASE("max_pool2d: output shapes and bad arguments name the op and the shapes") {
  CHECK(max_pool2d_output_shape({2, 3, 32, 32}, {2, 2, 0}) == Shape{2, 3, 16, 16});
  CHECK(max_pool2d_output_shape({2, 3, 7, 5}, {2, 2, 0}) == Shape{2, 3, 3, 2});
  CHECK(max_pool2d_output_shape({2, 3, 7, 6}, {3, 2, 1}) == Shape{2, 3, 4, 3});
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  auto fwd = [&](const Tensor& xx, const MaxPool2dParams& p) {
    return error_of([&] { max_pool2d_forward(xx, p, nullptr); });
  };
  CHECK(fwd(x.flatten(2), {2, 2, 0}).find("[max_pool2d] x must be (N,C,H,W), got (2, 3, 16)") ==
        0);
  CHECK(fwd(x, {5, 1, 0}).find("[max_pool2d] kernel 5 larger than padded input (2, 3, 4, 4)") ==
        0);
  CHECK(fwd(x, {3, 1, 2}).find("[max_pool2d] padding 2 must be at most half the kernel 3") ==
        0);
  CHECK(fwd(x, {2, 0, 0}).find("[max_pool2d] kernel and stride") == 0);
  CHECK(fwd(x, {17, 1, 8}).find("[max_pool2d] kernel 17 too large") == 0);
  MaxPool2dIndices ix;
  max_pool2d_forward(x, {2, 2, 0}, &ix);
  CHECK(error_of([&] { max_pool2d_backward(Tensor::zeros({2, 3, 3, 2}), ix, {2, 2, 0}); })
            .find("[max_pool2d_backward] dy must be (2, 3, 2, 2) for x (2, 3, 4, 4)") == 0);
  CHECK(error_of([&] { max_pool2d_backward(Tensor::zeros({2, 3, 2, 2}), {}, {2, 2, 0}); })
            .find("[max_pool2d_backward] no indices") == 0);
  CHECK(error_of([&] { MaxPool2d(3, 1, 2); }).find("[MaxPool2d]") == 0);
}

TEST_CASE("max_pool2d: fast loops match the naive ones on random shapes and layouts") {
  // The last three trials are large enough for the threaded loops (over 2¹⁵ elements):
  // disjoint windows, overlapping ones (threads then take whole images), and padding.
  const MaxPool2dParams big[] = {{2, 2, 0}, {3, 1, 1}, {3, 2, 1}};
  Generator gen(31);
  for (int trial = 0; trial < 27; ++trial) {
    const int64_t k = draw(gen, 1, 4);
    const MaxPool2dParams p = trial < 24 ? MaxPool2dParams{k, draw(gen, 1, 3), draw(gen, 0, k / 2)}
                                         : big[trial - 24];
    const bool large = trial >= 24;
    const int64_t h = large ? 31 : draw(gen, std::max<int64_t>(1, k - 2 * p.padding), 9);
    const int64_t w = large ? 30 : draw(gen, std::max<int64_t>(1, k - 2 * p.padding), 9);
    const int64_t c = trial < 20 ? draw(gen, 1, 8) : 40;  // 40: vector bodies and tails
    // Small integers: many ties, where the first maximum must win in both.
    const Tensor x =
        trial % 2 ? small_integers({2, c, h, w}, gen) : Tensor::normal({2, c, h, w}, 0, 1, gen);
    MaxPool2dIndices ix_ref;
    const Tensor y_ref = max_pool2d_forward_naive(x, p, &ix_ref);
    const Tensor flat_ref = max_pool2d_flat_indices(ix_ref, p);
    const Tensor dy = Tensor::normal(y_ref.shape(), 0, 1, gen);
    const Tensor dx_ref = max_pool2d_backward_naive(dy, ix_ref, p);
    for (bool cl : {false, true}) {
      const std::string what = fmt::format("trial {} x{} k{} s{} p{} {}", trial,
                                           shape_str(x.shape()), p.kernel, p.stride, p.padding,
                                           cl ? "nhwc" : "nchw");
      MaxPool2dIndices ix;
      const Tensor xl = in_layout(x, cl);
      const Tensor y = max_pool2d_forward(xl, p, &ix);
      check_close(y, y_ref, 0, 0, what + " y");
      CHECK_MESSAGE(layout_of(y) == compute_layout(xl), what, " y layout");
      check_close(max_pool2d_flat_indices(ix, p), flat_ref, 0, 0, what + " indices");
      const Tensor dx = max_pool2d_backward(in_layout(dy, !cl), ix, p);  // dy in the other one
      check_close(dx, dx_ref, 1e-6f, 1e-6f, what + " dx");
      CHECK_MESSAGE(layout_of(dx) == compute_layout(xl), what, " dx layout");
      // The indices work with either backward.
      check_close(max_pool2d_backward_naive(dy, ix, p), dx_ref, 1e-6f, 1e-6f, what + " naive dx");
    }
    check_close(max_pool2d_forward(gappy(x), p, nullptr), y_ref, 0, 0, "odd strides y");
  }
}

TEST_CASE("max_pool2d: fast, naive and autograd match PyTorch (ties to the first maximum)") {
  const auto names = case_names(fixture(), "mp.");
  REQUIRE(names.size() >= 6);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "mp." + name);
    REQUIRE(m.size() == 3);
    const MaxPool2dParams p{int64_t(m[0]), int64_t(m[1]), int64_t(m[2])};
    const std::string k = "mp." + name + ".";
    const Safetensors& f = fixture();
    for (bool cl : {false, true}) {
      const Tensor x = in_layout(f.at(k + "x"), cl), dy = in_layout(f.at(k + "dy"), cl);
      for (bool naive : {false, true}) {
        const std::string what = name + (cl ? " nhwc" : " nchw") + (naive ? " naive" : " fast");
        MaxPool2dIndices ix;
        const Tensor y =
            naive ? max_pool2d_forward_naive(x, p, &ix) : max_pool2d_forward(x, p, &ix);
        check_close(y, f.at(k + "y"), 0, 0, what + " y");
        check_close(max_pool2d_flat_indices(ix, p), f.at(k + "idx"), 0, 0, what + " indices");
        const Tensor dx =
            naive ? max_pool2d_backward_naive(dy, ix, p) : max_pool2d_backward(dy, ix, p);
        check_close(dx, f.at(k + "dx"), 1e-6f, 1e-6f, what + " dx");
      }
      Variable xv(x, true);
      Variable y = max_pool2d(xv, p);
      check_close(y.data(), f.at(k + "y"), 0, 0, name + " autograd y");
      y.backward(dy);
      check_close(xv.grad(), f.at(k + "dx"), 1e-6f, 1e-6f, name + " autograd dx");
    }
  }
}

TEST_CASE("max_pool2d: gradcheck of the autograd op and the MaxPool2d module") {
  Generator gen(37);
  for (const MaxPool2dParams& p : {MaxPool2dParams{2, 2, 0}, MaxPool2dParams{3, 2, 1},
                                   MaxPool2dParams{3, 1, 1}})
    for (bool cl : {false, true}) {
      const Tensor x = in_layout(distinct_values({2, 3, 5, 6}, gen), cl);
      const auto r =
          gradcheck([&](const std::vector<Variable>& v) { return max_pool2d(v[0], p); }, {x});
      CHECK_MESSAGE(r.ok, "k", p.kernel, " s", p.stride, " p", p.padding,
                    (cl ? " nhwc: " : " nchw: "), r.message);
    }
  MaxPool2d pool(2);  // stride defaults to the kernel, as PyTorch's
  CHECK(pool.params().stride == 2);
  CHECK(pool.state_dict().empty());
  const Variable y = pool(Variable(Tensor::zeros({2, 4, 7, 6}).to_channels_last()));
  CHECK(y.shape() == Shape{2, 4, 3, 3});
  CHECK(layout_of(y.data()) == Layout::nhwc);
  CHECK(MaxPool2d(3, 2, 1).params().padding == 1);
}

// --- upsample2d -----------------------------------------------------------------------------

TEST_CASE("upsample2d: bad arguments name the op and the shapes") {
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  const auto nearest = UpsampleMode::nearest;
  CHECK(error_of([&] { upsample2d_forward(x.flatten(2), {8, 8, nearest}); })
            .find("[upsample2d] x must be (N,C,H,W), got (2, 3, 16)") == 0);
  CHECK(error_of([&] { upsample2d_forward(x, {0, 8, nearest}); })
            .find("[upsample2d] output size must be positive, got 0x8 for x (2, 3, 4, 4)") == 0);
  CHECK(error_of([&] { upsample2d_forward(x, {8, 8, nearest, -2, 2}); })
            .find("[upsample2d] scale factors must be positive") == 0);
  CHECK(error_of([&] {
          upsample2d_backward(Tensor::zeros({2, 3, 8, 7}), x.shape(), {8, 8, nearest});
        }).find("[upsample2d_backward] dy must be (2, 3, 8, 8) for x (2, 3, 4, 4)") == 0);
  CHECK(error_of([&] { Upsample(0.0, nearest); })
            .find("[Upsample] scale factor must be positive, got 0") == 0);
  CHECK(error_of([&] { Upsample(0, 4, nearest); }).find("[Upsample] output size") == 0);
  CHECK(error_of([&] { Upsample(0.1, nearest)(Variable(x)); })
            .find("[upsample2d] output size must be positive, got 0x0 for x (2, 3, 4, 4)") == 0);
  CHECK(error_of([&] { parse_upsample_mode("bicubic", "--mode"); })
            .find("'bicubic' is not an upsampling mode") != std::string::npos);
  CHECK(parse_upsample_mode("bilinear", "m") == UpsampleMode::bilinear);
  CHECK(to_string(UpsampleMode::nearest) == "nearest");
}

TEST_CASE("upsample2d: kernels and autograd match PyTorch, both layouts") {
  const auto names = case_names(fixture(), "up.");
  REQUIRE(names.size() >= 8);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "up." + name);
    REQUIRE(m.size() == 4);
    const Upsample2dParams p{int64_t(m[1]), int64_t(m[2]),
                             m[0] != 0 ? UpsampleMode::bilinear : UpsampleMode::nearest, m[3],
                             m[3]};
    const std::string k = "up." + name + ".";
    const Safetensors& f = fixture();
    for (bool cl : {false, true}) {
      const std::string what = name + (cl ? " nhwc" : " nchw");
      const Tensor x = in_layout(f.at(k + "x"), cl), dy = in_layout(f.at(k + "dy"), cl);
      const Tensor y = upsample2d_forward(x, p);
      check_close(y, f.at(k + "y"), 1e-5f, 1e-6f, what + " y");
      CHECK_MESSAGE(layout_of(y) == layout_for(cl), what, " y layout");
      const Tensor dx = upsample2d_backward(dy, x.shape(), p);
      check_close(dx, f.at(k + "dx"), 1e-5f, 1e-6f, what + " dx");
      CHECK_MESSAGE(layout_of(dx) == layout_for(cl), what, " dx layout");
      // The autograd op and the module, by size or by scale factor as the case was made.
      Variable xv(x, true);
      Variable yv =
          m[3] > 0 ? Upsample(m[3], p.mode)(xv) : upsample2d(xv, p.out_h, p.out_w, p.mode);
      check_close(yv.data(), f.at(k + "y"), 1e-5f, 1e-6f, what + " autograd y");
      yv.backward(dy);
      check_close(xv.grad(), f.at(k + "dx"), 1e-5f, 1e-6f, what + " autograd dx");
    }
  }
}

TEST_CASE("upsample2d: layouts agree and the backward is the forward's adjoint") {
  // <up(x), dy> = <x, up_backward(dy)> for every x and dy: the backward scatters exactly the
  // weights the forward gathers with.
  // The last two trials are large enough for the threaded loops.
  Generator gen(41);
  for (int trial = 0; trial < 18; ++trial) {
    const auto mode = trial % 2 ? UpsampleMode::bilinear : UpsampleMode::nearest;
    const bool large = trial >= 16;
    const int64_t h = large ? 15 : draw(gen, 1, 7), w = large ? 13 : draw(gen, 1, 7);
    const int64_t c = trial < 12 ? draw(gen, 1, 5) : 33;
    const Upsample2dParams p = large ? Upsample2dParams{30, 29, mode}
                                     : Upsample2dParams{draw(gen, 1, 15), draw(gen, 1, 15), mode};
    const Tensor x = Tensor::normal({2, c, h, w}, 0, 1, gen);
    const Tensor dy = Tensor::normal({2, c, p.out_h, p.out_w}, 0, 1, gen);
    const std::string what = fmt::format("trial {} {} x{} -> {}x{}", trial, to_string(mode),
                                         shape_str(x.shape()), p.out_h, p.out_w);
    const Tensor y = upsample2d_forward(x, p), dx = upsample2d_backward(dy, x.shape(), p);
    check_close(upsample2d_forward(x.to_channels_last(), p), y, 1e-6f, 1e-6f, what + " nhwc y");
    check_close(upsample2d_forward(gappy(x), p), y, 0, 0, what + " odd strides y");
    check_close(upsample2d_backward(dy.to_channels_last(), x.shape(), p), dx, 1e-5f, 1e-5f,
                what + " nhwc dx");
    const double lhs = dot(y, dy), rhs = dot(x, dx);
    CHECK_MESSAGE(std::abs(lhs - rhs) <= 1e-4 * (1 + std::abs(lhs)), what, ": ", lhs, " vs ", rhs);
  }
}

TEST_CASE("upsample2d: gradcheck, both modes and layouts; the Upsample module") {
  Generator gen(43);
  for (auto mode : {UpsampleMode::nearest, UpsampleMode::bilinear})
    for (bool cl : {false, true})
      for (const auto& [oh, ow] : {std::pair<int64_t, int64_t>{8, 6}, {5, 7}}) {
        const Tensor x = in_layout(Tensor::normal({2, 3, 4, 3}, 0, 1, gen), cl);
        const auto r = gradcheck(
            [&](const std::vector<Variable>& v) { return upsample2d(v[0], oh, ow, mode); }, {x});
        CHECK_MESSAGE(r.ok, to_string(mode), " -> ", oh, "x", ow, (cl ? " nhwc: " : " nchw: "),
                      r.message);
      }
  Upsample twice(2.0, UpsampleMode::bilinear);
  CHECK(twice.state_dict().empty());
  CHECK(twice(Variable(Tensor::zeros({1, 2, 5, 3}))).shape() == Shape{1, 2, 10, 6});
  Upsample sized(7, 9, UpsampleMode::nearest);
  const Variable y = sized(Variable(Tensor::zeros({1, 2, 5, 3}).to_channels_last()));
  CHECK(y.shape() == Shape{1, 2, 7, 9});
  CHECK(layout_of(y.data()) == Layout::nhwc);
  CHECK(Upsample(1.5, UpsampleMode::nearest)(Variable(Tensor::zeros({1, 1, 5, 4}))).shape() ==
        Shape{1, 1, 7, 6});
}

// --- implementations ------------------------------------------------------------------------

TEST_CASE("conv_transpose2d: channels-last decoder shapes use no oneDNN ref implementation") {
  // A decoder's upsampling steps at batch 32: 64→32 channels 8×8 → 16×16 (k4 p1, k3 p1 op1,
  // k2), and 32→3 channels 16×16 → 32×32; forward and both backwards, with bias.
  dnnl_cache_clear();
  Generator gen(47);
  auto run = [&](int64_t c, int64_t hw, int64_t o, const ConvTranspose2dParams& p, int64_t k) {
    const Tensor x = Tensor::normal({32, c, hw, hw}, 0, 1, gen).to_channels_last();
    const Tensor w = Tensor::normal({c, o, k, k}, 0, 0.1f, gen);
    const Tensor y = conv_transpose2d_forward(x, w, Tensor::zeros({o}), p);
    CHECK(y.shape() == Shape{32, o, 2 * hw, 2 * hw});
    const Tensor dy = Tensor::normal(y.shape(), 0, 1, gen).to_channels_last();
    Tensor db;
    conv_transpose2d_backward_data(dy, w, x.shape(), p);
    conv_transpose2d_backward_weights(dy, x, w.shape(), p, &db);
  };
  run(64, 8, 32, {2, 1, 0, 1}, 4);
  run(64, 8, 32, {2, 1, 1, 1}, 3);
  run(64, 8, 32, {2, 0, 0, 1}, 2);
  run(32, 16, 3, {2, 1, 0, 1}, 4);
  const auto impls = dnnl_impls();
  int deconvs = 0;
  for (const DnnlImpl& i : impls) {
    MESSAGE(i.what, " -> ", i.impl);
    deconvs += i.what.rfind("conv_transpose2d", 0) == 0;
    CHECK_MESSAGE(i.impl.rfind("ref", 0) != 0, i.what, " uses ", i.impl);
  }
  CHECK(deconvs == 4 * 3);
}
