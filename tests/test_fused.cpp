// test_fused.cpp — fused ops against what they replace: batch_norm_relu6 (tensor/batch_norm.h
// kernels, autograd/bn_relu6.cpp) against PyTorch's relu6(batch_norm(x)) (fused.safetensors
// from fixtures/make_fused.py), against the naive references and the unfused autograd ops on
// random shapes in both layouts, and against finite differences; conv1x1_bn_relu6
// (tensor/conv_bn_relu6.h, autograd/conv_bn_relu6.cpp) likewise against PyTorch's
// relu6(batch_norm(conv2d(x))), the unfused ops and finite differences; conv2d_relu6_forward
// against the naive conv and clamp; MobileNetV2 inference with batch norm folded into the
// convs against its unfolded eval forward.
// Shapes: x (N,C,H,W); weight, bias, running stats (C); conv1x1_bn_relu6: x (N,C,H,W),
// weight (O,C,1,1), gamma, beta, running stats (O).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "autograd/bn_relu6.h"
#include "autograd/conv_bn_relu6.h"
#include "autograd/gradcheck.h"
#include "layers/mobilenet_v2.h"
#include "tensor/batch_norm.h"
#include "tensor/conv2d.h"
#include "tensor/conv_bn_relu6.h"
#include "tensor/dnnl.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/kernel_checks.h"

using namespace kz;

namespace {

using kz::test::check_close;
using kz::test::clamped_fractions;
using kz::test::in_layout;

const Safetensors& fixture() {
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/fused.safetensors");
  return f;
}


}  // namespace

TEST_CASE("fused bn_relu6: kernels, naive and autograd op match PyTorch in both layouts") {
  std::vector<std::string> names;
  for (const auto& [key, value] : fixture().metadata)
    if (key.rfind("bn_relu6.", 0) == 0) names.push_back(key.substr(9));
  REQUIRE(names.size() >= 3);
  for (const std::string& name : names) {
    std::istringstream meta(fixture().metadata.at("bn_relu6." + name));
    double t = 0, mom = 0, e = 0;
    meta >> t >> mom >> e;
    const bool training = t != 0;
    const float momentum = float(mom), eps = float(e);
    const std::string k = "bn_relu6." + name + ".";
    const Safetensors& f = fixture();
    const Tensor weight = f.at(k + "weight"), bias = f.at(k + "bias");
    const auto [zeros, sixes] = clamped_fractions(f.at(k + "y"));
    CHECK_MESSAGE((zeros > 0.05 && sixes > 0.05), name, ": clamps not exercised");
    for (bool cl : {false, true})
      for (bool naive : {false, true}) {
        const std::string what = name + (cl ? " nhwc" : " nchw") + (naive ? " naive" : " fused");
        const Tensor x = in_layout(f.at(k + "x"), cl), dy = in_layout(f.at(k + "dy"), cl);
        Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
        BatchNormSaved saved;
        const Tensor y =
            (naive ? batch_norm_relu6_forward_naive : batch_norm_relu6_forward)(
                x, weight, bias, rm, rv, training, momentum, eps, &saved);
        check_close(y, f.at(k + "y"), 1e-4f, 1e-5f, what + " y");
        CHECK_MESSAGE(layout_of(y) == layout_of(x), what, " y layout");
        check_close(rm, f.at(k + "new_running_mean"), 1e-5f, 1e-6f, what + " running_mean");
        check_close(rv, f.at(k + "new_running_var"), 1e-5f, 1e-6f, what + " running_var");
        Tensor dx, dw, db;
        (naive ? batch_norm_relu6_backward_naive : batch_norm_relu6_backward)(
            dy, x, weight, bias, saved, training, eps, &dx, &dw, &db);
        check_close(dx, f.at(k + "dx"), 1e-4f, 1e-5f, what + " dx");
        CHECK_MESSAGE(layout_of(dx) == layout_of(x), what, " dx layout");
        check_close(dw, f.at(k + "dweight"), 1e-4f, 1e-5f, what + " dweight");
        check_close(db, f.at(k + "dbias"), 1e-4f, 1e-5f, what + " dbias");
      }
    for (bool cl : {false, true}) {  // the autograd op
      Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
      Variable xv(in_layout(f.at(k + "x"), cl), true), wv(weight, true), bv(bias, true);
      Variable y = batch_norm_relu6(xv, wv, bv, rm, rv, training, momentum, eps);
      y.backward(in_layout(f.at(k + "dy"), cl));
      const std::string what = name + (cl ? " nhwc" : " nchw") + " autograd";
      check_close(y.data(), f.at(k + "y"), 1e-4f, 1e-5f, what + " y");
      check_close(xv.grad(), f.at(k + "dx"), 1e-4f, 1e-5f, what + " dx");
      check_close(wv.grad(), f.at(k + "dweight"), 1e-4f, 1e-5f, what + " dweight");
      check_close(bv.grad(), f.at(k + "dbias"), 1e-4f, 1e-5f, what + " dbias");
      check_close(rv, f.at(k + "new_running_var"), 1e-5f, 1e-6f, what + " running_var");
    }
  }
}

