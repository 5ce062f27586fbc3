// test_layers.cpp — Module (names, train/eval, state_dict, strict and non-strict loading,
// safetensors files) and every layer: forward and all gradients against PyTorch
// (tests/fixtures/make_layers.py, float64 reference), channels-last inputs, finite
// differences (gradcheck) for the small ones, and Dropout's statistics.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "autograd/gradcheck.h"
#include "layers/mobilenet_v2.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"

using namespace kz;

using kz::test::error_of;

namespace {

const Safetensors& fixture() {
  static const Safetensors f = load_safetensors(KZ_FIXTURES "/layers.safetensors");
  return f;
}

// max|a − b| / max|b|: the relative error of a against the reference b.
float rel_err(const Tensor& a, const Tensor& b) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), shape_str(a.shape()), " vs ", shape_str(b.shape()));
  return max_abs_diff(a, b) / std::max(max_all(abs(b)), 1e-30f);
}

// The "<c>.<part>.*" entries of the fixture, without that prefix.
StateDict fixture_group(const std::string& c, const std::string& part) {
  StateDict out;
  const std::string prefix = c + "." + part + ".";
  for (const auto& [k, t] : fixture().tensors)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = t;
  return out;
}

// Loads the case's state into m, runs it on the case's input (channels-last if asked) and
// checks y, dx, every parameter gradient and the buffers after the forward.
void check_case(Module& m, const std::string& c, bool channels_last = false) {
  const Safetensors& f = fixture();
  m.zero_grad();
  m.load_state_dict(fixture_group(c, "state"));
  Tensor x = f.at(c + ".x").clone();
  if (channels_last) x = x.to_channels_last();
  Variable xv(x, true);
  Variable y = m.forward(xv);
  if (channels_last && y.dim() == 4) CHECK(y.data().is_channels_last());
  CHECK_MESSAGE(rel_err(y.data(), f.at(c + ".y")) < 1e-5f, c, " y");
  y.backward(f.at(c + ".r"));
  CHECK_MESSAGE(rel_err(xv.grad(), f.at(c + ".dx")) < 1e-5f, c, " dx");
  const StateDict grads = fixture_group(c, "grad");
  const auto params = m.named_parameters();
  CHECK(params.size() == grads.size());
  for (const auto& [name, p] : params) {
    REQUIRE_MESSAGE(grads.count(name), c, " no fixture gradient for ", name);
    CHECK_MESSAGE(rel_err(p.grad(), grads.at(name)) < 1e-5f, c, " d", name);
  }
  const StateDict after = fixture_group(c, "after");
  for (const auto& [name, b] : m.named_buffers())
    CHECK_MESSAGE(rel_err(*b, after.at(name)) < 1e-6f, c, " ", name);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Inputs away from relu6's kinks at 0 and 6, where finite differences are undefined.
Tensor away_from_kinks(const Shape& shape, Generator& gen) {
  Tensor t = Tensor::uniform(shape, -3.0f, 9.0f, gen);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float& v = t.data()[i];
    for (float kink : {0.0f, 6.0f})
      if (std::abs(v - kink) < 0.1f) v = kink + (v < kink ? -0.1f : 0.1f);
  }
  return t;
}

std::shared_ptr<Sequential> small_net(Generator& gen) {
  auto inner = std::make_shared<Sequential>();
  inner->add(std::make_shared<Conv2d>(4, 4, 1, Conv2dOptions{}, gen));
  inner->add(std::make_shared<BatchNorm2d>(4));
  return std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      std::make_shared<Conv2d>(3, 4, 3, Conv2dOptions{.padding = 1, .bias = false}, gen), inner,
      std::make_shared<ReLU6>(), std::make_shared<GlobalAvgPool2d>(),
      std::make_shared<Linear>(4, 2, true, gen)});
}

}  // namespace

// --- Module ---------------------------------------------------------------------------------

TEST_CASE("layers: Sequential names children 0, 1, ... with dotted parameter names") {
  Generator gen(1);
  auto net = small_net(gen);
  std::vector<std::string> names;
  for (const auto& [name, p] : net->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "1.0.weight", "1.0.bias", "1.1.weight",
                                          "1.1.bias", "4.weight", "4.bias"});
  std::vector<std::string> buffers;
  for (const auto& [name, b] : net->named_buffers()) buffers.push_back(name);
  CHECK(buffers == std::vector<std::string>{"1.1.running_mean", "1.1.running_var"});
  CHECK(net->state_dict().size() == 9);
  CHECK(net->parameters().size() == 7);
  for (const auto& p : net->parameters()) CHECK(p.requires_grad());
  CHECK(net->at(1)->named_children().size() == 2);
  CHECK(contains(error_of([&] { net->at(5); }), "[Sequential] index 5 out of range"));
}

