// test_optim.cpp — SGD, Adam, parameter groups, freezing, LR schedules and the optimizer
// state_dict, against torch.optim 1.13 (fixture from tests/fixtures/make_optim.py).
// Parameters: a (3,4) and b (5,); T = 10 steps of fixed gradients grads.a (T,3,4), grads.b (T,5).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "optim/sgd.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

using namespace kz;
using nlohmann::json;

namespace {

constexpr int64_t kSteps = 10;

Safetensors load_fixture() { return load_safetensors(KZ_FIXTURES "/optim.safetensors"); }

// Largest |a−b| / max(|b|, 1e-3): "relative" error with a floor for values near zero.
double max_rel_err(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::fabs(static_cast<double>(x[i]) - y[i]) /
                     std::max(std::fabs(static_cast<double>(y[i])), 1e-3);
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
  }
  return worst;
}

// The optimizer of a fixture config over parameters a and b (b in its own group).
std::unique_ptr<Optimizer> make_optimizer(const json& c, const Variable& a, const Variable& b) {
  std::vector<ParamGroup> groups(2);
  groups[0].params = {a};
  groups[1].params = {b};
  if (c.contains("lr_b")) groups[1].lr = c["lr_b"].get<double>();
  groups[1].frozen = c.value("frozen_b", false);
  if (c["opt"] == "sgd") {
    SgdOptions o;
    o.lr = c["lr"];
    o.momentum = c.value("momentum", 0.0);
    o.dampening = c.value("dampening", 0.0);
    o.weight_decay = c.value("weight_decay", 0.0);
    o.nesterov = c.value("nesterov", false);
    return std::make_unique<SGD>(groups, o);
  }
  AdamOptions o;
  o.lr = c["lr"];
  o.beta1 = c.value("beta1", 0.9);
  o.beta2 = c.value("beta2", 0.999);
  o.eps = c.value("eps", 1e-8);
  o.weight_decay = c.value("weight_decay", 0.0);
  o.amsgrad = c.value("amsgrad", false);
  return std::make_unique<Adam>(groups, o);
}

std::unique_ptr<LRScheduler> make_scheduler(const json& c, Optimizer& opt) {
  if (!c.contains("sched_t_max")) return nullptr;
  return std::make_unique<LRScheduler>(opt, cosine_annealing_lr(c["sched_t_max"].get<int64_t>()));
}

void set_grads(const Safetensors& f, int64_t t, Variable& a, Variable& b) {
  a.grad() = f.at("grads.a").select(0, t).clone();
  b.grad() = f.at("grads.b").select(0, t).clone();
}

}  // namespace

TEST_CASE("optim: SGD and Adam match torch.optim step by step") {
  const Safetensors f = load_fixture();
  const json configs = json::parse(f.metadata.at("configs"));
  REQUIRE(configs.size() >= 10);
  double worst_overall = 0.0;
  for (const json& c : configs) {
    const std::string name = c["name"];
    CAPTURE(name);
    Variable a(f.at("p0.a").clone(), true), b(f.at("p0.b").clone(), true);
    auto opt = make_optimizer(c, a, b);
    auto sched = make_scheduler(c, *opt);
    for (int64_t t = 0; t < kSteps; ++t) {
      CAPTURE(t);
      set_grads(f, t, a, b);
      opt->step();
      if (sched) sched->step();
      const double err_a = max_rel_err(a.data(), f.at(name + ".a").select(0, t));
      const double err_b = max_rel_err(b.data(), f.at(name + ".b").select(0, t));
      CHECK(err_a <= 1e-6);
      CHECK(err_b <= 1e-6);
      worst_overall = std::max({worst_overall, err_a, err_b});
    }
    CHECK(opt->step_count() == kSteps);
    CHECK(max_abs_diff(a.data(), f.at("p0.a")) > 1e-4f);  // the parameters did move
    if (c.value("frozen_b", false)) {
      // torch left b out of the optimizer; kizuki's frozen group must not move it either.
      CHECK(max_abs_diff(b.data(), f.at("p0.b")) == 0.0f);
      CHECK_FALSE(b.requires_grad());
    }
  }
  MESSAGE("largest relative difference from torch.optim over all configs: " << worst_overall);
}

