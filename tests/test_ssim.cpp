// test_ssim.cpp — SSIM (losses/ssim.h) and the mirror padding it uses (pad2d_symmetric,
// autograd/pad2d.cpp): against scikit-image's structural_similarity (full map and mean) and
// the same formulas in PyTorch (map and both gradients, 7×7 and 11×11 windows), both from
// ssim.safetensors (tests/fixtures/make_ssim.py); against finite differences (gradcheck);
// the properties SSIM(x, x) = 1 and SSIM(x, y) = SSIM(y, x); channels-last vs NCHW; bad
// arguments.
// Shapes: images (N,C,H,W); w the window, r = (w−1)/2.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "autograd/gradcheck.h"
#include "losses/ssim.h"
#include "tensor/dnnl.h"
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
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/ssim.safetensors");
  return f;
}


bool nhwc(const Tensor& t) { return t.is_channels_last() && !t.is_contiguous(); }

// Float32 SSIM is accurate to about eps·E[x²]/C2 (≈ 6e-8/k2² ≈ 7e-5 at worst) where the
// local variance is below C2: g∗x² − μ² cancels there. Against the float64 references the
// maps here differ by up to 2.6e-5 (PyTorch's float32 conv2d with the 2-D window: up to
// 4e-5), the gradients by up to 8e-6 of their largest magnitude. So maps compare at 6e-5
// absolute and gradients at 2e-5 of their largest magnitude.
constexpr float kMapTol = 6e-5f;

void check_grad(const Tensor& got, const Tensor& want, const std::string& what) {
  check_close(got, want, 0.0f, 2e-5f * max_all(abs(want)), what);
}

// Thousands of tiny convolutions (gradcheck) run faster on one thread: no OpenMP wake-ups
// per call, which cost seconds on a busy machine (as in test_conv.cpp).
class OneThread {
 public:
  OneThread() : saved_(dnnl_num_threads()) { dnnl_set_num_threads(1); }
  ~OneThread() { dnnl_set_num_threads(saved_); }

 private:
  int saved_;
};

// Smooth images in [0, 1] plus a little noise: (N,C,H,W).
Tensor test_image(const Shape& shape, Generator& gen) {
  const Tensor base = Tensor::uniform(shape, 0.2f, 0.8f, gen);
  Tensor smooth = Tensor::zeros(shape);  // 3×3 box blur of base, edges clamped
  const int64_t h = shape[2], w = shape[3];
  for (int64_t n = 0; n < shape[0]; ++n)
    for (int64_t c = 0; c < shape[1]; ++c)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          float s = 0.0f;
          for (int64_t di = -1; di <= 1; ++di)
            for (int64_t dj = -1; dj <= 1; ++dj)
              s += base.at({n, c, std::clamp<int64_t>(i + di, 0, h - 1),
                            std::clamp<int64_t>(j + dj, 0, w - 1)});
          smooth.at({n, c, i, j}) = s / 9.0f;
        }
  return add(smooth, Tensor::normal(shape, 0.0f, 0.05f, gen));
}

}  // namespace

// --- pad2d_symmetric ------------------------------------------------------------------------

TEST_CASE("ssim: pad2d_symmetric matches numpy's 'symmetric' and torch's gradient, both layouts") {
  const auto names = case_names(fixture(), "pad.");
  REQUIRE(names.size() == 2);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "pad." + name);
    REQUIRE(m.size() == 4);
    const auto pads = std::array<int64_t, 4>{int64_t(m[0]), int64_t(m[1]), int64_t(m[2]),
                                            int64_t(m[3])};
    const std::string k = "pad." + name + ".";
    const Tensor& x = fixture().at(k + "x");
    for (bool cl : {false, true}) {
      const std::string what = name + (cl ? " nhwc" : " nchw");
      Variable xv(in_layout(x, cl), true);
      const Variable y = pad2d_symmetric(xv, pads[0], pads[1], pads[2], pads[3]);
      // A copy: exact.
      check_close(y.data(), fixture().at(k + "y"), 0.0f, 0.0f, what + " y");
      y.backward(in_layout(fixture().at(k + "dy"), cl));
      check_close(xv.grad(), fixture().at(k + "dx"), 1e-6f, 1e-6f, what + " dx");
      if (x.size(1) > 1) CHECK_MESSAGE(nhwc(y.data()) == cl, what, " y layout");
    }
  }
}

