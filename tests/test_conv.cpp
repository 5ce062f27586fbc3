// test_conv.cpp — convolution and batch-norm kernels (tensor/conv2d.h, tensor/batch_norm.h)
// and their autograd ops, four ways: oneDNN against the naive loops on random shapes
// (groups 1/2/C, stride 1/2, symmetric and TF-SAME padding, with and without bias, NCHW and
// channels-last); both against PyTorch (conv.safetensors from make_conv.py); the autograd
// ops against finite differences; and the implementations oneDNN picks for a training-shaped
// channels-last network (none may be a "ref" one).
// Shapes: x (N,C,H,W), weight (O,C/groups,kH,kW), bias and BN parameters (C or O).
#include <doctest/doctest.h>

#include <sstream>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/batch_norm.h"
#include "tensor/conv2d.h"
#include "tensor/dnnl.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/kernel_checks.h"

using namespace kz;

namespace {

using kz::test::case_names;
using kz::test::check_close;
using kz::test::metadata_numbers;
using kz::test::in_layout;

const Safetensors& fixture() {
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/conv.safetensors");
  return f;
}


// Many tiny primitives run faster on one thread (no OpenMP wake-ups per call, which cost
// seconds on a busy machine); the fixture and implementation tests keep the default count.
class OneThread {
 public:
  OneThread() : saved_(dnnl_num_threads()) { dnnl_set_num_threads(1); }
  ~OneThread() { dnnl_set_num_threads(saved_); }

 private:
  int saved_;
};

int64_t draw(Generator& gen, int64_t low, int64_t high) {  // uniform in [low, high]
  return low + static_cast<int64_t>(gen.below(static_cast<uint64_t>(high - low + 1)));
}

}  // namespace

// --- convolution ----------------------------------------------------------------------------

TEST_CASE("conv: padding helpers and output shapes") {
  // TF "SAME": total = max((ceil(n/s)−1)·s + k − n, 0), floor half before.
  const Conv2dParams even = Conv2dParams::tf_same(32, 32, 3, 2);
  CHECK(even.pad_top == 0);
  CHECK(even.pad_bottom == 1);
  CHECK(even.pad_left == 0);
  CHECK(even.pad_right == 1);
  const Conv2dParams odd = Conv2dParams::tf_same(7, 6, 3, 2, 4);
  CHECK(odd.pad_top == 1);
  CHECK(odd.pad_bottom == 1);
  CHECK(odd.pad_left == 0);
  CHECK(odd.pad_right == 1);
  CHECK(odd.groups == 4);
  const Conv2dParams s1 = Conv2dParams::tf_same(5, 5, 3, 1);
  CHECK(s1.pad_top == 1);
  CHECK(s1.pad_bottom == 1);
  CHECK(conv2d_output_shape({2, 3, 32, 32}, {8, 3, 3, 3}, even) == Shape{2, 8, 16, 16});
  CHECK(conv2d_output_shape({2, 3, 7, 7}, {8, 3, 3, 3}, Conv2dParams::symmetric(2, 1)) ==
        Shape{2, 8, 4, 4});
}

TEST_CASE("conv: bad arguments throw with the op and shapes") {
  Generator gen(1);
  const Tensor x = Tensor::normal({2, 4, 5, 5}, 0, 1, gen);
  const Tensor w = Tensor::normal({6, 4, 3, 3}, 0, 1, gen);
  const auto p = Conv2dParams::symmetric(1, 1);
  CHECK_THROWS_WITH_AS(conv2d_forward(x, Tensor::zeros({6, 3, 3, 3}), Tensor(), p),
                       doctest::Contains("[conv2d]"), Error);
  CHECK_THROWS_AS(conv2d_forward(x, w, Tensor::zeros({5}), p), Error);
  CHECK_THROWS_AS(conv2d_forward(x.flatten(2), w, Tensor(), p), Error);
  CHECK_THROWS_AS(conv2d_forward(x, w, Tensor(), Conv2dParams::symmetric(1, 1, 3)), Error);
  CHECK_THROWS_AS(conv2d_forward(x, w, Tensor(), Conv2dParams::symmetric(0, 1)), Error);
  CHECK_THROWS_AS(conv2d_forward(x.narrow(2, 0, 1), w, Tensor(), Conv2dParams{}), Error);
  CHECK_THROWS_WITH_AS(conv2d_backward_data(Tensor::zeros({2, 6, 4, 5}), w, x.shape(), p),
                       doctest::Contains("(2, 6, 5, 5)"), Error);
  CHECK_THROWS_AS(conv2d_backward_weights(Tensor::zeros({2, 6, 4, 5}), x, w.shape(), p, nullptr),
                  Error);
  CHECK_THROWS_AS(conv2d_forward_naive(x, Tensor::zeros({6, 3, 3, 3}), Tensor(), p), Error);
}

