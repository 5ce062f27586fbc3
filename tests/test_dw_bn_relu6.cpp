// test_dw_bn_relu6.cpp — the fused 3×3 depthwise conv + training batch norm + ReLU6
// (tensor/dw_bn_relu6.h, autograd/dw_bn_relu6.cpp) against the unfused ops it replaces:
// conv2d_forward with groups = C, batch_norm_relu6_forward / _backward, conv2d_backward_data
// and conv2d_backward_weights (each checked against PyTorch in test_conv.cpp and
// test_fused.cpp) on random shapes; PyTorch's relu6(batch_norm(conv2d(x, groups = C)))
// (dw_bn_relu6.safetensors from fixtures/make_fused.py); a finite-difference gradcheck; bad
// arguments.
// Shapes: x (N,C,H,W) channels-last; weight (C,1,3,3); gamma, beta, running stats (C).
#include <doctest/doctest.h>

#include <array>
#include <cmath>

#include "autograd/dw_bn_relu6.h"
#include "autograd/gradcheck.h"
#include "tensor/batch_norm.h"
#include "tensor/conv2d.h"
#include "tensor/dw_bn_relu6.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/kernel_checks.h"

using namespace kz;

namespace {

using kz::test::check_close;
using kz::test::clamped_fractions;

}  // namespace