TEST_CASE("ssim: pad2d_symmetric gradcheck, and its bad arguments") {
  Generator gen(5);
  for (bool cl : {false, true}) {
    const auto r = gradcheck(
        [](const std::vector<Variable>& v) { return pad2d_symmetric(v[0], 2, 1, 0, 4); },
        {in_layout(Tensor::normal({2, 3, 3, 4}, 0, 1, gen), cl)});
    CHECK_MESSAGE(r.ok, (cl ? "nhwc: " : "nchw: "), r.message);
  }
  const Variable x(Tensor::zeros({1, 2, 3, 4}));
  CHECK_THROWS_WITH_AS(pad2d_symmetric(Variable(Tensor::zeros({2, 3, 4})), 1, 1, 1, 1),
                       doctest::Contains("[pad2d_symmetric] x must be (N,C,H,W), got (2, 3, 4)"),
                       Error);
  CHECK_THROWS_WITH_AS(pad2d_symmetric(x, 1, -1, 0, 0),
                       doctest::Contains("must be >= 0 for x (1, 2, 3, 4)"), Error);
  CHECK_THROWS_WITH_AS(pad2d_symmetric(Variable(Tensor::zeros({1, 2, 0, 4})), 1, 1, 1, 1),
                       doctest::Contains("[pad2d_symmetric] cannot mirror an empty image"),
                       Error);
}

// --- the window -----------------------------------------------------------------------------

TEST_CASE("ssim: the Gaussian window and the default window size") {
  for (int64_t w : {7, 11}) {
    const Tensor g = ssim_window(w, 1.5f);
    REQUIRE(g.shape() == Shape{w});
    CHECK(sum(g).item() == doctest::Approx(1.0).epsilon(1e-6));
    const int64_t r = w / 2;
    for (int64_t i = 0; i < w; ++i) {
      // g[i] / g[r] = exp(−(i−r)² / 2σ²), symmetric about r.
      const double d2 = double((i - r) * (i - r));
      CHECK(g.at({i}) / g.at({r}) == doctest::Approx(std::exp(-d2 / 4.5)).epsilon(1e-5));
      CHECK(g.at({i}) == g.at({w - 1 - i}));
    }
  }
  CHECK(ssim_default_window(32, 32) == 7);
  CHECK(ssim_default_window(28, 28) == 7);
  CHECK(ssim_default_window(96, 32) == 7);
  CHECK(ssim_default_window(33, 33) == 11);
  CHECK(ssim_default_window(256, 256) == 11);
}

// --- against scikit-image and PyTorch -------------------------------------------------------

TEST_CASE("ssim: full map and per-image mean match scikit-image, both layouts") {
  const OneThread one_thread;
  const auto names = case_names(fixture(), "sk.");
  REQUIRE(names.size() == 3);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "sk." + name);
    REQUIRE(m.size() == 2);
    SsimOptions o;
    o.window = int64_t(m[0]);
    o.data_range = float(m[1]);
    const std::string k = "sk." + name + ".";
    for (bool cl : {false, true}) {
      const std::string what = name + (cl ? " nhwc" : " nchw");
      const Variable x(in_layout(fixture().at(k + "x"), cl)), y(in_layout(fixture().at(k + "y"), cl));
      const Tensor map = ssim_map(x, y, o).data();
      // The padding is scikit-image's: the whole map compares, border included.
      check_close(map, fixture().at(k + "map"), 0.0f, kMapTol, what + " map");
      const int64_t r = o.window / 2, h = x.size(2), w = x.size(3);
      check_close(map.narrow(2, r, h - 2 * r).narrow(3, r, w - 2 * r),
                  fixture().at(k + "map").narrow(2, r, h - 2 * r).narrow(3, r, w - 2 * r),
                  0.0f, kMapTol, what + " interior");
      check_close(ssim(x, y, o).data(), fixture().at(k + "mean"), 0.0f, 2e-6f, what + " mean");
    }
  }
}

