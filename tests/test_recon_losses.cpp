// test_recon_losses.cpp — the activations sigmoid, tanh, leaky_relu, softplus
// (autograd/activations.cpp, layers/simple.h) and the autoencoder / VAE losses
// (losses/reconstruction.h, losses/gaussian.h), checked
//   * against PyTorch 1.13, forward and every input's gradient (fixture from
//     tests/fixtures/make_recon_losses.py), for every reduction, in both memory layouts;
//   * against finite differences (gradcheck), away from the kinks;
//   * for the layout rules (channels-last in, channels-last out; strided views), the OpenMP
//     path of a large input, reparameterize's determinism, and bad arguments.
// Shapes: activations and reconstruction losses on images (N,C,H,W); KL and
// reparameterisation on (N,D); the Gaussian NLL on (N), (N,F) and (N,C,H,W).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>

#include "autograd/gradcheck.h"
#include "layers/simple.h"
#include "losses/gaussian.h"
#include "losses/reconstruction.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/kernel_checks.h"

using namespace kz;
using kz::test::check_close;
using kz::test::error_of;
using kz::test::in_layout;

namespace {

using OpFn = std::function<Variable(const std::vector<Variable>&)>;
using V = const std::vector<Variable>&;

// Tolerances against PyTorch: float32 on both sides, transcendental functions from different
// libraries (a few ulp) and sums accumulated in different orders. The absolute part is what
// PyTorch's own bce-with-logits needs: at x = −20 its float32 value is 1.4e-6 from the
// float64 one (ours is within 1e-7).
constexpr float kRtol = 1e-6f, kAtol = 1e-6f;

Safetensors load_fixture() { return load_safetensors(KZ_FIXTURES "/recon_losses.safetensors"); }

std::vector<Tensor> case_inputs(const Safetensors& f, const std::string& name) {
  std::vector<Tensor> in;
  for (int i = 0; f.tensors.count(name + ".in" + std::to_string(i)); ++i)
    in.push_back(f.at(name + ".in" + std::to_string(i)));
  return in;
}

// Replays fixture case `name`: every input as a leaf in the given layout (4-D inputs only),
// the forward, then backward with NAME.w (or none for a scalar), each gradient.
void check_case(const Safetensors& f, const std::string& name, const OpFn& fn,
                bool channels_last = false) {
  CAPTURE(name);
  CAPTURE(channels_last);
  const std::vector<Tensor> inputs = case_inputs(f, name);
  REQUIRE(!inputs.empty());
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t.dim() == 4 ? in_layout(t.clone(), channels_last) : t.clone(), true);
  const Variable out = fn(vars);
  check_close(out.data(), f.at(name + ".out"), kRtol, kAtol, name + ".out");
  if (f.tensors.count(name + ".w"))
    out.backward(f.at(name + ".w"));
  else
    out.backward();
  for (size_t i = 0; i < vars.size(); ++i) {
    const std::string d = name + ".d" + std::to_string(i);
    check_close(vars[i].grad(), f.at(d), kRtol, kAtol, d);
  }
}

const std::map<std::string, OpFn>& activation_table() {
  static const std::map<std::string, OpFn> ops = {
      {"sigmoid", [](V v) { return sigmoid(v[0]); }},
      {"tanh", [](V v) { return tanh(v[0]); }},
      {"leaky_relu", [](V v) { return leaky_relu(v[0]); }},
      {"leaky_relu_02", [](V v) { return leaky_relu(v[0], 0.2f); }},
      {"softplus", [](V v) { return softplus(v[0]); }},
      {"softplus_b2_t5", [](V v) { return softplus(v[0], 2.0f, 5.0f); }},
  };
  return ops;
}

using LossFn = Variable (*)(const Variable&, const Variable&, Reduction);
const std::map<std::string, LossFn>& loss_table() {
  static const std::map<std::string, LossFn> ops = {
      {"mse", &mse_loss}, {"l1", &l1_loss}, {"bce", &binary_cross_entropy_with_logits}};
  return ops;
}

const std::map<std::string, Reduction>& reductions() {
  static const std::map<std::string, Reduction> r = {
      {"none", Reduction::none}, {"mean", Reduction::mean}, {"sum", Reduction::sum}};
  return r;
}