TEST_CASE("conv: oneDNN matches the naive loops on random shapes and layouts") {
  const OneThread one_thread;
  Generator gen(7);
  for (int trial = 0; trial < 32; ++trial) {
    const int64_t kind = trial % 4;  // 0 dense, 1 grouped (2), 2 depthwise, 3 pointwise
    int64_t c = draw(gen, 4, 8);
    if (kind == 1 && c % 2) ++c;
    const int64_t groups = kind == 1 ? 2 : kind == 2 ? c : 1;
    const int64_t o = kind == 2 ? c : groups * draw(gen, 2, 4);
    const int64_t k = kind == 3 ? 1 : 3;
    const int64_t stride = 1 + (trial / 4) % 2;
    const int64_t h = draw(gen, 4, 9), w = draw(gen, 4, 9);
    const bool same = (trial / 8) % 2, with_bias = (trial / 16) % 2;
    const Conv2dParams p = same ? Conv2dParams::tf_same(h, w, k, stride, groups)
                                : Conv2dParams::symmetric(stride, k / 2, groups);
    const Tensor x = Tensor::normal({2, c, h, w}, 0, 1, gen);
    const Tensor weight = Tensor::normal({o, c / groups, k, k}, 0, 0.5f, gen);
    const Tensor bias = with_bias ? Tensor::normal({o}, 0, 1, gen) : Tensor();
    const Tensor dy = Tensor::normal(conv2d_output_shape(x.shape(), weight.shape(), p), 0, 1, gen);
    const Tensor y_ref = conv2d_forward_naive(x, weight, bias, p);
    const Tensor dx_ref = conv2d_backward_data_naive(dy, weight, x.shape(), p);
    Tensor db_ref;
    const Tensor dw_ref =
        conv2d_backward_weights_naive(dy, x, weight.shape(), p, with_bias ? &db_ref : nullptr);
    for (bool cl : {false, true}) {
      const std::string what =
          fmt::format("trial {} x{} w{} g{} s{} {} bias {} {}", trial, shape_str(x.shape()),
                      shape_str(weight.shape()), groups, stride, same ? "same" : "sym",
                      with_bias, cl ? "nhwc" : "nchw");
      const Tensor xl = in_layout(x, cl), dyl = in_layout(dy, cl);
      const Tensor y = conv2d_forward(xl, weight, bias, p);
      check_close(y, y_ref, 1e-4f, 1e-4f, what + " y");
      CHECK_MESSAGE(layout_of(y) == (cl ? Layout::nhwc : Layout::nchw), what, " y layout");
      const Tensor dx = conv2d_backward_data(dyl, weight, x.shape(), p);
      check_close(dx, dx_ref, 1e-4f, 1e-4f, what + " dx");
      CHECK_MESSAGE(layout_of(dx) == (cl ? Layout::nhwc : Layout::nchw), what, " dx layout");
      Tensor db;
      const Tensor dw =
          conv2d_backward_weights(dyl, xl, weight.shape(), p, with_bias ? &db : nullptr);
      check_close(dw, dw_ref, 1e-4f, 1e-4f, what + " dweight");
      if (with_bias) check_close(db, db_ref, 1e-4f, 1e-4f, what + " dbias");
      // The naive loops read any strides too: channels-last in, same numbers out.
      if (cl) check_close(conv2d_forward_naive(xl, weight, bias, p), y_ref, 1e-5f, 1e-5f,
                          what + " naive y");
    }
    // Neither layout (a view with a gap between rows): copied to NCHW first.
    const Tensor wide = Tensor::zeros({2, c, h, w + 3});
    Tensor gappy = wide.narrow(3, 1, w);
    gappy.copy_(x);
    REQUIRE(layout_of(gappy) == Layout::other);
    check_close(conv2d_forward(gappy, weight, bias, p), y_ref, 1e-4f, 1e-4f, "odd strides y");
  }
}