TEST_CASE("ssim: map and gradients w.r.t. x and y match PyTorch, 7x7 and 11x11, both layouts") {
  const OneThread one_thread;
  const auto names = case_names(fixture(), "pt.");
  REQUIRE(names.size() == 3);
  for (const std::string& name : names) {
    const auto m = metadata_numbers(fixture(), "pt." + name);
    REQUIRE(m.size() == 2);
    SsimOptions o;
    o.window = int64_t(m[0]);
    o.data_range = float(m[1]);
    const std::string k = "pt." + name + ".";
    const Tensor& weight = fixture().at(k + "weight");
    for (bool cl : {false, true}) {
      const std::string what = name + (cl ? " nhwc" : " nchw");
      Variable x(in_layout(fixture().at(k + "x"), cl), true);
      Variable y(in_layout(fixture().at(k + "y"), cl), true);
      const Variable map = ssim_map(x, y, o);
      check_close(map.data(), fixture().at(k + "map"), 0.0f, kMapTol, what + " map");
      CHECK_MESSAGE(nhwc(map.data()) == (cl && x.size(1) > 1), what, " map layout");
      sum(mul(map, Variable(weight))).backward();
      check_grad(x.grad(), fixture().at(k + "dx"), what + " dx");
      check_grad(y.grad(), fixture().at(k + "dy"), what + " dy");

      // y a constant (the autoencoder's target): dx unchanged.
      Variable x2(in_layout(fixture().at(k + "x"), cl), true);
      const Variable y2(in_layout(fixture().at(k + "y"), cl));
      sum(mul(ssim_map(x2, y2, o), Variable(weight))).backward();
      check_grad(x2.grad(), fixture().at(k + "dx"), what + " dx, y constant");
      CHECK(!y2.grad().defined());

      // The means and the channel-averaged map.
      check_close(ssim(x2, y2, o).data(), fixture().at(k + "mean_interior"), 0.0f, 2e-6f,
                  what + " mean interior");
      SsimOptions full = o;
      full.crop_border = false;
      check_close(ssim(x2, y2, full).data(), fixture().at(k + "mean_full"), 0.0f, 2e-6f,
                  what + " mean full");
      check_close(ssim_pixel_map(x2, y2, o).data(), mean(fixture().at(k + "map"), {1}), 0.0f,
                  kMapTol, what + " pixel map");
    }
  }
}

TEST_CASE("ssim: gradcheck of ssim_map and ssim w.r.t. x and y") {
  const OneThread one_thread;
  Generator gen(23);
  SsimOptions o;
  o.window = 7;
  for (bool cl : {false, true}) {
    // Unrelated noise images: local variances far above C2, so the float32 forwards of the
    // finite differences are precise (on smooth images their rounding, ~1e-5, swamps them).
    const Tensor x = in_layout(Tensor::uniform({2, 2, 12, 12}, 0, 1, gen), cl);
    const Tensor y = in_layout(Tensor::uniform({2, 2, 12, 12}, 0, 1, gen), cl);
    const auto r = gradcheck(
        [&](const std::vector<Variable>& v) { return ssim_map(v[0], v[1], o); }, {x, y});
    CHECK_MESSAGE(r.ok, (cl ? "map nhwc: " : "map nchw: "), r.message);
  }
  // The mean over the interior, 11×11 window, a noisy copy (SSIM near 1, not at it).
  const Tensor x = Tensor::uniform({2, 1, 13, 14}, 0, 1, gen);
  const Tensor y = add(x, Tensor::normal(x.shape(), 0.0f, 0.05f, gen));
  const auto r = gradcheck(
      [&](const std::vector<Variable>& v) { return ssim(v[0], v[1], SsimOptions{}); }, {x, y});
  CHECK_MESSAGE(r.ok, "mean: ", r.message);
}

// --- properties -----------------------------------------------------------------------------

TEST_CASE("ssim: SSIM(x, x) = 1, SSIM(x, y) = SSIM(y, x), channels-last = NCHW") {
  // The default thread count, and big enough (8·3·38·38 padded) for pad2d's parallel loop.
  Generator gen(31);
  for (int64_t c : {1, 3}) {
    const Tensor x = test_image({8, c, 32, 31}, gen);
    const Tensor y = test_image({8, c, 32, 31}, gen);
    SsimOptions o;
    o.window = ssim_default_window(32, 31);
    REQUIRE(o.window == 7);
    const Tensor same = ssim_map(Variable(x), Variable(x), o).data();
    CHECK_MESSAGE(max_abs_diff(same, Tensor::ones(same.shape())) <= 1e-6f, "C ", c);
    o.data_range = 255.0f;  // a different C1, C2: still 1 for identical images
    const Tensor same255 = ssim_map(Variable(mul(x, 255.0f)), Variable(mul(x, 255.0f)), o).data();
    CHECK_MESSAGE(max_abs_diff(same255, Tensor::ones(same.shape())) <= 1e-6f, "C ", c, " L 255");
    o.data_range = 1.0f;

    const Tensor xy = ssim_map(Variable(x), Variable(y), o).data();
    const Tensor yx = ssim_map(Variable(y), Variable(x), o).data();
    check_close(xy, yx, 0.0f, 1e-6f, "symmetric");
    CHECK(max_all(xy) < 0.99f);  // the images differ: not a map of ones

    // Channels-last: the same map and gradients as NCHW, and stays channels-last.
    Variable xa(x, true), ya(y, true), xb(x.to_channels_last(), true),
        yb(y.to_channels_last(), true);
    const Tensor w = Tensor::normal(x.shape(), 0, 1, gen);
    const Variable ma = ssim_map(xa, ya, o), mb = ssim_map(xb, yb, o);
    check_close(mb.data(), ma.data(), 0.0f, 1e-6f, "nhwc map");
    CHECK(nhwc(mb.data()) == (c > 1));
    sum(mul(ma, Variable(w))).backward();
    sum(mul(mb, Variable(w))).backward();
    check_close(xb.grad(), xa.grad(), 1e-5f, 1e-5f, "nhwc dx");
    check_close(yb.grad(), ya.grad(), 1e-5f, 1e-5f, "nhwc dy");
    // Mixed layouts give the same numbers too.
    check_close(ssim_map(Variable(x.to_channels_last()), Variable(y), o).data(), xy, 0.0f, 1e-6f,
                "mixed layouts");
  }
}

