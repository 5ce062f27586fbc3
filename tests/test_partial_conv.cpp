// test_partial_conv.cpp — Liu et al.'s partial convolution (layers/partial_conv.h) against
// NVIDIA's reference formula in PyTorch (tests/fixtures/make_partial_conv.py): output,
// updated mask and the gradients of x, W and b, at stride 1 and 2; the gradients against
// finite differences; bad masks refused.
#include <doctest/doctest.h>

#include <span>

#include "layers/partial_conv.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

using namespace kz;

namespace {

float rel_err(const Tensor& a, const Tensor& b) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), shape_str(a.shape()), " vs ", shape_str(b.shape()));
  return max_abs_diff(a.contiguous(), b.contiguous()) / std::max(max_all(abs(b)), 1e-30f);
}

// Central differences of L = Σ r ⊙ partial_conv2d(x, mask, W, b).out at a few entries of x
// (2,3,8,8) and W (4,3,3,3), against the gradients gx, gw that backward gave at x0, w0. L is
// linear in x and in W, so a large step is exact up to rounding.
void check_differences(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& mask,
                       const Conv2dParams& p, const Tensor& r, const Tensor& gx, const Tensor& gw) {
  auto loss = [&](const Tensor& xv, const Tensor& wv) {
    NoGradGuard no_grad;
    return sum(mul(partial_conv2d(Variable(xv), mask, Variable(wv), Variable(b0), p).out.data(), r))
        .item();
  };
  const std::vector<float> gxv = gx.to_vector(), gwv = gw.to_vector();
  const float h = 0.25f;
  for (const int64_t i : {0L, 77L, 200L, 383L}) {
    Tensor up = x0.clone(), down = x0.clone();
    up.data()[i] += h;
    down.data()[i] -= h;
    CHECK((loss(up, w0) - loss(down, w0)) / (2 * h) ==
          doctest::Approx(gxv[size_t(i)]).epsilon(1e-3).scale(1.0));
  }
  for (const int64_t i : {0L, 50L, 107L}) {
    Tensor up = w0.clone(), down = w0.clone();
    up.data()[i] += h;
    down.data()[i] -= h;
    CHECK((loss(x0, up) - loss(x0, down)) / (2 * h) ==
          doctest::Approx(gwv[size_t(i)]).epsilon(1e-3).scale(1.0));
  }
}

}  // namespace

TEST_CASE("partial_conv2d: output, mask and gradients equal NVIDIA's PartialConv2d (make_partial_conv.py)") {
  const Safetensors f = load_safetensors(std::string(KZ_FIXTURES) + "/partial_conv.safetensors");
  Generator gx(21), gw(23);
  const Tensor x0 = Tensor::uniform({2, 3, 8, 8}, -1.0f, 1.0f, gx);
  const Tensor w0 = Tensor::uniform({4, 3, 3, 3}, -0.5f, 0.5f, gw);
  const Tensor b0 = Tensor::uniform({4}, -0.5f, 0.5f, gw);
  const Tensor mask = f.tensors.at("mask");
  for (const int64_t stride : {1, 2}) {
    const std::string c = stride == 1 ? "s1" : "s2";
    CAPTURE(c);
    Variable x(x0.clone(), true), w(w0.clone(), true), b(b0.clone(), true);
    const Conv2dParams p = Conv2dParams::symmetric(stride, 1);
    const PartialConv y = partial_conv2d(x, mask, w, b, p);
    Generator gr(24);
    const Tensor r = Tensor::uniform(y.out.shape(), -1.0f, 1.0f, gr);
    sum(mul(y.out, Variable(r))).backward();
    CHECK(rel_err(y.out.data(), f.tensors.at("out." + c)) < 1e-5f);
    CHECK(max_abs_diff(y.mask, f.tensors.at("mask." + c)) == 0.0f);
    CHECK(rel_err(x.grad(), f.tensors.at("grad_x." + c)) < 1e-5f);
    CHECK(rel_err(w.grad(), f.tensors.at("grad_w." + c)) < 1e-5f);
    CHECK(rel_err(b.grad(), f.tensors.at("grad_b." + c)) < 1e-5f);
    check_differences(x0, w0, b0, mask, p, r, x.grad(), w.grad());
  }
  Tensor half = mask.clone();
  half.data()[0] = 0.5f;
  const Conv2dParams p = Conv2dParams::symmetric(1, 1);
  CHECK_THROWS_WITH_AS(partial_conv2d(Variable(x0), half, Variable(w0), Variable(b0), p),
                       doctest::Contains("mask value 0.5"), Error);
  CHECK_THROWS_WITH_AS(partial_conv2d(Variable(x0), Tensor::ones({2, 2, 8, 8}), Variable(w0), Variable(b0), p),
                       doctest::Contains("expected (N,C,H,W) and (N,1,H,W)"), Error);
}

TEST_CASE("partial_conv2d with a mask per input channel: the one-channel case exactly, and finite differences") {
  // The decoder of the inpainting U-Net (layers/partial_unet.h) concatenates features and
  // masks, so its masks differ between channels (NVIDIA's multi_channel mode). A mask that is
  // the same in every channel must give exactly the one-channel result checked above against
  // NVIDIA's code; a mask that differs between channels is checked by finite differences.
  const Safetensors f = load_safetensors(std::string(KZ_FIXTURES) + "/partial_conv.safetensors");
  Generator gx(31), gw(33), gm(35);
  const Tensor x0 = Tensor::uniform({2, 3, 8, 8}, -1.0f, 1.0f, gx);
  const Tensor w0 = Tensor::uniform({4, 3, 3, 3}, -0.5f, 0.5f, gw);
  const Tensor b0 = Tensor::uniform({4}, -0.5f, 0.5f, gw);
  const Tensor one = f.tensors.at("mask");  // (2,1,8,8)
  const Tensor same = cat({one, one, one}, 1).contiguous();
  for (const int64_t stride : {1, 2}) {
    CAPTURE(stride);
    const Conv2dParams p = Conv2dParams::symmetric(stride, 1);
    const PartialConv a = partial_conv2d(Variable(x0), one, Variable(w0), Variable(b0), p);
    const PartialConv b = partial_conv2d(Variable(x0), same, Variable(w0), Variable(b0), p);
    CHECK(max_abs_diff(a.out.data(), b.out.data()) <= 1e-6f);
    CHECK(max_abs_diff(a.mask.contiguous(), b.mask.contiguous()) == 0.0f);

    Tensor holes = Tensor::uniform({2, 3, 8, 8}, 0.0f, 1.0f, gm);
    for (float& v : std::span<float>(holes.data(), static_cast<size_t>(holes.numel())))
      v = v < 0.4f ? 0.0f : 1.0f;
    Variable x(x0.clone(), true), w(w0.clone(), true);
    const PartialConv y = partial_conv2d(x, holes, w, Variable(b0), p);
    Generator gr(36);
    const Tensor r = Tensor::uniform(y.out.shape(), -1.0f, 1.0f, gr);
    sum(mul(y.out, Variable(r))).backward();
    check_differences(x0, w0, b0, holes, p, r, x.grad(), w.grad());
  }
}