TEST_CASE("conv: 1x1 and 2x2 maps, where NCHW and channels-last can share memory") {
  // Also where kizuki's own depthwise backward-weights replaces oneDNN's (channels-last).
  // 72 channels: two channel blocks of the own kernel, one per thread.
  dnnl_cache_clear();
  Generator gen(17);
  const int64_t c = 72;
  for (int64_t hw : {1, 2})
    for (int64_t stride : {1, 2})
      for (int64_t groups : {int64_t{1}, c}) {
        const Conv2dParams p = Conv2dParams::symmetric(stride, 1, groups);
        const Tensor x = Tensor::normal({2, c, hw, hw}, 0, 1, gen);
        const Tensor w = Tensor::normal({c, c / groups, 3, 3}, 0, 0.5f, gen);
        const Tensor dy = Tensor::normal(conv2d_output_shape(x.shape(), w.shape(), p), 0, 1, gen);
        Tensor db, db_ref;
        const Tensor y_ref = conv2d_forward_naive(x, w, Tensor(), p);
        const Tensor dx_ref = conv2d_backward_data_naive(dy, w, x.shape(), p);
        const Tensor dw_ref = conv2d_backward_weights_naive(dy, x, w.shape(), p, &db_ref);
        for (bool cl : {false, true}) {
          const std::string what = fmt::format("{}x{} s{} g{} {}", hw, hw, stride, groups,
                                               cl ? "nhwc" : "nchw");
          const Tensor xl = in_layout(x, cl), dyl = in_layout(dy, cl);
          check_close(conv2d_forward(xl, w, Tensor(), p), y_ref, 1e-4f, 1e-4f, what + " y");
          check_close(conv2d_backward_data(dyl, w, x.shape(), p), dx_ref, 1e-4f, 1e-4f,
                      what + " dx");
          check_close(conv2d_backward_weights(dyl, xl, w.shape(), p, &db), dw_ref, 1e-4f, 1e-4f,
                      what + " dweight");
          check_close(db, db_ref, 1e-4f, 1e-4f, what + " dbias");
        }
      }
  int own = 0;
  for (const DnnlImpl& i : dnnl_impls()) own += i.impl.rfind("kizuki:depthwise_nhwc", 0) == 0;
  CHECK(own > 0);
}

TEST_CASE("conv: oneDNN and naive match PyTorch (forward, dx, dweight, dbias)") {
  const auto names = case_names(fixture(), "conv.");
  REQUIRE(names.size() >= 10);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "conv." + name);
    REQUIRE(m.size() == 7);
    const Conv2dParams p{int64_t(m[0]), int64_t(m[1]), int64_t(m[2]), int64_t(m[3]),
                         int64_t(m[4]), int64_t(m[5])};
    const bool with_bias = m[6] != 0;
    const std::string k = "conv." + name + ".";
    const Safetensors& f = fixture();
    const Tensor weight = f.at(k + "weight");
    const Tensor bias = with_bias ? f.at(k + "bias") : Tensor();
    for (bool cl : {false, true}) {
      const Tensor x = in_layout(f.at(k + "x"), cl), dy = in_layout(f.at(k + "dy"), cl);
      const std::string what = name + (cl ? " nhwc" : " nchw");
      for (bool naive : {false, true}) {
        const std::string w2 = what + (naive ? " naive" : " onednn");
        const Tensor y = naive ? conv2d_forward_naive(x, weight, bias, p)
                               : conv2d_forward(x, weight, bias, p);
        check_close(y, f.at(k + "y"), 1e-4f, 1e-4f, w2 + " y");
        const Tensor dx = naive ? conv2d_backward_data_naive(dy, weight, x.shape(), p)
                                : conv2d_backward_data(dy, weight, x.shape(), p);
        check_close(dx, f.at(k + "dx"), 1e-4f, 1e-4f, w2 + " dx");
        Tensor db;
        Tensor* dbp = with_bias ? &db : nullptr;
        const Tensor dw = naive ? conv2d_backward_weights_naive(dy, x, weight.shape(), p, dbp)
                                : conv2d_backward_weights(dy, x, weight.shape(), p, dbp);
        check_close(dw, f.at(k + "dweight"), 1e-4f, 1e-4f, w2 + " dweight");
        if (with_bias) check_close(db, f.at(k + "dbias"), 1e-4f, 1e-4f, w2 + " dbias");
      }
    }
    // The autograd op reproduces the same gradients.
    Variable xv(f.at(k + "x"), true), wv(weight, true), bv(bias, with_bias);
    Variable y = conv2d(xv, wv, with_bias ? bv : Variable(), p);
    y.backward(f.at(k + "dy"));
    check_close(xv.grad(), f.at(k + "dx"), 1e-4f, 1e-4f, name + " autograd dx");
    check_close(wv.grad(), f.at(k + "dweight"), 1e-4f, 1e-4f, name + " autograd dweight");
    if (with_bias) check_close(bv.grad(), f.at(k + "dbias"), 1e-4f, 1e-4f, name + " autograd dbias");
  }
}