// `copies` copies of t one after another along dim 0.
Tensor tile0(const Tensor& t, int copies) {
  return cat(std::vector<Tensor>(static_cast<size_t>(copies), t.contiguous()), 0);
}

// Uniform in ±[low, high]: away from 0 (the kinks of leaky_relu, and of l1 for differences).
Tensor away_from_zero(const Shape& shape, float low, float high, Generator& gen) {
  Tensor t = Tensor::uniform(shape, low, high, gen);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (gen.uniform() < 0.5f) t.data()[i] = -t.data()[i];
  return t;
}

}  // namespace

// --- activations ----------------------------------------------------------------------------

TEST_CASE("recon_losses: sigmoid, tanh, leaky_relu, softplus match PyTorch in both layouts") {
  const Safetensors f = load_fixture();
  for (const auto& [name, fn] : activation_table()) {
    check_case(f, name, fn, false);
    check_case(f, name, fn, true);
    // The layout rule itself: channels-last in, channels-last out; contiguous stays so.
    const Tensor x = f.at(name + ".in0");
    CHECK(fn({Variable(x.to_channels_last())}).data().is_channels_last());
    CHECK(fn({Variable(x.contiguous())}).data().is_contiguous());
  }
}

TEST_CASE("recon_losses: activations of a strided view are computed in logical order") {
  const Safetensors f = load_fixture();
  for (const auto& [name, fn] : activation_table()) {
    CAPTURE(name);
    // x viewed through a transpose: neither contiguous nor channels-last.
    const Tensor xt = f.at(name + ".in0").clone().transpose(1, 3);
    REQUIRE_FALSE(xt.is_dense());
    Variable x(xt, true);
    const Variable y = fn({x});
    check_close(y.data(), f.at(name + ".out").transpose(1, 3), kRtol, kAtol, "out");
    y.backward(f.at(name + ".w").transpose(1, 3));
    check_close(x.grad(), f.at(name + ".d0").transpose(1, 3), kRtol, kAtol, "dx");
  }
}

TEST_CASE("recon_losses: activations of a large input (the OpenMP path) match PyTorch") {
  // 300 copies of the (2,3,4,5) fixture: 36000 elements, above the 2^15 parallel threshold.
  const Safetensors f = load_fixture();
  for (const auto& [name, fn] : activation_table()) {
    for (bool cl : {false, true}) {
      CAPTURE(name);
      CAPTURE(cl);
      Variable x(in_layout(tile0(f.at(name + ".in0"), 300), cl), true);
      REQUIRE(x.numel() > (1 << 15));
      const Variable y = fn({x});
      CHECK(y.data().is_channels_last() == cl);
      check_close(y.data(), tile0(f.at(name + ".out"), 300), kRtol, kAtol, "out");
      y.backward(tile0(f.at(name + ".w"), 300));
      check_close(x.grad(), tile0(f.at(name + ".d0"), 300), kRtol, kAtol, "dx");
    }
  }
}

TEST_CASE("recon_losses: Sigmoid, Tanh, LeakyReLU modules are the functions") {
  const Safetensors f = load_fixture();
  Sigmoid sigmoid_layer;
  Tanh tanh_layer;
  LeakyReLU leaky_default;
  LeakyReLU leaky(0.2f);
  CHECK(sigmoid_layer.type_name() == "Sigmoid");
  CHECK(tanh_layer.type_name() == "Tanh");
  CHECK(leaky.type_name() == "LeakyReLU");
  CHECK(leaky_default.negative_slope() == 0.01f);
  CHECK(leaky.negative_slope() == 0.2f);
  CHECK(sigmoid_layer.parameters().empty());
  for (auto [m, name] : std::vector<std::pair<Module*, std::string>>{
           {&sigmoid_layer, "sigmoid"},
           {&tanh_layer, "tanh"},
           {&leaky_default, "leaky_relu"},
           {&leaky, "leaky_relu_02"}}) {
    check_case(f, name, [m](V v) { return m->forward(v[0]); }, true);
  }
}

// --- reconstruction losses ------------------------------------------------------------------

