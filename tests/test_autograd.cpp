// test_autograd.cpp — every differentiable op of autograd/functions.h, three ways:
// forward against PyTorch, backward against PyTorch (fixture from make_autograd.py), and
// backward against finite differences (gradcheck). Plus the engine itself: accumulation,
// shared subgraphs, deep graphs, NoGradGuard, detach, errors; and a perceptron that learns.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

using namespace kz;

namespace {

using OpFn = std::function<Variable(const std::vector<Variable>&)>;

std::vector<int64_t> fixture_targets(const Safetensors& f) {
  std::vector<int64_t> t;
  for (float v : f.at("cross_entropy.targets").to_vector()) t.push_back(static_cast<int64_t>(v));
  return t;
}

const std::map<std::string, OpFn>& op_table(const std::vector<int64_t>& targets) {
  static std::map<std::string, OpFn> ops;
  if (!ops.empty()) return ops;
  using V = const std::vector<Variable>&;
  ops["add"] = [](V v) { return add(v[0], v[1]); };
  ops["sub"] = [](V v) { return sub(v[0], v[1]); };
  ops["mul"] = [](V v) { return mul(v[0], v[1]); };
  ops["div"] = [](V v) { return div(v[0], v[1]); };
  ops["maximum"] = [](V v) { return maximum(v[0], v[1]); };
  ops["minimum"] = [](V v) { return minimum(v[0], v[1]); };
  ops["add_scalar"] = [](V v) { return add(v[0], 1.5f); };
  ops["mul_scalar"] = [](V v) { return mul(v[0], -0.75f); };
  ops["pow"] = [](V v) { return pow(v[0], 2.5f); };
  ops["clamp"] = [](V v) { return clamp(v[0], -0.5f, 0.5f); };
  ops["neg"] = [](V v) { return neg(v[0]); };
  ops["exp"] = [](V v) { return exp(v[0]); };
  ops["log"] = [](V v) { return log(v[0]); };
  ops["sqrt"] = [](V v) { return sqrt(v[0]); };
  ops["sum_all"] = [](V v) { return sum(v[0]); };
  ops["sum_dim"] = [](V v) { return sum(v[0], {1}, true); };
  ops["mean_dims"] = [](V v) { return mean(v[0], {0, 2}); };
  ops["var_dim"] = [](V v) { return var(v[0], {1}); };
  ops["var_pop"] = [](V v) { return var(v[0], {0, 1}, true, 0); };
  ops["max_dim"] = [](V v) { return max(v[0], 1); };
  ops["min_dim"] = [](V v) { return min(v[0], 0, true); };
  ops["reshape"] = [](V v) { return reshape(v[0], {6, 2}); };
  ops["permute"] = [](V v) { return permute(v[0], {2, 0, 1}); };
  ops["transpose"] = [](V v) { return transpose(v[0], 0, 2); };
  ops["narrow"] = [](V v) { return narrow(v[0], 1, 1, 2); };
  ops["squeeze"] = [](V v) { return squeeze(v[0], 1); };
  ops["unsqueeze"] = [](V v) { return unsqueeze(v[0], 0); };
  ops["expand"] = [](V v) { return expand(v[0], {2, 3, 4}); };
  ops["cat"] = [](V v) { return cat({v[0], v[1]}, 1); };
  ops["matmul"] = [](V v) { return matmul(v[0], v[1]); };
  ops["bmm"] = [](V v) { return matmul(v[0], v[1]); };
  ops["matmul_bcast"] = [](V v) { return matmul(v[0], v[1]); };
  ops["linear"] = [](V v) { return linear(v[0], v[1], v[2]); };
  ops["log_softmax"] = [](V v) { return log_softmax(v[0], 1); };
  ops["softmax"] = [](V v) { return softmax(v[0], 0); };
  ops["cross_entropy"] = [targets](V v) { return cross_entropy(v[0], targets); };
  ops["cross_entropy_smooth"] = [targets](V v) { return cross_entropy(v[0], targets, 0.1f); };
  return ops;
}

std::vector<Tensor> case_inputs(const Safetensors& f, const std::string& name) {
  std::vector<Tensor> in;
  for (int i = 0; f.tensors.count(name + ".in" + std::to_string(i)); ++i)
    in.push_back(f.at(name + ".in" + std::to_string(i)));
  return in;
}

}  // namespace

TEST_CASE("autograd: every op matches PyTorch forward and backward") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/autograd.safetensors");
  const auto& ops = op_table(fixture_targets(f));
  int cases = 0;
  for (const auto& [name, fn] : ops) {
    CAPTURE(name);
    const std::vector<Tensor> inputs = case_inputs(f, name);
    REQUIRE(!inputs.empty());
    std::vector<Variable> vars;
    for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
    const Variable out = fn(vars);
    CHECK(allclose(out.data(), f.at(name + ".out"), 1e-5f, 1e-6f));
    out.backward(f.at(name + ".w"));
    for (size_t i = 0; i < vars.size(); ++i) {
      CAPTURE(i);
      const Tensor& want = f.at(name + ".d" + std::to_string(i));
      REQUIRE(vars[i].grad().defined());
      CHECK_MESSAGE(allclose(vars[i].grad(), want, 1e-4f, 1e-6f),
                    "max |diff| = " << max_abs_diff(vars[i].grad(), want));
    }
    ++cases;
  }
  CHECK(cases == 37);
}