TEST_CASE("conv: gradcheck of the autograd op") {
  const OneThread one_thread;
  Generator gen(11);
  struct Case {
    Shape x, w;
    Conv2dParams p;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 4}, {4, 3, 3, 3}, Conv2dParams::symmetric(1, 1), true},
      {{2, 3, 6, 6}, {2, 3, 3, 3}, Conv2dParams::tf_same(6, 6, 3, 2), false},
      {{2, 4, 5, 5}, {4, 1, 3, 3}, Conv2dParams::tf_same(5, 5, 3, 2, 4), true},
      {{1, 4, 4, 3}, {6, 2, 1, 1}, Conv2dParams::symmetric(1, 0, 2), true},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> inputs = {Tensor::normal(c.x, 0, 1, gen), Tensor::normal(c.w, 0, 0.5f, gen)};
    if (c.bias) inputs.push_back(Tensor::normal({c.w[0]}, 0, 1, gen));
    const auto r = gradcheck(
        [&](const std::vector<Variable>& v) {
          return conv2d(v[0], v[1], c.bias ? v[2] : Variable(), c.p);
        },
        inputs);
    CHECK_MESSAGE(r.ok, shape_str(c.x), " ", shape_str(c.w), ": ", r.message);
  }
}

// --- batch norm -----------------------------------------------------------------------------

TEST_CASE("bn: oneDNN matches the naive loops, training and inference, both layouts") {
  const OneThread one_thread;
  Generator gen(3);
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t n = draw(gen, 1, 3), c = draw(gen, 4, 8), h = draw(gen, 2, 6),
                  w = draw(gen, 2, 6);
    const bool training = trial % 2 == 0, cl = (trial / 2) % 2;
    const float momentum = 0.1f + 0.2f * float(trial % 3), eps = trial < 4 ? 1e-5f : 1e-3f;
    const Tensor x = in_layout(add(Tensor::normal({n, c, h, w}, 0, 2, gen), 0.7f), cl);
    const Tensor weight = Tensor::uniform({c}, 0.5f, 1.5f, gen);
    const Tensor bias = Tensor::normal({c}, 0, 1, gen);
    const Tensor rm0 = Tensor::normal({c}, 0, 0.3f, gen), rv0 = Tensor::uniform({c}, 0.5f, 1.5f, gen);
    const Tensor dy = in_layout(Tensor::normal({n, c, h, w}, 0, 1, gen), cl);
    const std::string what = fmt::format("trial {} x{} {} {}", trial, shape_str(x.shape()),
                                         training ? "train" : "eval", cl ? "nhwc" : "nchw");
    Tensor rm = rm0.clone(), rv = rv0.clone(), rm_ref = rm0.clone(), rv_ref = rv0.clone();
    BatchNormSaved saved, saved_ref;
    const Tensor y = batch_norm_forward(x, weight, bias, rm, rv, training, momentum, eps, &saved);
    const Tensor y_ref =
        batch_norm_forward_naive(x, weight, bias, rm_ref, rv_ref, training, momentum, eps, &saved_ref);
    check_close(y, y_ref, 1e-4f, 1e-4f, what + " y");
    CHECK_MESSAGE(layout_of(y) == layout_of(x), what, " y layout");
    check_close(rm, rm_ref, 1e-5f, 1e-5f, what + " running_mean");
    check_close(rv, rv_ref, 1e-5f, 1e-5f, what + " running_var");
    Tensor dx, dw, db, dx_ref, dw_ref, db_ref;
    if (training) {
      check_close(saved.mean, saved_ref.mean, 1e-5f, 1e-5f, what + " mean");
      check_close(saved.var, saved_ref.var, 1e-4f, 1e-5f, what + " var");
      batch_norm_backward(dy, x, weight, saved, eps, &dx, &dw, &db);
      batch_norm_backward_naive(dy, x, weight, saved_ref, eps, &dx_ref, &dw_ref, &db_ref);
    } else {
      batch_norm_backward_inference(dy, x, weight, rm, rv, eps, &dx, &dw, &db);
      batch_norm_backward_inference_naive(dy, x, weight, rm, rv, eps, &dx_ref, &dw_ref, &db_ref);
    }
    check_close(dx, dx_ref, 1e-3f, 1e-4f, what + " dx");
    CHECK_MESSAGE(layout_of(dx) == layout_of(x), what, " dx layout");
    check_close(dw, dw_ref, 1e-4f, 1e-4f, what + " dweight");
    check_close(db, db_ref, 1e-4f, 1e-4f, what + " dbias");
  }
}