TEST_CASE("recon_losses: mse, l1, bce-with-logits match PyTorch for every reduction") {
  const Safetensors f = load_fixture();
  for (const auto& [op, fn] : loss_table()) {
    for (const auto& [red_name, red] : reductions()) {
      const std::string name = op + "." + red_name;
      const Reduction r = red;
      const LossFn loss = fn;
      for (bool cl : {false, true})
        check_case(f, name, [=](V v) { return loss(v[0], v[1], r); }, cl);
    }
  }
}

TEST_CASE("recon_losses: mixed layouts, layout of 'none', and a target without gradient") {
  const Safetensors f = load_fixture();
  for (const auto& [op, fn] : loss_table()) {
    CAPTURE(op);
    const std::string name = op + ".none";
    Variable x(f.at(name + ".in0").to_channels_last(), true);
    const Variable y(f.at(name + ".in1").contiguous());  // a constant target (the image)
    const Variable l = fn(x, y, Reduction::none);
    CHECK(l.data().is_channels_last());
    check_close(l.data(), f.at(name + ".out"), kRtol, kAtol, "out");
    l.backward(f.at(name + ".w"));
    check_close(x.grad(), f.at(name + ".d0"), kRtol, kAtol, "dx");
    CHECK_FALSE(y.grad().defined());
  }
}

TEST_CASE("recon_losses: bce with logits stays finite and its gradient is σ(x) − y") {
  // x = ±50, ±100 overflow a naive log(σ(x)); the fixture holds them, this checks the rule.
  const Safetensors f = load_fixture();
  Variable x(f.at("bce.sum.in0").clone(), true);
  const Tensor y = f.at("bce.sum.in1");
  const Variable l = binary_cross_entropy_with_logits(x, Variable(y), Reduction::sum);
  CHECK(std::isfinite(l.item()));
  l.backward();
  const std::vector<float> xs = x.data().to_vector(), ys = y.to_vector(),
                           dx = x.grad().to_vector();
  for (size_t i = 0; i < xs.size(); ++i) {
    CAPTURE(xs[i]);
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(xs[i])));
    CHECK(dx[i] == doctest::Approx(s - ys[i]).epsilon(1e-6));
  }
}

// --- the VAE's pieces -----------------------------------------------------------------------

TEST_CASE("recon_losses: gaussian_kl_standard, gaussian_nll, reparameterize match PyTorch") {
  const Safetensors f = load_fixture();
  check_case(f, "kl", [](V v) { return gaussian_kl_standard(v[0], v[1]); });
  for (const char* name : {"nll_2d", "nll_4d", "nll_shared", "nll_1d"})
    for (bool cl : {false, true})
      check_case(f, name, [](V v) { return gaussian_nll(v[0], v[1], v[2]); }, cl);
  const Tensor eps = f.at("reparam.eps");
  check_case(f, "reparam", [eps](V v) { return reparameterize(v[0], v[1], eps); });
}

TEST_CASE("recon_losses: reparameterize draws ε from the generator it is given") {
  Generator init(1);
  const Variable mu(Tensor::uniform({8, 4}, -1, 1, init));
  const Variable lv(Tensor::uniform({8, 4}, -2, 2, init));
  Generator a(5), b(5), c(6);
  const Tensor za = reparameterize(mu, lv, a).data();
  CHECK(za.to_vector() == reparameterize(mu, lv, b).data().to_vector());  // same seed, same z
  CHECK(za.to_vector() != reparameterize(mu, lv, c).data().to_vector());  // other seed
  CHECK(za.to_vector() != reparameterize(mu, lv, a).data().to_vector());  // a moved on
  // The Generator overload is the ε overload with ε = Tensor::normal(shape, 0, 1, gen).
  Generator d(5);
  const Tensor eps = Tensor::normal({8, 4}, 0.0f, 1.0f, d);
  CHECK(za.to_vector() == reparameterize(mu, lv, eps).data().to_vector());

  // z ~ N(μ, σ²): μ = 0.5 and log σ² = log 4 give mean 0.5 and std 2 over many draws.
  const int64_t n = 40000;
  Generator g(11);
  const Tensor z = reparameterize(Variable(Tensor::full({n}, 0.5f)),
                                  Variable(Tensor::full({n}, std::log(4.0f))), g)
                       .data();
  CHECK(mean(z).item() == doctest::Approx(0.5).epsilon(0.05 / 0.5));  // 2/√n ≈ 0.01
  CHECK(std::sqrt(var(z).item()) == doctest::Approx(2.0).epsilon(0.02));
}

