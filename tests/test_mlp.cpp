// test_mlp.cpp — tests for layers/mlp.h and BatchNorm1d: the forward, the input gradient,
// every parameter gradient and the running statistics against PyTorch
// (tests/fixtures/make_mlp.py), table rows (N,F,1,1) taken as (N,F), the parameter names
// and initialisation, and bad shapes; the MLP autoencoder of ae on tables
// (layers/mlp_autoencoder.h) against PyTorch (tests/fixtures/make_mlp_autoencoder.py): output,
// loss, score, every gradient and one Adam step.
// Shape letters: N rows, F features, D = the last stage's width.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "layers/mlp.h"
#include "layers/mlp_autoencoder.h"
#include "losses/reconstruction.h"
#include "optim/adam.h"
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

// Every parameter gradient of `net` against the fixture's `grads` (relative error below
// `tol`), then every buffer against `after`. A Linear bias just before training-mode batch
// norm has gradient 0 (the batch mean takes it away): PyTorch's is rounding noise (~1e-17),
// so that one is compared absolutely.
void check_grads_and_buffers(Module& net, const StateDict& grads, const StateDict& after,
                             float tol, const std::string& c) {
  const auto params = net.named_parameters();
  CHECK(params.size() == grads.size());
  for (const auto& [name, p] : params) {
    REQUIRE_MESSAGE(grads.count(name), c, " no PyTorch gradient for ", name);
    const Tensor& expected = grads.at(name);
    if (max_all(abs(expected)) < 1e-6f)
      CHECK_MESSAGE(max_all(abs(p.grad())) < 1e-5f, c, " d", name, " (exactly 0)");
    else
      CHECK_MESSAGE(rel_err(p.grad(), expected) < tol, c, " d", name);
  }
  CHECK(after.size() == net.named_buffers().size());
  for (const auto& [name, b] : net.named_buffers())
    CHECK_MESSAGE(rel_err(*b, after.at(name)) < 1e-6f, c, " ", name);
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
  check_grads_and_buffers(mlp, group(c, "grad"), group(c, "after"), 1e-5f, c);
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

namespace {

const Safetensors& ae_fixture() {
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/mlp_autoencoder.safetensors");
  return f;
}

StateDict ae_group(const std::string& c, const std::string& part) {
  StateDict out;
  const std::string prefix = c + "." + part + ".";
  for (const auto& [k, t] : ae_fixture().tensors)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = t;
  return out;
}

// Loads case c's state into a fresh MlpAutoencoder, runs the forward and ae's loss, and
// checks x̂, the loss, the scores Σ_f (x − x̂)², every gradient, the buffers after the
// forward and the parameters after one Adam(amsgrad, lr 1e-3) step.
void check_ae_case(const std::string& c, int64_t features, std::vector<int64_t> widths,
                   bool training) {
  MlpAutoencoderOptions o;
  o.in_features = features;
  o.widths = std::move(widths);
  Generator gen(0);
  MlpAutoencoder ae(o, gen);
  ae.train(training);
  ae.load_state_dict(ae_group(c, "state"));
  const Safetensors& f = ae_fixture();
  const Variable x(f.at(c + ".x").clone());
  const Variable y = ae.forward(x);
  CHECK_MESSAGE(rel_err(y.data(), f.at(c + ".y")) < 1e-5f, c, " y");
  const Variable loss = mse_loss(y, x);
  CHECK_MESSAGE(rel_err(loss.data().reshape({1}), f.at(c + ".loss")) < 1e-5f, c, " loss");
  const Tensor score = sum(mse_loss(y, x, Reduction::none), {1}).data();
  CHECK_MESSAGE(rel_err(score, f.at(c + ".score")) < 1e-5f, c, " score");
  AdamOptions ao;
  ao.lr = 1e-3;
  ao.amsgrad = true;
  Adam opt(ae.parameters(), ao);
  opt.zero_grad();
  loss.backward();
  const StateDict grads = ae_group(c, "grad");
  const auto params = ae.named_parameters();
  check_grads_and_buffers(ae, grads, ae_group(c, "after"), 1e-4f, c);
  opt.step();
  // Parameters whose exact gradient is 0 (the biases before training-mode batch norm, and
  // the code layer's bias, whose shift the next stage's batch norm takes away) are left out:
  // Adam divides a gradient by its own size, so their steps are float rounding noise
  // magnified to ±lr, in PyTorch's float64 as in kizuki's float32.
  const StateDict stepped = ae_group(c, "step");
  int64_t compared = 0;
  for (const auto& [name, p] : ae.named_parameters()) {
    if (max_all(abs(grads.at(name))) < 1e-6f) continue;
    CHECK_MESSAGE(rel_err(p.data(), stepped.at(name)) < 1e-5f, c, " ", name, " after a step");
    ++compared;
  }
  CHECK(compared >= static_cast<int64_t>(params.size()) / 2);
  if (!training) CHECK(compared == static_cast<int64_t>(params.size()));
}

}  // namespace

TEST_CASE("mlp autoencoder: output, loss, score, gradients and an Adam step match PyTorch") {
  check_ae_case("ae_train", 6, {5, 4, 3}, true);
  check_ae_case("ae_eval", 6, {5, 4, 3}, false);
  check_ae_case("ae_linear", 4, {2}, true);
}

TEST_CASE("mlp autoencoder: names, shapes, init, table rows (N,F,1,1) and bad widths") {
  MlpAutoencoderOptions o;
  o.in_features = 6;
  o.widths = {5, 4, 3};
  Generator gen(4);
  MlpAutoencoder ae(o, gen);
  // PyTorch's names: the fixture's state has exactly kizuki's keys.
  const StateDict s = ae.state_dict(), want = ae_group("ae_train", "state");
  std::vector<std::string> names, want_names;
  for (const auto& [k, t] : s) names.push_back(k);
  for (const auto& [k, t] : want) want_names.push_back(k);
  CHECK(names == want_names);
  for (const auto& [k, t] : want) CHECK_MESSAGE(s.at(k).shape() == t.shape(), k);
  CHECK(s.at("encoder.2.weight").shape() == Shape{3, 4});   // the bottleneck code
  CHECK(s.at("decoder.0.0.weight").shape() == Shape{4, 3});
  CHECK(s.at("decoder.2.weight").shape() == Shape{6, 5});   // back to F, no activation
  // PyTorch's initialisation: U(−1/√in, 1/√in), batch norm weight 1 and bias 0.
  CHECK(max_all(abs(s.at("encoder.0.0.weight"))) <= 1.0f / std::sqrt(6.0f));
  CHECK(max_all(abs(s.at("decoder.2.bias"))) <= 1.0f / std::sqrt(5.0f));
  CHECK(max_all(abs(sub(s.at("decoder.1.1.weight"), Tensor::ones({5})))) == 0.0f);
  CHECK(max_all(abs(s.at("encoder.1.1.bias"))) == 0.0f);
  // Rows as the loader gives them: the same values, in the input's shape.
  ae.eval();
  const Tensor x = ae_fixture().at("ae_eval.x");
  const Tensor y2 = ae.forward(Variable(x)).data();
  const Tensor y4 = ae.forward(Variable(x.reshape({8, 6, 1, 1}))).data();
  CHECK(y4.shape() == Shape{8, 6, 1, 1});
  CHECK(max_abs_diff(y4.reshape({8, 6}), y2) == 0.0f);
  CHECK(ae.encode(Variable(x)).shape() == Shape{8, 3});
  CHECK(error_of([&] { (void)ae.forward(Variable(Tensor::zeros({2, 5}))); })
            .find("expected input (N, 6) or (N, 6, 1, 1), got (2, 5)") != std::string::npos);
  // Bad widths: one clear error each.
  MlpAutoencoderOptions bad = o;
  bad.widths = {4, 7};
  CHECK_THROWS_WITH_AS(MlpAutoencoder(bad, gen),
                       doctest::Contains("the bottleneck (the last of --mlp-widths) is 7, "
                                         "more than the 6 input features"),
                       Error);
  bad.widths = {4, 0};
  CHECK_THROWS_WITH_AS(MlpAutoencoder(bad, gen), doctest::Contains("width 0 in --mlp-widths"),
                       Error);
  bad.widths = {-2};
  CHECK_THROWS_WITH_AS(MlpAutoencoder(bad, gen), doctest::Contains("width -2 in --mlp-widths"),
                       Error);
  bad.widths = {};
  CHECK_THROWS_WITH_AS(MlpAutoencoder(bad, gen), doctest::Contains("one width"), Error);
}