TEST_CASE("bn: oneDNN and naive match PyTorch (output, dx, dgamma, dbeta, running stats)") {
  const auto names = case_names(fixture(), "bn.");
  REQUIRE(names.size() >= 3);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "bn." + name);
    REQUIRE(m.size() == 3);
    const bool training = m[0] != 0;
    const float momentum = float(m[1]), eps = float(m[2]);
    const std::string k = "bn." + name + ".";
    const Safetensors& f = fixture();
    const Tensor weight = f.at(k + "weight"), bias = f.at(k + "bias");
    for (bool cl : {false, true})
      for (bool naive : {false, true}) {
        const std::string what = name + (cl ? " nhwc" : " nchw") + (naive ? " naive" : " onednn");
        const Tensor x = in_layout(f.at(k + "x"), cl), dy = in_layout(f.at(k + "dy"), cl);
        Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
        BatchNormSaved saved;
        const Tensor y = naive ? batch_norm_forward_naive(x, weight, bias, rm, rv, training,
                                                          momentum, eps, &saved)
                               : batch_norm_forward(x, weight, bias, rm, rv, training, momentum,
                                                    eps, &saved);
        check_close(y, f.at(k + "y"), 1e-4f, 1e-5f, what + " y");
        check_close(rm, f.at(k + "new_running_mean"), 1e-5f, 1e-6f, what + " running_mean");
        check_close(rv, f.at(k + "new_running_var"), 1e-5f, 1e-6f, what + " running_var");
        Tensor dx, dw, db;
        if (training)
          (naive ? batch_norm_backward_naive : batch_norm_backward)(dy, x, weight, saved, eps,
                                                                     &dx, &dw, &db);
        else
          (naive ? batch_norm_backward_inference_naive : batch_norm_backward_inference)(
              dy, x, weight, f.at(k + "running_mean"), f.at(k + "running_var"), eps, &dx, &dw,
              &db);
        check_close(dx, f.at(k + "dx"), 1e-4f, 1e-5f, what + " dx");
        check_close(dw, f.at(k + "dweight"), 1e-4f, 1e-5f, what + " dweight");
        check_close(db, f.at(k + "dbias"), 1e-4f, 1e-5f, what + " dbias");
      }
    // The autograd op reproduces the same gradients and running statistics.
    Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
    Variable xv(f.at(k + "x"), true), wv(weight, true), bv(bias, true);
    Variable y = batch_norm(xv, wv, bv, rm, rv, training, momentum, eps);
    y.backward(f.at(k + "dy"));
    check_close(y.data(), f.at(k + "y"), 1e-4f, 1e-5f, name + " autograd y");
    check_close(xv.grad(), f.at(k + "dx"), 1e-4f, 1e-5f, name + " autograd dx");
    check_close(wv.grad(), f.at(k + "dweight"), 1e-4f, 1e-5f, name + " autograd dweight");
    check_close(bv.grad(), f.at(k + "dbias"), 1e-4f, 1e-5f, name + " autograd dbias");
    check_close(rv, f.at(k + "new_running_var"), 1e-5f, 1e-6f, name + " autograd running_var");
  }
}

TEST_CASE("bn: gradcheck of the autograd op, training and inference") {
  const OneThread one_thread;
  Generator gen(5);
  for (bool training : {true, false}) {
    const Shape xs = {2, 3, 3, 2};
    Tensor rm = Tensor::normal({3}, 0, 0.3f, gen), rv = Tensor::uniform({3}, 0.5f, 1.5f, gen);
    const std::vector<Tensor> inputs = {add(Tensor::normal(xs, 0, 1.5f, gen), 0.3f),
                                        Tensor::uniform({3}, 0.5f, 1.5f, gen),
                                        Tensor::normal({3}, 0, 1, gen)};
    const auto r = gradcheck(
        [&](const std::vector<Variable>& v) {
          return batch_norm(v[0], v[1], v[2], rm, rv, training, 0.1f, 1e-5f);
        },
        inputs);
    CHECK_MESSAGE(r.ok, (training ? "train: " : "eval: "), r.message);
  }
}