TEST_CASE("fused bn_relu6: equals relu6(batch_norm) on random shapes, and the errors") {
  Generator gen(11);
  // Shapes: odd channel counts (vector remainders), 1×1 maps, more rows than one block.
  const std::vector<Shape> shapes = {{2, 3, 5, 4}, {4, 17, 1, 1}, {3, 40, 7, 9}, {2, 8, 12, 11}};
  for (const Shape& s : shapes)
    for (bool training : {true, false})
      for (bool cl : {false, true}) {
        const int64_t c = s[1];
        const Tensor x = in_layout(add(Tensor::normal(s, 0, 2, gen), 0.7f), cl);
        const Tensor w = Tensor::uniform({c}, 1.0f, 4.0f, gen), b = Tensor::normal({c}, 2, 2, gen);
        const Tensor dy = in_layout(Tensor::normal(s, 0, 1, gen), cl);
        const Tensor rm0 = Tensor::normal({c}, 0, 0.3f, gen), rv0 = Tensor::uniform({c}, 0.5f, 1.5f, gen);
        const std::string what = fmt::format("x{} {} {}", shape_str(s), training ? "train" : "eval",
                                             cl ? "nhwc" : "nchw");
        Tensor rm = rm0.clone(), rv = rv0.clone(), rm_ref = rm0.clone(), rv_ref = rv0.clone();
        Variable xv(x, true), wv(w, true), bv(b, true);
        Variable y = batch_norm_relu6(xv, wv, bv, rm, rv, training, 0.1f, 1e-5f);
        y.backward(dy);
        Variable xr(x, true), wr(w, true), br(b, true);
        Variable yr = relu6(batch_norm(xr, wr, br, rm_ref, rv_ref, training, 0.1f, 1e-5f));
        yr.backward(dy);
        check_close(y.data(), yr.data(), 1e-4f, 1e-4f, what + " y");
        check_close(rm, rm_ref, 1e-5f, 1e-5f, what + " running_mean");
        check_close(rv, rv_ref, 1e-5f, 1e-5f, what + " running_var");
        check_close(xv.grad(), xr.grad(), 1e-3f, 1e-4f, what + " dx");
        check_close(wv.grad(), wr.grad(), 1e-3f, 1e-3f, what + " dweight");
        check_close(bv.grad(), br.grad(), 1e-3f, 1e-3f, what + " dbias");
      }
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  const Tensor x = Tensor::normal({2, 3, 2, 2}, 0, 1, gen);
  CHECK_THROWS_WITH_AS(batch_norm_relu6_forward(x, Tensor::ones({3}), Tensor(), rm, rv, true,
                                                0.1f, 1e-5f, nullptr),
                       doctest::Contains("[batch_norm_relu6]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_relu6_forward(x, Tensor::ones({4}), Tensor::zeros({4}), rm,
                                                rv, true, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("(4,)"), Error);
}

TEST_CASE("fused bn_relu6: the backward in place over dy equals the one into a fresh buffer") {
  Generator gen(12);
  for (const Shape& s : {Shape{3, 40, 7, 9}, Shape{2, 17, 5, 4}})
    for (bool training : {true, false}) {
      CAPTURE(shape_str(s));
      CAPTURE(training);
      const int64_t c = s[1];
      const Tensor x = add(Tensor::normal(s, 0, 2, gen), 0.7f).to_channels_last();
      const Tensor w = Tensor::uniform({c}, 1.0f, 4.0f, gen), b = Tensor::normal({c}, 2, 2, gen);
      Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c});
      BatchNormSaved saved;
      batch_norm_relu6_forward(x, w, b, rm, rv, training, 0.1f, 1e-5f, &saved);
      const Tensor dy = Tensor::normal(s, 0, 1, gen).to_channels_last();
      Tensor dx, dw, db;
      batch_norm_relu6_backward(dy, x, w, b, saved, training, 1e-5f, &dx, &dw, &db);
      Tensor dy2 = dy.contiguous().to_channels_last();  // a copy, then overwritten
      Tensor dx2 = dy2, dw2, db2;
      const float* buffer = dy2.data();
      batch_norm_relu6_backward(dy2, x, w, b, saved, training, 1e-5f, &dx2, &dw2, &db2);
      CHECK(dx2.data() == buffer);
      CHECK(dx2.is_channels_last());
      CHECK(dx2.to_vector() == dx.to_vector());  // the same arithmetic, bit for bit
      CHECK(dw2.to_vector() == dw.to_vector());
      CHECK(db2.to_vector() == db.to_vector());
      // Through autograd, where the engine holds the only reference to the op's dout (made
      // by mul's backward), and the residual-style gradient sum the engine does in place.
      Variable xv(x, true), wv(w, true), bv(b, true);
      Tensor rm2 = Tensor::zeros({c}), rv2 = Tensor::ones({c});
      const Variable y = batch_norm_relu6(xv, wv, bv, rm2, rv2, training, 0.1f, 1e-5f);
      add(mul(y, 2.0f), mul(y, 3.0f)).backward(dy);
      check_close(xv.grad(), mul(dx, 5.0f), 1e-5f, 1e-6f, "dx through autograd");
      check_close(wv.grad(), mul(dw, 5.0f), 1e-5f, 1e-6f, "dweight through autograd");
    }
}