TEST_CASE("fused dw_bn_relu6: equals the depthwise conv then batch_norm_relu6, both ways") {
  Generator gen(23);
  // (N, C, H, W): C not a multiple of the vector width (5, 17, 37), maps down to 1×1 and 2×2,
  // and {2, 64, 60, 40}, whose image (60 rows of 2560 floats) is more than one backward band
  // (the 512 KB buffer holds 49 rows): bands with dy rows recomputed on both sides.
  const std::vector<std::array<int64_t, 4>> shapes = {
      {2, 5, 4, 3}, {3, 16, 6, 7}, {2, 37, 1, 1}, {4, 20, 2, 2}, {2, 17, 12, 10},
      {3, 32, 9, 9}, {2, 64, 60, 40}};
  const float eps = 1e-5f, momentum = 0.1f;
  for (const auto& [n, c, h, w] : shapes) {
    const std::string what = fmt::format("x ({},{},{},{})", n, c, h, w);
    const Conv2dParams p = Conv2dParams::symmetric(1, 1, c);
    // Per-channel means far from 0 (±6), gamma and beta putting z on both clamps.
    const Tensor offsets = Tensor::uniform({1, c, 1, 1}, -6.0f, 6.0f, gen);
    const Tensor x = add(Tensor::normal({n, c, h, w}, 0, 1.5f, gen), offsets).to_channels_last();
    const Tensor wt = Tensor::normal({c, 1, 3, 3}, 0, 0.5f, gen);
    const Tensor gamma = Tensor::uniform({c}, 2.0f, 4.0f, gen), beta = Tensor::uniform({c}, 1, 5, gen);
    const Tensor rm0 = Tensor::normal({c}, 0, 0.3f, gen), rv0 = Tensor::uniform({c}, 0.5f, 1.5f, gen);
    // The unfused path.
    Tensor rm_ref = rm0.clone(), rv_ref = rv0.clone();
    BatchNormSaved bn_saved;
    const Tensor y = conv2d_forward(x, wt, Tensor(), p);
    const Tensor zr =
        batch_norm_relu6_forward(y, gamma, beta, rm_ref, rv_ref, true, momentum, eps, &bn_saved);
    // dz zeroed where the batch-normed value lies within 1e-4 of 0 or 6: there rounding may
    // put the two paths on different sides of ReLU6's kink.
    Tensor dz = Tensor::normal({n, c, h, w}, 0, 1, gen);
    {
      Tensor rm_tmp = rm0.clone(), rv_tmp = rv0.clone();
      const std::vector<float> u =
          batch_norm_forward(y, gamma, beta, rm_tmp, rv_tmp, true, momentum, eps, nullptr)
              .contiguous()
              .to_vector();
      float* d = dz.data();
      for (size_t i = 0; i < u.size(); ++i)
        if (std::fabs(u[i]) < 1e-4f || std::fabs(u[i] - 6.0f) < 1e-4f) d[i] = 0.0f;
      dz = dz.to_channels_last();
    }
    Tensor dy_ref, dg_ref, db_ref;
    batch_norm_relu6_backward(dz, y, gamma, beta, bn_saved, true, eps, &dy_ref, &dg_ref, &db_ref);
    const Tensor dx_ref = conv2d_backward_data(dy_ref, wt, x.shape(), p);
    const Tensor dw_ref = conv2d_backward_weights(dy_ref, x, wt.shape(), p, nullptr);
    if (h * w > 1) {
      const auto [zeros, sixes] = clamped_fractions(zr);
      CHECK_MESSAGE((zeros > 0.02 && sixes > 0.02), what, ": clamps not exercised");
    }
    // The fused kernels.
    Tensor rm = rm0.clone(), rv = rv0.clone();
    DwBnSaved saved;
    const Tensor z = dw_bn_relu6_forward(x, wt, gamma, beta, rm, rv, momentum, eps, &saved);
    CHECK(z.is_channels_last());
    check_close(z, zr, 1e-4f, 1e-4f, what + " z");
    check_close(rm, rm_ref, 1e-5f, 1e-5f, what + " running_mean");
    check_close(rv, rv_ref, 1e-4f, 1e-5f, what + " running_var");
    Tensor dx, dw, dg, db;
    dw_bn_relu6_backward(dz, x, wt, gamma, beta, saved, &dx, &dw, &dg, &db);
    CHECK(dx.is_channels_last());
    check_close(dx, dx_ref, 1e-3f, 1e-4f, what + " dx");
    check_close(dw, dw_ref, 1e-3f, 1e-3f, what + " dweight");
    check_close(dg, dg_ref, 1e-3f, 1e-3f, what + " dgamma");
    check_close(db, db_ref, 1e-3f, 1e-3f, what + " dbeta");
    // dx or dweight alone: the same values.
    Tensor dx1, dw1;
    dw_bn_relu6_backward(dz, x, wt, gamma, beta, saved, &dx1, nullptr, nullptr, nullptr);
    dw_bn_relu6_backward(dz, x, wt, gamma, beta, saved, nullptr, &dw1, nullptr, nullptr);
    check_close(dx1, dx, 1e-6f, 1e-7f, what + " dx alone");
    check_close(dw1, dw, 1e-6f, 1e-7f, what + " dweight alone");
    // The autograd op, dz given in NCHW.
    Tensor rm2 = rm0.clone(), rv2 = rv0.clone();
    Variable xv(x, true), wv(wt, true), gv(gamma, true), bv(beta, true);
    const Variable zv = dw_bn_relu6(xv, wv, gv, bv, rm2, rv2, momentum, eps);
    zv.backward(dz.contiguous());
    check_close(zv.data(), zr, 1e-4f, 1e-4f, what + " autograd z");
    check_close(xv.grad(), dx_ref, 1e-3f, 1e-4f, what + " autograd dx");
    check_close(wv.grad(), dw_ref, 1e-3f, 1e-3f, what + " autograd dweight");
    check_close(gv.grad(), dg_ref, 1e-3f, 1e-3f, what + " autograd dgamma");
    check_close(bv.grad(), db_ref, 1e-3f, 1e-3f, what + " autograd dbeta");
    check_close(rv2, rv_ref, 1e-4f, 1e-5f, what + " autograd running_var");
  }
}