TEST_CASE("bn: bad arguments throw") {
  Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4}), none;
  const Tensor x = Tensor::zeros({2, 4, 3, 3});
  CHECK_THROWS_WITH_AS(batch_norm_forward(x, Tensor::ones({3}), Tensor(), rm, rv, true, 0.1f,
                                          1e-5f, nullptr),
                       doctest::Contains("[batch_norm]"), Error);
  CHECK_THROWS_AS(batch_norm_forward(x.flatten(2), Tensor(), Tensor(), rm, rv, true, 0.1f, 1e-5f,
                                     nullptr),
                  Error);
  CHECK_THROWS_AS(batch_norm_forward(Tensor::zeros({1, 4, 1, 1}), Tensor(), Tensor(), rm, rv,
                                     true, 0.1f, 1e-5f, nullptr),
                  Error);
  CHECK_THROWS_AS(
      batch_norm_forward(x, Tensor(), Tensor(), none, none, false, 0.1f, 1e-5f, nullptr), Error);
  BatchNormSaved saved;
  batch_norm_forward(x, Tensor(), Tensor(), rm, rv, true, 0.1f, 1e-5f, &saved);
  Tensor dx;
  CHECK_THROWS_AS(batch_norm_backward(Tensor::zeros({2, 4, 3, 2}), x, Tensor(), saved, 1e-5f, &dx,
                                      nullptr, nullptr),
                  Error);
}

// --- implementations ------------------------------------------------------------------------

TEST_CASE("conv: channels-last training shapes use no oneDNN ref implementation") {
  // The MobileNetV2 pattern at batch 32, 32×32 input: stem 3×3 s2 (TF-SAME), depthwise 3×3
  // s1 and s2, pointwise 1×1, and BN — forward and both backwards, all channels-last.
  dnnl_cache_clear();
  Generator gen(13);
  const int64_t n = 32;
  auto run_conv = [&](int64_t c, int64_t hw, int64_t o, int64_t k, int64_t stride, int64_t groups) {
    const Conv2dParams p = Conv2dParams::tf_same(hw, hw, k, stride, groups);
    const Tensor x = Tensor::normal({n, c, hw, hw}, 0, 1, gen).to_channels_last();
    const Tensor w = Tensor::normal({o, c / groups, k, k}, 0, 0.1f, gen);
    const Tensor y = conv2d_forward(x, w, Tensor(), p);
    const Tensor dy = Tensor::normal(y.shape(), 0, 1, gen).to_channels_last();
    conv2d_backward_data(dy, w, x.shape(), p);
    conv2d_backward_weights(dy, x, w.shape(), p, nullptr);
  };
  run_conv(3, 32, 32, 3, 2, 1);    // stem
  run_conv(32, 16, 32, 3, 1, 32);  // depthwise s1
  run_conv(96, 16, 96, 3, 2, 96);  // depthwise s2
  run_conv(32, 16, 16, 1, 1, 1);   // pointwise project
  run_conv(24, 8, 144, 1, 1, 1);   // pointwise expand
  run_conv(384, 2, 384, 3, 1, 384);  // the last depthwise layers: 2×2 and 1×1 maps
  run_conv(576, 2, 576, 3, 2, 576);
  run_conv(960, 1, 960, 3, 1, 960);
  {
    const Tensor x = Tensor::normal({n, 32, 16, 16}, 0, 1, gen).to_channels_last();
    Tensor rm = Tensor::zeros({32}), rv = Tensor::ones({32});
    BatchNormSaved saved;
    const Tensor w = Tensor::ones({32}), b = Tensor::zeros({32});
    batch_norm_forward(x, w, b, rm, rv, true, 0.1f, 1e-5f, &saved);
    batch_norm_forward(x, w, b, rm, rv, false, 0.1f, 1e-5f, nullptr);
    Tensor dx, dw, db;
    batch_norm_backward(x, x, w, saved, 1e-5f, &dx, &dw, &db);
  }
  const auto impls = dnnl_impls();
  CHECK(impls.size() >= 8 * 3 + 3);
  for (const DnnlImpl& i : impls) {
    MESSAGE(i.what, " -> ", i.impl);
    CHECK_MESSAGE(i.impl.rfind("ref", 0) != 0, i.what, " uses ", i.impl);
  }
}