TEST_CASE("autograd: every op passes gradcheck") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/autograd.safetensors");
  for (const auto& [name, fn] : op_table(fixture_targets(f))) {
    CAPTURE(name);
    const GradcheckResult r = gradcheck(fn, case_inputs(f, name));
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("autograd: gradcheck catches a wrong backward") {
  // A deliberately broken op (backward doubled): gradcheck must say so.
  auto broken = [](const std::vector<Variable>& v) {
    const Tensor x = v[0].data();
    return make_result(mul(x, x), "broken_square", {v[0]}, [x](const Tensor& dout) {
      return std::vector<Tensor>{mul(mul(dout, x), 4.0f)};
    });
  };
  Generator gen(3);
  const GradcheckResult r = gradcheck(broken, {Tensor::uniform({5}, 0.5f, 1.0f, gen)});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("analytic") != std::string::npos);
}

TEST_CASE("autograd: gradients accumulate over shared uses and repeated backward") {
  Variable x(Tensor::from_vector({1.0f, 2.0f, 3.0f}, {3}), true);
  // y = x·x + x uses x three times: dy/dx = 2x + 1
  Variable y = sum(add(mul(x, x), x));
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{3.0f, 5.0f, 7.0f});
  // A second graph accumulates into the same leaf gradient (+=), as PyTorch.
  sum(mul(x, 2.0f)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{5.0f, 7.0f, 9.0f});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("autograd: a deep graph does not recurse") {
  Variable x(Tensor::from_vector({0.5f}, {1}), true);
  Variable y = x;
  for (int i = 0; i < 200000; ++i) y = add(y, 1e-6f);
  y = mul(y, 3.0f);
  sum(y).backward();
  CHECK(x.grad().item() == doctest::Approx(3.0f));
}

TEST_CASE("autograd: NoGradGuard, detach, requires_grad and freed graphs") {
  Variable x(Tensor::ones({2}), true);
  {
    NoGradGuard guard;
    Variable y = mul(x, 2.0f);
    CHECK_FALSE(y.requires_grad());
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("[backward]"), Error);
  }
  CHECK(grad_enabled());
  Variable d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data().storage() == x.data().storage());
  Variable c(Tensor::ones({2}), false);
  CHECK_FALSE(add(c, c).requires_grad());
  // Non-scalar results need a grad_output.
  CHECK_THROWS_WITH_AS(mul(x, 2.0f).backward(), doctest::Contains("grad_output"), Error);
  // A graph is freed after backward; a second pass must say so instead of crashing.
  Variable y = sum(mul(x, x));
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph"), Error);
  Variable z = sum(mul(x, x));
  z.backward(Tensor(), true);
  z.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{6.0f, 6.0f});  // 2 from y, 2+2 from z
  // Shape errors name the op and both shapes.
  CHECK_THROWS_WITH_AS(add(Variable(Tensor::ones({2, 3})), Variable(Tensor::ones({4}))),
                       "[add] shapes (2, 3) and (4,) do not broadcast", Error);
  CHECK_THROWS_WITH_AS(cross_entropy(Variable(Tensor::zeros({2, 3})), {0, 3}),
                       doctest::Contains("target 3 out of range"), Error);
}

TEST_CASE("autograd: a two-layer perceptron learns XOR-like data") {
  // 2 → 16 → 2 with ReLU-free nonlinearity (clamp), plain gradient descent on kizuki alone.
  Generator gen(42);
  const int64_t n = 64;
  Tensor xs = Tensor::uniform({n, 2}, -1.0f, 1.0f, gen);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i)
    labels.push_back((xs.at({i, 0}) * xs.at({i, 1}) > 0.0f) ? 1 : 0);
  Variable w1(Tensor::normal({16, 2}, 0.0f, 1.0f, gen), true);
  Variable b1(Tensor::zeros({16}), true);
  Variable w2(Tensor::normal({2, 16}, 0.0f, 0.3f, gen), true);
  Variable b2(Tensor::zeros({2}), true);
  const Variable x(xs);
  float first = 0.0f, last = 0.0f;
  for (int step = 0; step < 300; ++step) {
    Variable h = clamp(linear(x, w1, b1), 0.0f, 1e9f);
    Variable loss = cross_entropy(linear(h, w2, b2), labels);
    if (step == 0) first = loss.item();
    last = loss.item();
    for (Variable* p : {&w1, &b1, &w2, &b2}) p->zero_grad();
    loss.backward();
    for (Variable* p : {&w1, &b1, &w2, &b2}) add_(p->data(), p->grad(), -0.5f);
  }
  MESSAGE("perceptron loss " << first << " -> " << last);
  CHECK(last < 0.5f * first);
  CHECK(last < 0.3f);
}
