// test_mlp.cpp — tests for layers/mlp.h and BatchNorm1d: the forward, the input gradient,
// every parameter gradient and the running statistics against PyTorch
// (tests/fixtures/make_mlp.py), table rows (N,F,1,1) taken as (N,F), the parameter names
// and initialisation, and bad shapes.
// Shape letters: N rows, F features, D = the last stage's width.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "layers/mlp.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"

using namespace kz;
using kz::test::error_of;

namespace {

const Safetensors& fixture() {
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/mlp.safetensors");
  return f;
}

// max|a − b| / max|b|.
float rel_err(const Tensor& a, const Tensor& b) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), shape_str(a.shape()), " vs ", shape_str(b.shape()));
  return max_all(abs(sub(a, b))) / std::max(max_all(abs(b)), 1e-30f);
}

StateDict group(const std::string& c, const std::string& part) {
  StateDict out;
  const std::string prefix = c + "." + part + ".";
  for (const auto& [k, t] : fixture().tensors)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = t;
  return out;
}

// Loads case c's state into a fresh Mlp of that shape (eval mode unless training), runs
// the forward on its input, backpropagates sum(y * r), and checks y, dx, every gradient and
// the buffers after the forward.
void check_case(const std::string& c, MlpOptions o, bool training) {
  Generator gen(0);
  Mlp mlp(o, gen);
  mlp.train(training);
  mlp.load_state_dict(group(c, "state"));
  const Safetensors& f = fixture();
  Variable x(f.at(c + ".x").clone(), true);
  Variable y = mlp.forward(x);
  CHECK_MESSAGE(rel_err(y.data(), f.at(c + ".y")) < 1e-5f, c, " y");
  y.backward(f.at(c + ".r"));
  CHECK_MESSAGE(rel_err(x.grad(), f.at(c + ".dx")) < 1e-5f, c, " dx");
  const StateDict grads = group(c, "grad");
  const auto params = mlp.named_parameters();
  CHECK(params.size() == grads.size());
  for (const auto& [name, p] : params) {
    REQUIRE_MESSAGE(grads.count(name), c, " no PyTorch gradient for ", name);
    const Tensor& expected = grads.at(name);
    // A Linear bias just before training-mode batch norm has gradient 0 (the batch mean
    // takes it away): PyTorch's is rounding noise (~1e-17), so compare absolutely.
    if (max_all(abs(expected)) < 1e-6f)
      CHECK_MESSAGE(max_all(abs(p.grad())) < 1e-5f, c, " d", name, " (exactly 0)");
    else
      CHECK_MESSAGE(rel_err(p.grad(), expected) < 1e-5f, c, " d", name);
  }
  const StateDict after = group(c, "after");
  for (const auto& [name, b] : mlp.named_buffers())
    CHECK_MESSAGE(rel_err(*b, after.at(name)) < 1e-6f, c, " ", name);
}

}  // namespace

TEST_CASE("mlp: forward and gradients match PyTorch in training and eval mode") {
  MlpOptions o;
  o.in_features = 5;
  o.widths = {7, 4};
  check_case("mlp_train", o, true);
  check_case("mlp_eval", o, false);
  MlpOptions one;
  one.in_features = 3;
  one.widths = {2};
  one.bn_eps = 1e-3f;
  check_case("mlp_one", one, true);
}

TEST_CASE("mlp: table rows (N,F,1,1) are taken as (N,F); names, init and bad shapes") {
  MlpOptions o;
  o.in_features = 5;
  o.widths = {7, 4};
  Generator gen(3);
  Mlp mlp(o, gen);
  mlp.eval();
  mlp.load_state_dict(group("mlp_eval", "state"));
  const Tensor x = fixture().at("mlp_eval.x");
  const Tensor y4 = mlp.forward(Variable(x.reshape({6, 5, 1, 1}))).data();
  CHECK(rel_err(y4, fixture().at("mlp_eval.y")) < 1e-5f);
  CHECK(mlp.feature_dim() == 4);
  // PyTorch's names (the fixture's state loads strictly above) and its initialisation.
  Mlp fresh(o, gen);
  const StateDict s = fresh.state_dict();
  CHECK(s.size() == 12);
  const Tensor& w = s.at("stages.0.0.weight");
  CHECK(w.shape() == Shape{7, 5});
  CHECK(max_all(abs(w)) <= 1.0f / std::sqrt(5.0f));
  CHECK(max_all(abs(sub(s.at("stages.1.1.weight"), Tensor::ones({4})))) == 0.0f);
  CHECK(max_all(abs(s.at("stages.1.1.running_mean"))) == 0.0f);
  CHECK(error_of([&] { (void)mlp.forward(Variable(Tensor::zeros({2, 4}))); })
            .find("expected input (N, 5) or (N, 5, 1, 1), got (2, 4)") != std::string::npos);
  CHECK(error_of([&] { (void)mlp.forward(Variable(Tensor::zeros({2, 5, 2, 1}))); })
            .find("got (2, 5, 2, 1)") != std::string::npos);
  MlpOptions none = o;
  none.widths = {};
  CHECK(error_of([&] { Mlp m(none, gen); }).find("one stage") != std::string::npos);
  none.widths = {3, 0};
  CHECK(error_of([&] { Mlp m(none, gen); }).find("stage width 0") != std::string::npos);
  BatchNorm1d bn(3);
  CHECK(error_of([&] { (void)bn.forward(Variable(Tensor::zeros({2, 3, 1, 1}))); })
            .find("expected input (N, 3)") != std::string::npos);
}

TEST_CASE("mlp: plain stages (GOAD's tabular network): bias-free linear maps, LeakyReLU between") {
  Generator gen(3);
  MlpOptions o;
  o.in_features = 3;
  o.widths = {4, 2};
  o.plain = true;
  Mlp mlp(o, gen);
  std::vector<std::string> names;
  for (const auto& p : mlp.named_parameters()) names.push_back(p.first);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"stages.0.0.weight", "stages.1.1.weight"});
  CHECK(mlp.named_buffers().empty());  // no batch norm
  // By definition: x·W0ᵀ, LeakyReLU(0.2), ·W1ᵀ, nothing after the last map.
  const Tensor x = Tensor::from_vector({1, -2, 0.5f, -3, 0.25f, 2}, {2, 3});
  Tensor w0, w1;
  for (const auto& p : mlp.named_parameters())
    (p.first == "stages.0.0.weight" ? w0 : w1) = p.second.data();
  const Tensor h = matmul(x, w0.transpose(0, 1).contiguous()).contiguous();
  std::vector<float> a = h.to_vector();
  for (float& v : a) v = v > 0 ? v : 0.2f * v;
  const Tensor want = matmul(Tensor::from_vector(a, {2, 4}), w1.transpose(0, 1).contiguous());
  CHECK(max_abs_diff(mlp.forward(Variable(x)).data(), want) < 1e-6f);
  // Xavier-normal with gain √2: std 2/√(in + out) = 0.1 for a 200 × 200 map.
  Generator g2(4);
  MlpOptions big;
  big.in_features = 200;
  big.widths = {200};
  big.plain = true;
  Mlp wide(big, g2);
  const std::vector<float> w = wide.named_parameters().front().second.data().to_vector();
  double sq = 0.0;
  for (float v : w) sq += static_cast<double>(v) * v;
  CHECK(std::sqrt(sq / static_cast<double>(w.size())) == doctest::Approx(0.1).epsilon(0.02));
}