TEST_CASE("fused bn_relu6: gradcheck, training and inference, both layouts") {
  Generator gen(7);
  for (bool training : {true, false})
    for (bool cl : {false, true}) {
      const Shape xs = {2, 3, 3, 2};
      Tensor rm = Tensor::normal({3}, 0, 0.3f, gen), rv = Tensor::uniform({3}, 0.5f, 1.5f, gen);
      // x spread so that z crosses 0 and 6, away from the kinks by more than ε·|dz/dx|.
      const std::vector<Tensor> inputs = {in_layout(Tensor::normal(xs, 0, 1.5f, gen), cl),
                                          Tensor::uniform({3}, 1.0f, 3.0f, gen),
                                          Tensor::normal({3}, 2, 1, gen)};
      const auto r = gradcheck(
          [&](const std::vector<Variable>& v) {
            Tensor rm_copy = rm.clone(), rv_copy = rv.clone();
            return batch_norm_relu6(v[0], v[1], v[2], rm_copy, rv_copy, training, 0.1f, 1e-5f);
          },
          inputs);
      CHECK_MESSAGE(r.ok, (training ? "train " : "eval "), (cl ? "nhwc: " : "nchw: "), r.message);
    }
}

TEST_CASE("fused conv1x1_bn_relu6: kernels and autograd op match PyTorch") {
  std::vector<std::string> names;
  for (const auto& [key, value] : fixture().metadata)
    if (key.rfind("conv_bn_relu6.", 0) == 0) names.push_back(key.substr(14));
  REQUIRE(names.size() >= 3);
  for (const std::string& name : names) {
    std::istringstream meta(fixture().metadata.at("conv_bn_relu6." + name));
    double mom = 0, e = 0;
    meta >> mom >> e;
    const float momentum = float(mom), eps = float(e);
    const std::string k = "conv_bn_relu6." + name + ".";
    const Safetensors& f = fixture();
    const Tensor x = f.at(k + "x").to_channels_last(), w = f.at(k + "weight");
    const Tensor gamma = f.at(k + "gamma"), beta = f.at(k + "beta");
    const auto [zeros, sixes] = clamped_fractions(f.at(k + "z"));
    CHECK_MESSAGE((zeros > 0.05 && sixes > 0.05), name, ": clamps not exercised");
    // Every result against the fixture: z, the four gradients, the running statistics.
    auto check_all = [&](const std::vector<Tensor>& got, const Tensor& rm, const Tensor& rv,
                         const std::string& what) {
      const char* keys[] = {"z", "dx", "dweight", "dgamma", "dbeta"};
      for (size_t i = 0; i < got.size(); ++i)
        check_close(got[i], f.at(k + keys[i]), 1e-4f, 1e-5f, what + " " + keys[i]);
      check_close(rm, f.at(k + "new_running_mean"), 1e-5f, 1e-5f, what + " running_mean");
      check_close(rv, f.at(k + "new_running_var"), 1e-5f, 1e-5f, what + " running_var");
    };
    const Tensor dz = f.at(k + "dz").to_channels_last();
    {  // the kernels
      Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
      Conv1x1BnSaved saved;
      const Tensor z = conv1x1_bn_relu6_forward(x, w, gamma, beta, rm, rv, momentum, eps, &saved);
      Tensor dx, dw, dg, db;
      conv1x1_bn_relu6_backward(dz, z, x, w, gamma, saved, &dx, &dw, &dg, &db);
      check_all({z, dx, dw, dg, db}, rm, rv, name);
      CHECK(z.is_channels_last());
      CHECK(dx.is_channels_last());
    }
    {  // the autograd op
      Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
      Variable xv(x, true), wv(w, true), gv(gamma, true), bv(beta, true);
      const Variable z = conv1x1_bn_relu6(xv, wv, gv, bv, rm, rv, momentum, eps);
      z.backward(dz);
      check_all({z.data(), xv.grad(), wv.grad(), gv.grad(), bv.grad()}, rm, rv,
                name + " autograd");
    }
  }
}