TEST_CASE("ssim: shapes of the results") {
  const OneThread one_thread;
  Generator gen(3);
  const Variable x(test_image({4, 3, 16, 15}, gen)), y(test_image({4, 3, 16, 15}, gen));
  SsimOptions o;
  o.window = 7;
  CHECK(ssim_map(x, y, o).shape() == Shape{4, 3, 16, 15});
  CHECK(ssim(x, y, o).shape() == Shape{4});
  CHECK(ssim_pixel_map(x, y, o).shape() == Shape{4, 16, 15});
  // The interior mean by hand from the map.
  const Tensor map = ssim_map(x, y, o).data();
  check_close(ssim(x, y, o).data(), mean(map.narrow(2, 3, 10).narrow(3, 3, 9), {1, 2, 3}), 0.0f,
              1e-6f, "interior mean");
  // The autoencoder's loss over every pixel: C·H·W times (1 − the whole-image mean SSIM),
  // averaged over the images, and its gradient the same as through that mean.
  o.crop_border = false;
  Variable xa(x.data().clone(), true), xb(x.data().clone(), true);
  const Variable loss = ssim_loss(xa, y, o);
  CHECK(loss.shape() == Shape{});
  const Variable by_mean = mul(mean(add(neg(ssim(xb, y, o)), 1.0f)), 3.0f * 16 * 15);
  CHECK(loss.item() == doctest::Approx(by_mean.item()).epsilon(1e-5));
  loss.backward();
  by_mean.backward();
  check_close(xa.grad(), xb.grad(), 1e-5f, 1e-4f, "ssim_loss gradient");
}

TEST_CASE("ssim: bad arguments throw naming the op and the shapes") {
  const Variable x(Tensor::zeros({2, 3, 16, 16})), y(Tensor::zeros({2, 3, 16, 16}));
  SsimOptions o;
  o.window = 7;
  CHECK_THROWS_WITH_AS(ssim_map(x, Variable(Tensor::zeros({2, 3, 16, 15})), o),
                       doctest::Contains("[ssim_map] x (2, 3, 16, 16) and y (2, 3, 16, 15) must "
                                         "have the same shape"),
                       Error);
  CHECK_THROWS_WITH_AS(ssim(Variable(Tensor::zeros({3, 16, 16})), Variable(Tensor::zeros({3, 16, 16})), o),
                       doctest::Contains("[ssim] x and y must be (N,C,H,W), got x (3, 16, 16)"),
                       Error);
  CHECK_NOTHROW(ssim_pixel_map(x, y, SsimOptions{}));  // 11×11 on 16×16 is fine
  const Variable small(Tensor::zeros({2, 3, 10, 16}));
  CHECK_THROWS_WITH_AS(ssim_map(small, small, SsimOptions{}),
                       doctest::Contains("[ssim_map] image (2, 3, 10, 16) is smaller than the "
                                         "11x11 window"),
                       Error);
  SsimOptions even = o;
  even.window = 8;
  CHECK_THROWS_WITH_AS(ssim_map(x, y, even), doctest::Contains("window must be odd"), Error);
  SsimOptions range = o;
  range.data_range = 0.0f;
  CHECK_THROWS_WITH_AS(ssim(x, y, range), doctest::Contains("[ssim] data_range must be > 0"),
                       Error);
  range.data_range = -1.0f;
  CHECK_THROWS_AS(ssim_map(x, y, range), Error);
  range.data_range = std::nanf("");
  CHECK_THROWS_AS(ssim_map(x, y, range), Error);
  SsimOptions sigma = o;
  sigma.sigma = 0.0f;
  CHECK_THROWS_WITH_AS(ssim_map(x, y, sigma), doctest::Contains("sigma must be > 0"), Error);
  CHECK_THROWS_WITH_AS(ssim_map(x, Variable(), o), doctest::Contains("[ssim_map]"), Error);
}