// --- finite differences ---------------------------------------------------------------------

TEST_CASE("recon_losses: gradcheck of every op, away from the kinks") {
  Generator gen(21);
  const Shape img{2, 3, 2, 3};
  for (bool cl : {false, true}) {
    CAPTURE(cl);
    // Activations: leaky_relu away from 0; softplus across both regions, away from βx = t.
    Tensor x = away_from_zero(img, 0.05f, 3.0f, gen);
    for (int64_t i = 0; i < x.numel(); ++i)  // softplus(β = 2, threshold 5) jumps at x = 2.5
      if (std::fabs(x.data()[i] - 2.5f) < 0.01f) x.data()[i] += 0.05f;
    x = in_layout(x, cl);
    Tensor wide = Tensor::uniform(img, -30.0f, 30.0f, gen);
    for (int64_t i = 0; i < wide.numel(); ++i)
      if (std::fabs(wide.data()[i] - 20.0f) < 0.5f) wide.data()[i] += 1.0f;
    for (const auto& [name, fn] : activation_table()) {
      CAPTURE(name);
      const bool first_softplus = name == "softplus";
      const GradcheckResult r = gradcheck(fn, {first_softplus ? in_layout(wide, cl) : x});
      CHECK_MESSAGE(r.ok, r.message);
    }
    // Losses: l1 away from x = y; bce with moderate logits and soft targets.
    const Tensor a = in_layout(Tensor::uniform(img, -2, 2, gen), cl);
    const Tensor gap = away_from_zero(img, 0.05f, 1.0f, gen);
    const Tensor b = add(a, gap);
    const Tensor logits = in_layout(Tensor::uniform(img, -6, 6, gen), cl);
    const Tensor soft = Tensor::uniform(img, 0, 1, gen);
    for (const auto& [op, fn] : loss_table()) {
      for (const auto& [red_name, red] : reductions()) {
        CAPTURE(op);
        CAPTURE(red_name);
        const LossFn loss = fn;
        const Reduction r = red;
        const bool is_bce = op == "bce";
        const GradcheckResult g = gradcheck([=](V v) { return loss(v[0], v[1], r); },
                                            {is_bce ? logits : a, is_bce ? soft : b});
        CHECK_MESSAGE(g.ok, g.message);
      }
    }
    // Gaussian NLL on images, per-pixel and per-channel log-variances.
    const Tensor xs = in_layout(Tensor::uniform(img, -1, 1, gen), cl);
    const Tensor mean_t = in_layout(Tensor::uniform(img, -1, 1, gen), cl);
    const OpFn nll = [](V v) { return gaussian_nll(v[0], v[1], v[2]); };
    for (const Tensor& lv : {in_layout(Tensor::uniform(img, -1, 1, gen), cl),
                             Tensor::uniform({3, 1, 1}, -1, 1, gen)}) {
      const GradcheckResult g = gradcheck(nll, {xs, mean_t, lv});
      CHECK_MESSAGE(g.ok, g.message);
    }
  }
  // The VAE's pieces on (N,D) and (N,F): μ, log σ², and a fixed ε for the reparameterisation.
  const Tensor mu = Tensor::uniform({4, 3}, -2, 2, gen);
  const Tensor lv = Tensor::uniform({4, 3}, -2, 2, gen);
  const Tensor eps = Tensor::normal({4, 3}, 0, 1, gen);
  const Tensor rows = Tensor::uniform({4, 3}, -2, 2, gen);
  const GradcheckResult kl =
      gradcheck([](V v) { return gaussian_kl_standard(v[0], v[1]); }, {mu, lv});
  CHECK_MESSAGE(kl.ok, kl.message);
  const GradcheckResult nll_rows =
      gradcheck([](V v) { return gaussian_nll(v[0], v[1], v[2]); }, {rows, mu, lv});
  CHECK_MESSAGE(nll_rows.ok, nll_rows.message);
  const GradcheckResult rep =
      gradcheck([eps](V v) { return reparameterize(v[0], v[1], eps); }, {mu, lv});
  CHECK_MESSAGE(rep.ok, rep.message);
}

// --- bad arguments --------------------------------------------------------------------------