TEST_CASE("fused dw_bn_relu6: kernels and autograd op match PyTorch") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/dw_bn_relu6.safetensors");
  const std::vector<std::string> names = kz::test::case_names(f, "dw_bn_relu6.");
  REQUIRE(names.size() >= 4);
  for (const std::string& name : names) {
    const std::vector<double> meta = kz::test::metadata_numbers(f, "dw_bn_relu6." + name);
    REQUIRE(meta.size() == 2);
    const float momentum = float(meta[0]), eps = float(meta[1]);
    const std::string k = "dw_bn_relu6." + name + ".";
    const Tensor x = f.at(k + "x").to_channels_last(), w = f.at(k + "weight");
    const Tensor gamma = f.at(k + "gamma"), beta = f.at(k + "beta");
    const auto [zeros, sixes] = clamped_fractions(f.at(k + "z"));
    CHECK_MESSAGE((zeros > 0.05 && sixes > 0.05), name, ": clamps not exercised");
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
      DwBnSaved saved;
      const Tensor z = dw_bn_relu6_forward(x, w, gamma, beta, rm, rv, momentum, eps, &saved);
      Tensor dx, dw, dg, db;
      dw_bn_relu6_backward(dz, x, w, gamma, beta, saved, &dx, &dw, &dg, &db);
      check_all({z, dx, dw, dg, db}, rm, rv, name);
    }
    {  // the autograd op
      Tensor rm = f.at(k + "running_mean").clone(), rv = f.at(k + "running_var").clone();
      Variable xv(x, true), wv(w, true), gv(gamma, true), bv(beta, true);
      const Variable z = dw_bn_relu6(xv, wv, gv, bv, rm, rv, momentum, eps);
      z.backward(dz);
      check_all({z.data(), xv.grad(), wv.grad(), gv.grad(), bv.grad()}, rm, rv,
                name + " autograd");
    }
  }
}

TEST_CASE("fused dw_bn_relu6: gradcheck") {
  Generator gen(9);
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  // x offset per channel; gamma and beta put z on both sides of 0 and 6.
  const std::vector<Tensor> inputs = {
      add(Tensor::normal({2, 3, 4, 3}, 0, 1.0f, gen), Tensor::uniform({1, 3, 1, 1}, -2, 2, gen))
          .to_channels_last(),
      Tensor::normal({3, 1, 3, 3}, 0, 0.6f, gen), Tensor::uniform({3}, 1.0f, 3.0f, gen),
      Tensor::normal({3}, 2, 1, gen)};
  const auto r = gradcheck(
      [&](const std::vector<Variable>& v) {
        Tensor rm_copy = rm.clone(), rv_copy = rv.clone();
        return dw_bn_relu6(v[0], v[1], v[2], v[3], rm_copy, rv_copy, 0.1f, 1e-5f);
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("fused dw_bn_relu6: bad arguments") {
  Generator gen(4);
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  const Tensor x = Tensor::normal({2, 3, 4, 4}, 0, 1, gen), xl = x.to_channels_last();
  const Tensor w = Tensor::normal({3, 1, 3, 3}, 0, 1, gen);
  const Tensor g = Tensor::ones({3}), b = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(x, w, g, b, rm, rv, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("channels-last"), Error);
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(xl, Tensor::ones({3, 1, 5, 5}), g, b, rm, rv, 0.1f,
                                           1e-5f, nullptr),
                       doctest::Contains("(3,1,3,3)"), Error);
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(xl, w, Tensor::ones({4}), b, rm, rv, 0.1f, 1e-5f,
                                           nullptr),
                       doctest::Contains("gamma must be (3,)"), Error);
  Tensor rm4 = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(xl, w, g, b, rm4, rv, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("running_mean must be (3,)"), Error);
  Tensor none;
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(xl, w, g, b, rm, none, 0.1f, 1e-5f, nullptr),
                       doctest::Contains("both be given"), Error);
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(xl, w, g, b, rm, rv, 1.5f, 1e-5f, nullptr),
                       doctest::Contains("momentum"), Error);
  CHECK_THROWS_WITH_AS(dw_bn_relu6_forward(Tensor::ones({1, 3, 1, 1}), w, g, b, rm, rv, 0.1f,
                                           1e-5f, nullptr),
                       doctest::Contains("more than one value"), Error);
  DwBnSaved saved;
  const Tensor z = dw_bn_relu6_forward(xl, w, g, b, rm, rv, 0.1f, 1e-5f, &saved);
  Tensor dx;
  CHECK_THROWS_WITH_AS(dw_bn_relu6_backward(Tensor::ones({2, 3, 4, 5}), xl, w, g, b, saved, &dx,
                                            nullptr, nullptr, nullptr),
                       doctest::Contains("[dw_bn_relu6_backward]"), Error);
  CHECK_THROWS_WITH_AS(dw_bn_relu6_backward(z, xl, w, g, b, DwBnSaved{}, &dx, nullptr, nullptr,
                                            nullptr),
                       doctest::Contains("saved statistics"), Error);
}