TEST_CASE("optim: LR schedules match torch.optim.lr_scheduler") {
  const Safetensors f = load_fixture();
  const json schedules = json::parse(f.metadata.at("schedules"));
  REQUIRE(schedules.size() >= 5);
  for (const json& s : schedules) {
    const std::string name = s["name"], kind = s["kind"];
    CAPTURE(name);
    LRSchedule schedule;
    if (kind == "step") {
      schedule = step_lr(s["step_size"], s["gamma"]);
    } else if (kind == "cosine") {
      schedule = cosine_annealing_lr(s["t_max"], s["eta_min"]);
    } else if (kind == "linear") {
      schedule = linear_lr(s["start_factor"], s["end_factor"], s["total_iters"]);
    } else if (kind == "warmup_cosine") {
      schedule = warmup_lr(s["warmup"], s["start_factor"],
                           cosine_annealing_lr(s["t_max"], s["eta_min"]));
    } else {
      REQUIRE(kind == "warmup_step");
      schedule = warmup_lr(s["warmup"], s["start_factor"], step_lr(s["step_size"], s["gamma"]));
    }
    Variable w0(Tensor::zeros({1}), true), w1(Tensor::zeros({1}), true);
    std::vector<ParamGroup> groups(2);
    groups[0].params = {w0};
    groups[1].params = {w1};
    groups[1].lr = 0.01;
    SGD opt(groups, {.lr = 0.1});
    LRScheduler sched(opt, schedule);
    const Tensor expected = f.at("sched." + name);
    REQUIRE(expected.size(0) == s["epochs"].get<int64_t>());
    for (int64_t e = 0; e < expected.size(0); ++e) {
      CAPTURE(e);
      const std::vector<double> lr = sched.last_lr();
      for (int64_t g = 0; g < 2; ++g) {
        const double want = expected.at({e, g});
        CHECK(std::fabs(lr[g] - want) <= 1e-6 * std::fabs(want) + 1e-12);
      }
      sched.step();
    }
  }
}

TEST_CASE("optim: state_dict round trip through safetensors resumes bit-exactly") {
  const Safetensors f = load_fixture();
  const json configs = json::parse(f.metadata.at("configs"));
  constexpr int64_t kSplit = 5;
  for (const json& c : configs) {
    const std::string name = c["name"];
    CAPTURE(name);
    Variable a(f.at("p0.a").clone(), true), b(f.at("p0.b").clone(), true);
    auto opt = make_optimizer(c, a, b);
    auto sched = make_scheduler(c, *opt);
    for (int64_t t = 0; t < kSplit; ++t) {
      set_grads(f, t, a, b);
      opt->step();
      if (sched) sched->step();
    }
    // A checkpoint: the parameters and the optimizer state, through the file format.
    const std::string bytes = serialize_safetensors(opt->state_dict());
    const Safetensors saved = parse_safetensors(bytes, "optimizer state");
    Variable a2(a.data().clone(), true), b2(b.data().clone(), true);
    auto resumed = make_optimizer(c, a2, b2);
    auto resumed_sched = make_scheduler(c, *resumed);
    resumed->load_state_dict(saved.tensors);
    if (resumed_sched) resumed_sched->set_epoch(sched->epoch());
    CHECK(resumed->step_count() == kSplit);
    for (int64_t t = kSplit; t < kSteps; ++t) {
      set_grads(f, t, a, b);
      set_grads(f, t, a2, b2);
      opt->step();
      resumed->step();
      if (sched) sched->step(), resumed_sched->step();
    }
    CHECK(max_abs_diff(a2.data(), a.data()) == 0.0f);
    CHECK(max_abs_diff(b2.data(), b.data()) == 0.0f);
    // And both still agree with torch.
    CHECK(max_rel_err(a2.data(), f.at(name + ".a").select(0, kSteps - 1)) <= 1e-6);
  }
}

TEST_CASE("optim: learning rates survive the state_dict exactly") {
  for (double lr : {1e-4, 0.1, 5e-5, 1.0 / 3.0, 123.456789, 0.0}) {
    CAPTURE(lr);
    const Tensor t = encode_f64(lr);
    CHECK(decode_f64(t, "lr") == lr);
  }
  Variable w(Tensor::ones({2}), true);
  Adam opt(std::vector<Variable>{w}, {.lr = 1.0 / 3.0});
  Adam other(std::vector<Variable>{Variable(Tensor::ones({2}), true)}, {});
  other.load_state_dict(opt.state_dict());
  CHECK(*other.param_groups()[0].lr == 1.0 / 3.0);
}