TEST_CASE("recon_losses: bad arguments name the op and both shapes") {
  const Variable a(Tensor::zeros({2, 3})), b(Tensor::zeros({3, 2}));
  CHECK(error_of([&] { mse_loss(a, b); }) ==
        "[mse_loss] input (2, 3) and target (3, 2) differ in shape");
  CHECK(error_of([&] { l1_loss(a, b, Reduction::sum); }) ==
        "[l1_loss] input (2, 3) and target (3, 2) differ in shape");
  // Same element count, still an error: no broadcasting, no reshaping.
  CHECK(error_of([&] { binary_cross_entropy_with_logits(a, Variable(Tensor::zeros({6}))); }) ==
        "[binary_cross_entropy_with_logits] input (2, 3) and target (6,) differ in shape");
  CHECK(error_of([&] { mse_loss(a, Variable(Tensor::zeros({1, 3}))); }) ==
        "[mse_loss] input (2, 3) and target (1, 3) differ in shape");

  CHECK(error_of([&] { gaussian_kl_standard(a, Variable(Tensor::zeros({2, 4}))); }) ==
        "[gaussian_kl_standard] mu (2, 3) and logvar (2, 4) must have the same shape");
  const Variable three_d(Tensor::zeros({2, 3, 1}));
  CHECK(error_of([&] { gaussian_kl_standard(three_d, three_d); }) ==
        "[gaussian_kl_standard] mu (2, 3, 1) and logvar (2, 3, 1) must be (N, D)");
  const Variable one_d(Tensor::zeros({3}));
  CHECK(error_of([&] { gaussian_kl_standard(one_d, one_d); }) ==
        "[gaussian_kl_standard] mu (3,) and logvar (3,) must be (N, D)");

  CHECK(error_of([&] { gaussian_nll(a, b, a); }) ==
        "[gaussian_nll] x (2, 3) and mean (3, 2) differ in shape");
  CHECK(error_of([&] { gaussian_nll(a, a, Variable(Tensor::zeros({3, 3}))); }) ==
        "[gaussian_nll] logvar (3, 3) does not broadcast to x (2, 3)");
  CHECK(error_of([&] { gaussian_nll(a, a, Variable(Tensor::zeros({4, 2, 3}))); }) ==
        "[gaussian_nll] logvar (4, 2, 3) does not broadcast to x (2, 3)");
  const Variable scalar(Tensor::scalar(1.0f));
  CHECK(error_of([&] { gaussian_nll(scalar, scalar, scalar); }) ==
        "[gaussian_nll] x must be (N, ...), got ()");

  Generator gen(3);
  const Generator::State before = gen.get_state();
  CHECK(error_of([&] { reparameterize(a, b, gen); }) ==
        "[reparameterize] mu (2, 3) and logvar (3, 2) must have the same shape");
  CHECK(gen.get_state().state == before.state);  // a failed call draws nothing
  CHECK(error_of([&] { reparameterize(a, a, Tensor::zeros({3, 2})); }) ==
        "[reparameterize] eps (3, 2) and mu (2, 3) differ in shape");

  // Reductions: PyTorch's names parse; anything else is an error naming the op.
  for (const auto& [name, r] : reductions()) {
    CHECK(parse_reduction(name, "mse_loss") == r);
    CHECK(reduction_name(r) == name);
  }
  CHECK(error_of([] { parse_reduction("avg", "mse_loss"); }) ==
        "[mse_loss] unknown reduction 'avg' (expected 'mean', 'sum' or 'none')");
  CHECK(error_of([] { parse_reduction("Mean", "l1_loss"); }) ==
        "[l1_loss] unknown reduction 'Mean' (expected 'mean', 'sum' or 'none')");
  CHECK(error_of([&] { mse_loss(a, a, static_cast<Reduction>(7)); }) ==
        "[mse_loss] unknown reduction 7 (expected mean, sum or none)");
  CHECK(error_of([&] { binary_cross_entropy_with_logits(a, a, static_cast<Reduction>(-1)); }) ==
        "[binary_cross_entropy_with_logits] unknown reduction -1 (expected mean, sum or none)");

  CHECK(error_of([&] { softplus(a, 0.0f); }) ==
        "[softplus] beta must be finite and nonzero, got 0");
}