TEST_CASE("fused conv1x1_bn_relu6: equals conv2d then batch_norm_relu6, and the errors") {
  Generator gen(13);
  // (N, C, H, W, O): odd counts (O not a multiple of 16 runs oneDNN's convolution, else
  // kizuki's loop, 8 rows at a time: 105 rows leave one over), x's rows spanning several of
  // the moments' chunks (64K elements: 9216 rows of 8), per-channel means far from 0 (up to
  // ±6, std 1.5).
  const std::vector<std::array<int64_t, 5>> shapes = {
      {2, 5, 4, 3, 13}, {3, 16, 7, 5, 96}, {4, 8, 48, 48, 24}, {4, 8, 48, 48, 32},
      {2, 33, 6, 6, 80}};
  for (const auto& [n, c, h, w, o] : shapes) {
    const std::string what = fmt::format("x ({},{},{},{}) to {}", n, c, h, w, o);
    const Tensor offsets = Tensor::uniform({1, c, 1, 1}, -6.0f, 6.0f, gen);
    const Tensor x = add(mul(Tensor::normal({n, c, h, w}, 0, 1.5f, gen), 1.0f), offsets)
                         .to_channels_last();
    const Tensor wt = Tensor::normal({o, c, 1, 1}, 0, std::sqrt(2.0f / float(c)), gen);
    const Tensor gamma = Tensor::uniform({o}, 0.5f, 3.0f, gen), beta = Tensor::normal({o}, 2, 2, gen);
    // dz is zeroed where the batch-normed value lies within 1e-4 of 0 or 6: there float
    // rounding may put the fused and the unfused path on different sides of ReLU6's kink
    // (one such element in 300 000 moved dβ by its dz).
    Tensor rm = Tensor::zeros({o}), rv = Tensor::ones({o}), rm_ref = rm.clone(), rv_ref = rv.clone();
    Tensor dz = Tensor::normal({n, o, h, w}, 0, 1, gen);
    {
      Tensor rm_tmp = rm.clone(), rv_tmp = rv.clone();
      const std::vector<float> u =
          batch_norm_forward(conv2d_forward(x, wt, Tensor(), Conv2dParams{}), gamma, beta,
                             rm_tmp, rv_tmp, true, 0.1f, 1e-5f, nullptr)
              .contiguous()
              .to_vector();
      float* d = dz.data();
      for (size_t i = 0; i < u.size(); ++i)
        if (std::fabs(u[i]) < 1e-4f || std::fabs(u[i] - 6.0f) < 1e-4f) d[i] = 0.0f;
      dz = dz.to_channels_last();
    }
    Variable xv(x, true), wv(wt, true), gv(gamma, true), bv(beta, true);
    const Variable z = conv1x1_bn_relu6(xv, wv, gv, bv, rm, rv, 0.1f, 1e-5f);
    z.backward(dz);
    Variable xr(x, true), wr(wt, true), gr(gamma, true), br(beta, true);
    const Variable zr = batch_norm_relu6(conv2d(xr, wr, Variable(), Conv2dParams{}), gr, br,
                                         rm_ref, rv_ref, true, 0.1f, 1e-5f);
    zr.backward(dz);
    const auto [zeros, sixes] = clamped_fractions(zr.data());
    CHECK_MESSAGE((zeros > 0.02 && sixes > 0.02), what, ": clamps not exercised");
    check_close(z.data(), zr.data(), 1e-4f, 1e-4f, what + " z");
    check_close(rm, rm_ref, 1e-5f, 1e-5f, what + " running_mean");
    check_close(rv, rv_ref, 1e-4f, 1e-5f, what + " running_var");
    check_close(xv.grad(), xr.grad(), 1e-3f, 1e-4f, what + " dx");
    check_close(wv.grad(), wr.grad(), 1e-3f, 1e-3f, what + " dweight");
    check_close(gv.grad(), gr.grad(), 1e-3f, 1e-3f, what + " dgamma");
    check_close(bv.grad(), br.grad(), 1e-3f, 1e-3f, what + " dbeta");
    // The kernels without autograd, dx or dweight alone: the same values (the same bits on
    // two threads; with more, the order in which threads add their partial sums may vary).
    Conv1x1BnSaved saved;
    Tensor rm2 = Tensor::zeros({o}), rv2 = Tensor::ones({o});
    const Tensor zk = conv1x1_bn_relu6_forward(x, wt, gamma, beta, rm2, rv2, 0.1f, 1e-5f, &saved);
    Tensor dx1, dw1;
    conv1x1_bn_relu6_backward(dz, zk, x, wt, gamma, saved, &dx1, nullptr, nullptr, nullptr);
    conv1x1_bn_relu6_backward(dz, zk, x, wt, gamma, saved, nullptr, &dw1, nullptr, nullptr);
    check_close(dx1, xv.grad(), 1e-6f, 1e-7f, what + " dx alone");
    check_close(dw1, wv.grad(), 1e-6f, 1e-7f, what + " dweight alone");
  }
  Tensor rm = Tensor::zeros({6}), rv = Tensor::ones({6});
  const Tensor x = Tensor::normal({2, 3, 2, 2}, 0, 1, gen), w = Tensor::normal({6, 3, 1, 1}, 0, 1, gen);
  const Tensor g = Tensor::ones({6}), b = Tensor::zeros({6});
  CHECK_THROWS_WITH_AS(conv1x1_bn_relu6_forward(x, w, g, b, rm, rv, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("channels-last"), Error);
  CHECK_THROWS_WITH_AS(conv1x1_bn_relu6_forward(x.to_channels_last(), Tensor::ones({6, 4, 1, 1}),
                                                g, b, rm, rv, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("(O,3,1,1)"), Error);
  CHECK_THROWS_WITH_AS(conv1x1_bn_relu6_forward(x.to_channels_last(), w, Tensor::ones({5}), b,
                                                rm, rv, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("(6,)"), Error);
}

TEST_CASE("fused conv1x1_bn_relu6: gradcheck") {
  Generator gen(8);
  Tensor rm = Tensor::zeros({5}), rv = Tensor::ones({5});
  // x offset per channel; gamma and beta put z on both sides of 0 and 6.
  const std::vector<Tensor> inputs = {
      add(Tensor::normal({2, 3, 3, 2}, 0, 1.0f, gen), Tensor::uniform({1, 3, 1, 1}, -2, 2, gen))
          .to_channels_last(),
      Tensor::normal({5, 3, 1, 1}, 0, 0.8f, gen), Tensor::uniform({5}, 1.0f, 3.0f, gen),
      Tensor::normal({5}, 2, 1, gen)};
  const auto r = gradcheck(
      [&](const std::vector<Variable>& v) {
        Tensor rm_copy = rm.clone(), rv_copy = rv.clone();
        return conv1x1_bn_relu6(v[0], v[1], v[2], v[3], rm_copy, rv_copy, 0.1f, 1e-5f);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("fused conv1x1_bn_relu6: MobileNetV2's expansion layer uses it where it pays") {
  Generator gen(9);
  // Conv 1×1 8 → 48 + BN + ReLU6 in training mode: fused from kMinRowsPerOutput·48 = 576
  // rows of x.
  auto layer = conv_bn_relu6(8, 48, 1, 1, 1, 1e-5f, PaddingMode::symmetric, gen);
  layer->train();
  auto& conv = dynamic_cast<Conv2d&>(*layer->at(0));
  auto& bn = dynamic_cast<BatchNorm2d&>(*layer->at(1));
  static_assert(kMinRowsPerOutput * 48 > 512 && kMinRowsPerOutput * 48 <= 2048);
  for (auto [n, fused] : {std::pair{8, true}, std::pair{2, false}}) {  // 2048 and 512 rows
    CAPTURE(n);
    const Tensor x = add(Tensor::normal({n, 8, 16, 16}, 0, 1, gen), 0.5f).to_channels_last();
    const Tensor rm0 = bn.running_mean().clone(), rv0 = bn.running_var().clone();
    const Variable z = layer->forward(Variable(x, true));
    REQUIRE(z.grad_fn());
    CHECK(z.grad_fn()->name == (fused ? "conv1x1_bn_relu6" : "batch_norm_relu6"));
    Tensor rm = rm0.clone(), rv = rv0.clone();
    const Variable want = batch_norm_relu6(conv.forward(Variable(x)), bn.weight(), bn.bias(),
                                           rm, rv, true, bn.momentum(), bn.eps());
    check_close(z.data(), want.data(), 1e-4f, 1e-4f, "z");
    check_close(bn.running_var(), rv, 1e-5f, 1e-5f, "running_var");
  }
}

TEST_CASE("fused conv2d_relu6_forward: the naive conv then the clamp") {
  Generator gen(3);
  for (int64_t groups : {1, 8})
    for (int64_t stride : {1, 2}) {
      const Tensor x = Tensor::normal({2, 8, 7, 6}, 0, 1, gen).to_channels_last();
      const Tensor w = Tensor::normal({8, 8 / groups, 3, 3}, 0, 1.5f, gen);
      const Tensor b = Tensor::normal({8}, 1, 2, gen);
      const Conv2dParams p = Conv2dParams::symmetric(stride, 1, groups);
      Tensor want = conv2d_forward_naive(x, w, b, p).contiguous();
      float* v = want.data();
      for (int64_t i = 0; i < want.numel(); ++i) v[i] = std::min(std::max(v[i], 0.0f), 6.0f);
      const Tensor got = conv2d_relu6_forward(x, w, b, p);
      const auto [zeros, sixes] = clamped_fractions(want);
      CHECK((zeros > 0.05 && sixes > 0.05));
      check_close(got, want, 1e-4f, 1e-4f, fmt::format("groups {} stride {}", groups, stride));
    }
}

TEST_CASE("pointwise forward on 1x1 maps as GEMM: the naive conv, plus bias and clamp") {
  // 1×1 maps run y = x·Wᵀ through sgemm (tensor/conv2d.cpp, use_gemm_forward); 2×2 maps stay
  // on oneDNN. Both against the naive loops, with and without bias and ReLU6.
  dnnl_cache_clear();
  Generator gen(5);
  for (int64_t hw : {1, 2})
    for (bool with_bias : {false, true}) {
      const Tensor x = Tensor::normal({6, 20, hw, hw}, 0, 1, gen).to_channels_last();
      const Tensor w = Tensor::normal({36, 20, 1, 1}, 0, 1.5f, gen);
      const Tensor b = with_bias ? Tensor::normal({36}, 1, 2, gen) : Tensor();
      const Conv2dParams p{};
      const Tensor y_ref = conv2d_forward_naive(x, w, b, p).contiguous();
      Tensor z_ref = y_ref.clone();
      float* v = z_ref.data();
      for (int64_t i = 0; i < z_ref.numel(); ++i) v[i] = std::min(std::max(v[i], 0.0f), 6.0f);
      const auto [zeros, sixes] = clamped_fractions(z_ref);
      CHECK((zeros > 0.05 && sixes > 0.05));
      const std::string what = fmt::format("{}x{} bias {}", hw, hw, with_bias);
      const Tensor y = conv2d_forward(x, w, b, p), z = conv2d_relu6_forward(x, w, b, p);
      CHECK(layout_of(y) == Layout::nhwc);
      check_close(y, y_ref, 1e-4f, 1e-4f, what + " y");
      check_close(z, z_ref, 1e-4f, 1e-4f, what + " relu6");
    }
  int gemm = 0;
  for (const DnnlImpl& i : dnnl_impls())
    gemm += i.impl == "kizuki:pointwise_gemm" && i.what.find("forward") != std::string::npos;
  CHECK(gemm == 4);  // conv2d_forward and conv2d_relu6_forward, with and without bias, 1×1 only
}

TEST_CASE("fused MobileNetV2 inference (BN folded into convs) equals the unfolded eval forward") {
  Generator gen(21);
  MobileNetV2Options o;
  o.width = 0.35;
  o.num_classes = 7;
  MobileNetV2 net(o, gen);
  // Non-trivial running statistics and affine parameters in every BN layer.
  for (auto& [name, t] : net.named_buffers())
    t->copy_(name.find("running_var") != std::string::npos
                 ? Tensor::uniform(t->shape(), 0.5f, 2.0f, gen)
                 : Tensor::normal(t->shape(), 0, 0.2f, gen));
  for (auto& [name, p] : net.named_parameters())
    if (p.dim() == 1 && name.find("classifier") == std::string::npos)
      p.data().copy_(name.find("weight") != std::string::npos
                         ? Tensor::uniform(p.shape(), 0.5f, 1.5f, gen)
                         : Tensor::normal(p.shape(), 0, 0.5f, gen));
  net.eval();
  const Tensor x = Tensor::normal({3, 3, 32, 32}, 0, 1, gen);
  const Tensor unfolded = net.forward(Variable(x)).data();  // gradients wanted: no folding
  Tensor folded;
  {
    NoGradGuard no_grad;
    folded = net.forward(Variable(x)).data();
  }
  check_close(folded, unfolded, 1e-4f, 1e-4f, "logits");
}