TEST_CASE("layers: train/eval reach every child; zero_grad clears gradients") {
  Generator gen(2);
  auto net = small_net(gen);
  net->eval();
  CHECK_FALSE(net->is_training());
  CHECK_FALSE(std::dynamic_pointer_cast<Sequential>(net->at(1))->at(1)->is_training());
  net->train();
  CHECK(std::dynamic_pointer_cast<Sequential>(net->at(1))->at(1)->is_training());

  Variable y = net->forward(Variable(Tensor::uniform({2, 3, 5, 5}, -1, 1, gen)));
  sum(y).backward();
  for (const auto& p : net->parameters()) CHECK(p.grad().defined());
  net->zero_grad();
  for (const auto& p : net->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("layers: state_dict copies; load_state_dict round-trips and checks every shape") {
  Generator gen(3);
  auto a = small_net(gen), b = small_net(gen);
  StateDict state = a->state_dict();
  state["1.1.running_var"].fill_(2.5f);  // a copy: a itself is unchanged
  CHECK(a->state_dict().at("1.1.running_var").at({0}) == 1.0f);

  const LoadResult r = b->load_state_dict(state);
  CHECK(r.missing_keys.empty());
  CHECK(r.unexpected_keys.empty());
  for (const auto& [name, t] : b->state_dict()) CHECK_MESSAGE(max_abs_diff(t, state.at(name)) == 0, name);

  // Wrong shapes: one message with all of them, and nothing is copied.
  StateDict wrong = a->state_dict();
  wrong["0.weight"] = Tensor::zeros({4, 3, 1, 1});
  wrong["4.bias"] = Tensor::zeros({3});
  const StateDict before = b->state_dict();
  const std::string e = error_of([&] { b->load_state_dict(wrong); });
  CHECK(contains(e, "[load_state_dict] 2 shape mismatches"));
  CHECK(contains(e, "0.weight: expected (4, 3, 3, 3), got (4, 3, 1, 1)"));
  CHECK(contains(e, "4.bias: expected (2,), got (3,)"));
  CHECK(max_abs_diff(b->state_dict().at("1.0.weight"), before.at("1.0.weight")) == 0);
  CHECK(max_abs_diff(b->state_dict().at("1.1.running_var"), before.at("1.1.running_var")) == 0);
}

TEST_CASE("layers: strict loading lists all missing and unexpected keys; non-strict returns them") {
  Generator gen(4);
  auto net = small_net(gen);
  StateDict state = small_net(gen)->state_dict();
  state.erase("0.weight");
  state.erase("1.1.running_mean");
  state["2.weight"] = Tensor::zeros({1});
  state["classifier.bias"] = Tensor::zeros({1});
  state["1.1.num_batches_tracked"] = Tensor::zeros({});  // torchvision's counter: skipped

  const std::string e = error_of([&] { net->load_state_dict(state); });
  CHECK(contains(e, "[load_state_dict] 2 missing keys: 0.weight, 1.1.running_mean; "
                    "2 unexpected keys: 2.weight, classifier.bias"));
  CHECK(net->state_dict().at("4.bias").at({0}) != state.at("4.bias").at({0}));  // unchanged

  const LoadResult r = net->load_state_dict(state, /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"0.weight", "1.1.running_mean"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"2.weight", "classifier.bias"});
  CHECK(net->state_dict().at("4.bias").at({0}) == state.at("4.bias").at({0}));  // loaded
}

TEST_CASE("layers: state_dict to and from safetensors files") {
  Generator gen(5);
  auto a = small_net(gen), b = small_net(gen);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("kz_layers_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "net.safetensors").string();
  save_state_dict(*a, path, {{"note", "test"}});
  CHECK(load_safetensors(path).metadata.at("note") == "test");
  load_state_dict(*b, path);
  for (const auto& [name, t] : b->state_dict())
    CHECK_MESSAGE(max_abs_diff(t, a->state_dict().at(name)) == 0, name);

  Sequential other({std::make_shared<Linear>(3, 2, true, gen)});
  const std::string e = error_of([&] { load_state_dict(other, path); });
  CHECK(contains(e, "[load_state_dict] " + path + ": "));
  CHECK(contains(e, "0.weight: expected (2, 3), got (4, 3, 3, 3)"));
  CHECK(contains(error_of([&] { load_state_dict(other, (dir / "missing.safetensors").string()); }),
                 "missing.safetensors"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("layers: registration and input errors are clear") {
  struct Twice : Module {
    Twice() {
      register_parameter("w", Tensor::zeros({1}));
      register_parameter("w", Tensor::zeros({1}));
    }
  };
  CHECK(contains(error_of([] { Twice t; }), "[register_parameter] 'w' is already registered"));
  Module plain;
  CHECK(contains(error_of([&] { plain.forward(Variable(Tensor::zeros({1}))); }),
                 "[forward] Module has no one-input forward"));
  Generator gen(6);
  Conv2d conv(3, 8, 3, {.padding = 1}, gen);
  CHECK(contains(error_of([&] { conv.forward(Variable(Tensor::zeros({2, 4, 5, 5}))); }),
                 "[Conv2d] expected input (N, 3, H, W), got (2, 4, 5, 5)"));
  BatchNorm2d bn(8);
  CHECK(contains(error_of([&] { bn.forward(Variable(Tensor::zeros({2, 4}))); }),
                 "[BatchNorm2d] expected input (N, 8, H, W), got (2, 4)"));
  Linear fc(5, 2, true, gen);
  CHECK(contains(error_of([&] { fc.forward(Variable(Tensor::zeros({2, 4}))); }),
                 "[Linear] expected input (N, 5), got (2, 4)"));
  CHECK(contains(error_of([&] { Conv2d(4, 6, 3, {.groups = 4}, gen); }), "groups 4 must divide"));
  CHECK(contains(error_of([&] { parse_padding_mode("same", "--padding"); }),
                 "--padding: 'same' is not a padding mode"));
}

TEST_CASE("layers: default initialisation is PyTorch's") {
  Generator gen(7);
  Conv2d conv(16, 32, 3, {.groups = 2}, gen);  // fan_in = 8·9 = 72
  const float bound = 1.0f / std::sqrt(72.0f);
  CHECK(max_all(abs(conv.weight().data())) <= bound);
  CHECK(max_all(abs(conv.weight().data())) > 0.95f * bound);
  CHECK(conv.weight().shape() == Shape{32, 8, 3, 3});
  CHECK(max_all(abs(conv.bias().data())) <= bound);
  Linear fc(100, 4, false, gen);
  CHECK(max_all(abs(fc.weight().data())) <= 0.1f);
  CHECK_FALSE(fc.bias().defined());
  BatchNorm2d bn(5);
  CHECK(max_abs_diff(bn.weight().data(), Tensor::ones({5})) == 0);
  CHECK(max_abs_diff(bn.running_var(), Tensor::ones({5})) == 0);
  CHECK(max_all(abs(bn.bias().data())) == 0);
  CHECK(max_all(abs(bn.running_mean())) == 0);
}

// --- layers against PyTorch -----------------------------------------------------------------

TEST_CASE("layers: Conv2d matches PyTorch (dense, TF-SAME, depthwise, pointwise)") {
  Generator gen(8);
  Conv2d dense(4, 6, 3, {.padding = 1}, gen);
  Conv2d tf_same(4, 6, 3, {.stride = 2, .mode = PaddingMode::tf_same}, gen);
  Conv2d depthwise(6, 6, 3, {.stride = 2, .padding = 1, .groups = 6, .bias = false}, gen);
  Conv2d pointwise(6, 5, 1, {}, gen);
  for (bool cl : {false, true}) {
    CAPTURE(cl);
    check_case(dense, "conv_dense", cl);
    check_case(tf_same, "conv_tf_same", cl);
    check_case(depthwise, "conv_depthwise", cl);
    check_case(pointwise, "conv_pointwise", cl);
  }
  // TF-SAME from the input size: 8 rows pad 0/1, 7 columns pad 1/1.
  const Conv2dParams p = tf_same.params_for(8, 7);
  CHECK((p.pad_top == 0 && p.pad_bottom == 1 && p.pad_left == 1 && p.pad_right == 1));
}

TEST_CASE("layers: BatchNorm2d matches PyTorch in train and eval mode") {
  for (bool cl : {false, true}) {
    CAPTURE(cl);
    BatchNorm2d bn(3, 1e-3f);
    check_case(bn, "bn_train", cl);  // also the running statistics after the forward
    BatchNorm2d frozen(3, 1e-3f);
    frozen.eval();
    check_case(frozen, "bn_eval", cl);
  }
}

TEST_CASE("layers: ReLU, ReLU6, Linear, GlobalAvgPool2d match PyTorch") {
  Generator gen(9);
  ReLU relu_layer;
  ReLU6 relu6_layer;
  GlobalAvgPool2d gap;
  Linear fc(7, 3, true, gen);
  for (bool cl : {false, true}) {
    CAPTURE(cl);
    check_case(relu_layer, "relu", cl);  // gradient 0 at the kinks, as PyTorch
    check_case(relu6_layer, "relu6", cl);
    check_case(gap, "gap", cl);
  }
  check_case(fc, "linear");
}

TEST_CASE("layers: InvertedResidual matches torchvision's (train mode)") {
  Generator gen(10);
  InvertedResidual residual(8, 8, 1, 6, 1e-5f, PaddingMode::symmetric, gen);
  InvertedResidual strided(8, 12, 2, 1, 1e-5f, PaddingMode::symmetric, gen);
  CHECK(residual.uses_residual());
  CHECK_FALSE(strided.uses_residual());
  for (bool cl : {false, true}) {
    CAPTURE(cl);
    check_case(residual, "ir_residual", cl);
    check_case(strided, "ir_stride2", cl);
  }
}

// --- finite differences ---------------------------------------------------------------------

TEST_CASE("layers: gradcheck of relu, relu6, global_avg_pool2d, dropout") {
  Generator gen(11);
  const Tensor x = away_from_kinks({2, 3, 4, 5}, gen);
  const auto one = [](Variable (*op)(const Variable&)) {
    return [op](const std::vector<Variable>& v) { return op(v[0]); };
  };
  for (auto op : {&relu, &relu6, &global_avg_pool2d}) {
    const GradcheckResult r = gradcheck(one(op), {x});
    CHECK_MESSAGE(r.ok, r.message);
    const GradcheckResult r_cl = gradcheck(one(op), {x.to_channels_last()});
    CHECK_MESSAGE(r_cl.ok, r_cl.message);
  }
  const GradcheckResult r = gradcheck(
      [](const std::vector<Variable>& v) {
        Generator mask_gen(42);  // the same mask on every evaluation
        return dropout(v[0], 0.3f, true, mask_gen);
      },
      {x});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("layers: gradcheck through Conv2d (TF-SAME), BatchNorm2d, Linear, InvertedResidual") {
  Generator gen(12);
  Conv2d conv(3, 4, 3, {.stride = 2, .mode = PaddingMode::tf_same}, gen);
  BatchNorm2d bn(3, 1e-3f);
  Linear fc(6, 4, true, gen);
  InvertedResidual block(4, 4, 1, 2, 1e-3f, PaddingMode::symmetric, gen);
  const auto through = [](Module& m) {
    return [&m](const std::vector<Variable>& v) { return m.forward(v[0]); };
  };
  for (auto [m, shape] : std::vector<std::pair<Module*, Shape>>{
           {&conv, {1, 3, 4, 5}}, {&bn, {3, 3, 2, 2}}, {&fc, {3, 6}}, {&block, {2, 4, 3, 3}}}) {
    CAPTURE(m->type_name());
    const GradcheckResult r = gradcheck(through(*m), {Tensor::uniform(shape, -1, 1, gen)});
    CHECK_MESSAGE(r.ok, r.message);
  }
}

// --- Dropout --------------------------------------------------------------------------------

TEST_CASE("layers: Dropout zeroes a fraction p, scales the rest, is the identity in eval") {
  Generator gen(13);
  Dropout drop(0.25f, gen);
  const Tensor x = Tensor::uniform({100, 1000}, 1.0f, 2.0f, gen);
  Variable xv(x, true);
  Variable y = drop.forward(xv);
  int64_t zeros = 0;
  bool scaled = true;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = y.data().data()[i];
    if (v == 0.0f) ++zeros;
    else scaled = scaled && std::abs(v - x.data()[i] / 0.75f) <= 1e-6f * v;
  }
  // Binomial(1e5, 0.25): standard deviation 137, so ±700 is over 5 sigma.
  CHECK(std::abs(zeros - 25000) < 700);
  CHECK(scaled);
  y.backward(Tensor::ones(x.shape()));  // dx = mask·scale = y / x
  CHECK(max_abs_diff(xv.grad(), div(y.data(), x)) < 1e-6f);

  Generator g1(5), g2(5);
  Dropout d1(0.5f, g1), d2(0.5f, g2);
  CHECK(max_abs_diff(d1.forward(Variable(x)).data(), d2.forward(Variable(x)).data()) == 0);

  drop.eval();
  CHECK(max_abs_diff(drop.forward(Variable(x)).data(), x) == 0);
  CHECK(contains(error_of([&] { Dropout(1.5f, gen); }), "[Dropout] p must be in [0, 1]"));
}