TEST_CASE("optim: load_state_dict rejects state that does not fit") {
  Variable w(Tensor::ones({2, 3}), true);
  w.grad() = Tensor::full({2, 3}, 0.5f);
  Adam adam(std::vector<Variable>{w}, {});
  adam.step();
  const auto adam_state = adam.state_dict();

  auto message_of = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const Tensor w_before = w.data().clone();

  SGD sgd(std::vector<Variable>{w}, {.lr = 0.1, .momentum = 0.9});
  std::string msg = message_of([&] { sgd.load_state_dict(adam_state); });
  CHECK(msg.find("[SGD.load_state_dict]") != std::string::npos);
  CHECK(msg.find("exp_avg") != std::string::npos);

  Adam amsgrad(std::vector<Variable>{w}, {.amsgrad = true});
  msg = message_of([&] { amsgrad.load_state_dict(adam_state); });
  CHECK(msg.find("missing key state.0.0.max_exp_avg_sq") != std::string::npos);

  Adam wrong_shape(std::vector<Variable>{Variable(Tensor::ones({3, 2}), true)}, {});
  msg = message_of([&] { wrong_shape.load_state_dict(adam_state); });
  CHECK(msg.find("expected (3, 2), got (2, 3)") != std::string::npos);

  Adam two_params(std::vector<Variable>{w, Variable(Tensor::ones({1}), true)}, {});
  msg = message_of([&] { two_params.load_state_dict(adam_state); });
  CHECK(msg.find("saved with 1 parameters") != std::string::npos);

  auto missing_step = adam_state;
  missing_step.erase("step");
  Adam fresh(std::vector<Variable>{w}, {});
  msg = message_of([&] { fresh.load_state_dict(missing_step); });
  CHECK(msg.find("missing key 'step'") != std::string::npos);
  // A failed load changed nothing: the fresh optimizer still has no state and step 0.
  CHECK(fresh.step_count() == 0);
  CHECK(max_abs_diff(w.data(), w_before) == 0.0f);
}

TEST_CASE("optim: freezing a group skips it and stops its gradients") {
  Variable early(Tensor::ones({2}), true), late(Tensor::ones({2}), true);
  std::vector<ParamGroup> groups(2);
  groups[0].params = {early};
  groups[0].name = "early";
  groups[0].frozen = true;
  groups[1].params = {late};
  SGD opt(groups, {.lr = 0.5});
  CHECK_FALSE(early.requires_grad());
  CHECK(late.requires_grad());
  early.grad() = Tensor::ones({2});
  late.grad() = Tensor::ones({2});
  opt.step();
  CHECK(early.data().at({0}) == 1.0f);
  CHECK(late.data().at({0}) == doctest::Approx(0.5f));
  opt.set_frozen(0, false);
  CHECK(early.requires_grad());
  opt.step();
  CHECK(early.data().at({0}) == doctest::Approx(0.5f));
}

TEST_CASE("optim: bad hyper-parameters and parameters are refused with a clear error") {
  Variable w(Tensor::ones({2}), true);
  const std::vector<Variable> params{w};
  CHECK_THROWS_WITH_AS((SGD(params, {.lr = -1.0})), doctest::Contains("[SGD] invalid learning rate"),
                       Error);
  CHECK_THROWS_WITH_AS((SGD(params, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1,
                                     .nesterov = true})),
                       doctest::Contains("Nesterov"), Error);
  CHECK_THROWS_WITH_AS((SGD(params, {.lr = 0.1, .nesterov = true})), doctest::Contains("Nesterov"),
                       Error);
  CHECK_THROWS_WITH_AS(Adam(params, {.beta2 = 1.0}), doctest::Contains("beta2"), Error);
  CHECK_THROWS_WITH_AS(Adam(params, {.eps = -1.0}), doctest::Contains("eps"), Error);
  CHECK_THROWS_WITH_AS(Adam(std::vector<Variable>{}, {}),
                       doctest::Contains("empty parameter list"), Error);
  CHECK_THROWS_WITH_AS(Adam(std::vector<Variable>{w, w}, {}),
                       doctest::Contains("more than once"), Error);
  CHECK_THROWS_WITH_AS(step_lr(0), doctest::Contains("[step_lr] step_size"), Error);
  CHECK_THROWS_WITH_AS(cosine_annealing_lr(0), doctest::Contains("t_max"), Error);
  Adam opt(params, {});
  w.grad() = Tensor::ones({3});
  CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("gradient (3,) does not match"), Error);
}
