// test_losses.cpp — the heads and losses of losses/ against PyTorch 1.13 (fixture from
// tests/fixtures/make_losses.py: the DESIGN.md §6 formulas with torch ops) and against
// finite differences (gradcheck); the edge cases: a large α, a batch of one, cos θ within
// 1e-7 of ±1 in ArcFace, a DOC batch of identical features.
// Shapes: N samples, D feature dim, C classes; DOC: n target outputs of dim k.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/gradcheck.h"
#include "losses/adacos.h"
#include "losses/deep_sad.h"
#include "losses/triplet_centre.h"
#include "losses/arcface.h"
#include "losses/doc.h"
#include "losses/l2_softmax.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

using namespace kz;
using nlohmann::json;

namespace {

Safetensors load_fixture() { return load_safetensors(KZ_FIXTURES "/losses.safetensors"); }
json cases_of(const Safetensors& f) { return json::parse(f.metadata.at("cases")); }

std::vector<int64_t> labels_of(const Tensor& t) {
  std::vector<int64_t> out;
  for (float v : t.to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

// |a − b| ≤ atol + rtol·|b| everywhere; on failure doctest prints the largest difference.
void check_close(const Tensor& a, const Tensor& b, float rtol, float atol, const char* what) {
  CAPTURE(what);
  REQUIRE(a.defined());
  REQUIRE(a.shape() == b.shape());
  const float diff = max_abs_diff(a, b);
  CAPTURE(diff);
  CHECK(allclose(a, b, rtol, atol));
}

}  // namespace

TEST_CASE("losses: l2_normalize matches F.normalize and is smooth at zero") {
  const Safetensors f = load_fixture();
  Variable x(f.at("l2norm.x").clone(), true);
  const Variable y = l2_normalize(x);
  check_close(y.data(), f.at("l2norm.out"), 1e-5f, 1e-6f, "out");
  sum(mul(y, Variable(f.at("l2norm.w")))).backward();
  check_close(x.grad(), f.at("l2norm.dx"), 1e-4f, 1e-4f, "dx");

  const GradcheckResult gc = gradcheck([](const std::vector<Variable>& v) {
    return l2_normalize(v[0]);
  }, {f.at("l2norm.x").narrow(0, 0, 2)});
  CHECK_MESSAGE(gc.ok, gc.message);

  Variable zero(Tensor::zeros({2, 3}), true);
  sum(l2_normalize(zero)).backward();
  CHECK(max_abs_diff(l2_normalize(zero).data(), Tensor::zeros({2, 3})) == 0.0f);
  CHECK(all_finite(zero.grad()));
}

TEST_CASE("losses: SoftmaxHead and L2SoftmaxHead match PyTorch (incl. large alpha, batch of one)") {
  const Safetensors f = load_fixture();
  const json cases = cases_of(f);
  int checked = 0;
  for (const std::string name : {"softmax", "softmax_ls", "l2softmax", "l2softmax_ls",
                                 "l2softmax_large_alpha", "l2softmax_one"}) {
    CAPTURE(name);
    const json& c = cases.at(name);
    const std::string p = name + ".";
    const Tensor weight = f.at(p + "weight");
    const int64_t C = weight.size(0), D = weight.size(1);
    Generator gen(0);
    std::shared_ptr<MarginHead> head;
    if (c["alpha"].is_null()) head = std::make_shared<SoftmaxHead>(D, C, gen);
    else head = std::make_shared<L2SoftmaxHead>(D, C, c["alpha"].get<float>(), gen);
    head->set_label_smoothing(c["label_smoothing"].get<float>());
    head->load_state_dict({{"weight", weight}, {"bias", f.at(p + "bias")}});

    Variable x(f.at(p + "features").clone(), true);
    const std::vector<int64_t> labels = labels_of(f.at(p + "labels"));
    const Variable logits = head->forward(x, labels);
    // Logits scale with α; compare relative to the largest of them.
    const float scale = std::max(1.0f, max_all(abs(f.at(p + "logits"))));
    check_close(logits.data(), f.at(p + "logits"), 1e-5f, 2e-6f * scale, "logits");
    check_close(head->forward(x).data(), f.at(p + "logits"), 1e-5f, 2e-6f * scale,
                "logits without labels");
    const Variable loss = head->loss(x, labels);
    check_close(loss.data().reshape({1}), f.at(p + "loss"), 1e-5f, 1e-6f * scale, "loss");
    loss.backward();
    const auto params = head->named_parameters();
    REQUIRE(params.size() == 2);
    CHECK(params[0].first == "weight");
    CHECK(params[1].first == "bias");
    check_close(x.grad(), f.at(p + "dfeatures"), 1e-4f, 1e-6f * scale, "dfeatures");
    check_close(params[0].second.grad(), f.at(p + "dweight"), 1e-4f, 1e-6f * scale, "dweight");
    check_close(params[1].second.grad(), f.at(p + "dbias"), 1e-4f, 1e-6f, "dbias");
    CHECK(all_finite(x.grad()));
    ++checked;
  }
  CHECK(checked == 6);
}

TEST_CASE("losses: L2-Softmax loss passes gradcheck in features, weight and bias") {
  Generator gen(3);
  const Tensor x = Tensor::normal({3, 4}, 0.0f, 2.0f, gen);
  const Tensor w = Tensor::normal({5, 4}, 0.0f, 0.5f, gen);
  const Tensor b = Tensor::normal({5}, 0.0f, 0.5f, gen);
  const std::vector<int64_t> labels{1, 4, 0};
  // The head's forward is linear(α·l2_normalize(x), W, b); gradcheck needs W, b as inputs.
  const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
    return cross_entropy(linear(mul(l2_normalize(v[0]), 4.0f), v[1], v[2]), labels, 0.1f);
  }, {x, w, b});
  CHECK_MESSAGE(gc.ok, gc.message);
  // And the head itself, in its features.
  L2SoftmaxHead head(4, 5, 4.0f, gen);
  const GradcheckResult gh = gradcheck([&](const std::vector<Variable>& v) {
    return head.loss(v[0], labels);
  }, {x});
  CHECK_MESSAGE(gh.ok, gh.message);
}

TEST_CASE("losses: ArcFaceHead matches PyTorch, fused op and composed reference alike") {
  const Safetensors f = load_fixture();
  const json cases = cases_of(f);
  for (const std::string name : {"arcface_seed", "arcface_paper", "arcface_easy", "arcface_one"}) {
    CAPTURE(name);
    const json& c = cases.at(name);
    const std::string p = name + ".";
    const Tensor weight = f.at(p + "weight");
    const float s = c["s"];
    const ArcFaceParams params{s, c["m"].get<float>(), c["easy_margin"].get<bool>()};
    const std::vector<int64_t> labels = labels_of(f.at(p + "labels"));

    Generator gen(0);
    ArcFaceHead head(weight.size(1), weight.size(0), params.s, params.m, params.easy_margin, gen);
    head.load_state_dict({{"weight", weight}});
    Variable x(f.at(p + "features").clone(), true);
    check_close(head.cosine(x).data(), f.at(p + "cos"), 1e-5f, 1e-6f, "cos");
    const Variable logits = head.forward(x, labels);
    check_close(logits.data(), f.at(p + "logits"), 1e-5f, 4e-6f * s, "logits");
    check_close(head.forward(x).data(), mul(f.at(p + "cos"), s), 1e-5f, 4e-6f * s,
                "inference logits");
    const Variable loss = head.loss(x, labels);
    check_close(loss.data().reshape({1}), f.at(p + "loss"), 1e-5f, 1e-5f, "loss");
    loss.backward();
    check_close(x.grad(), f.at(p + "dfeatures"), 1e-3f, 1e-5f, "dfeatures");
    check_close(head.named_parameters()[0].second.grad(), f.at(p + "dweight"), 1e-3f, 1e-5f,
                "dweight");

    // The composed reference gives the same logits and gradient in cos.
    Variable cf(f.at(p + "cos").clone(), true), cr(f.at(p + "cos").clone(), true);
    const Variable lf = arcface_margin(cf, labels, params);
    const Variable lr = arcface_margin_reference(cr, labels, params);
    check_close(lf.data(), lr.data(), 1e-6f, 1e-6f * s, "fused vs reference logits");
    cross_entropy(lf, labels).backward();
    cross_entropy(lr, labels).backward();
    check_close(cf.grad(), cr.grad(), 1e-5f, 1e-6f, "fused vs reference dcos");
  }
}

TEST_CASE("losses: ArcFace margin passes gradcheck, fused and reference") {
  Generator gen(5);
  // cos values away from the branch points (cos(π − m), 0) and from ±1.
  const Tensor cos = Tensor::uniform({4, 3}, -0.9f, 0.9f, gen);
  const std::vector<int64_t> labels{0, 2, 1, 2};
  for (bool easy : {false, true}) {
    CAPTURE(easy);
    const ArcFaceParams p{4.0f, 0.5f, easy};
    for (auto op : {arcface_margin, arcface_margin_reference}) {
      const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
        return op(v[0], labels, p);
      }, {cos});
      CHECK_MESSAGE(gc.ok, gc.message);
    }
  }
  // Through the whole head: features and (via the functional form) the class weights.
  const Tensor x = Tensor::normal({3, 4}, 0.0f, 1.0f, gen);
  const Tensor w = Tensor::normal({3, 4}, 0.0f, 1.0f, gen);
  const std::vector<int64_t> y{0, 2, 1};
  const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
    const Variable c = linear(l2_normalize(v[0]), l2_normalize(v[1]), Variable());
    return cross_entropy(arcface_margin(c, y, {4.0f, 0.3f, false}), y);
  }, {x, w});
  CHECK_MESSAGE(gc.ok, gc.message);
}

TEST_CASE("losses: ArcFace with cos within 1e-7 of +-1 has finite gradients matching PyTorch") {
  const Safetensors f = load_fixture();
  const json cases = cases_of(f);
  for (const std::string name : {"arcface_edge", "arcface_edge_paper", "arcface_edge_easy"}) {
    CAPTURE(name);
    const json& c = cases.at(name);
    const std::string p = name + ".";
    const ArcFaceParams params{c["s"].get<float>(), c["m"].get<float>(),
                               c["easy_margin"].get<bool>()};
    const std::vector<int64_t> labels = labels_of(f.at(p + "labels"));
    for (auto op : {arcface_margin, arcface_margin_reference}) {
      Variable cos(f.at(p + "cos").clone(), true);
      const Variable logits = op(cos, labels, params);
      check_close(logits.data(), f.at(p + "logits"), 1e-6f, 1e-6f * params.s, "logits");
      const Variable loss = cross_entropy(logits, labels);
      check_close(loss.data().reshape({1}), f.at(p + "loss"), 1e-5f, 1e-5f, "loss");
      loss.backward();
      CHECK(all_finite(cos.grad()));
      check_close(cos.grad(), f.at(p + "dcos"), 1e-4f, 1e-5f, "dcos");
    }
  }
  // Through the head: features equal to (minus) their class weights give cos θ = ±1 up to
  // rounding, where √(1 − cos²) has no derivative.
  Generator gen(8);
  ArcFaceHead head(6, 4, 64.0f, 0.5f, false, gen);
  const Tensor w = head.named_parameters()[0].second.data();
  Variable x(cat({w, neg(w), mul(w, 1e6f)}, 0), true);  // (12, 6)
  std::vector<int64_t> labels;
  for (int r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 4; ++j) labels.push_back(j);
  head.loss(x, labels).backward();
  CHECK(all_finite(x.grad()));
  CHECK(all_finite(head.named_parameters()[0].second.grad()));
}

TEST_CASE("losses: AdaCosHead matches PyTorch step by step, fixed and dynamic scale") {
  const Safetensors f = load_fixture();
  const json cases = cases_of(f);
  for (const std::string name : {"adacos_dynamic", "adacos_dynamic_even", "adacos_fixed"}) {
    CAPTURE(name);
    const json& c = cases.at(name);
    const Tensor weight = f.at(name + ".weight");
    Generator gen(0);
    AdaCosHead head(weight.size(1), weight.size(0), c["dynamic"].get<bool>(), gen);
    head.load_state_dict({{"weight", weight}, {"scale", Tensor::full({1}, head.scale())}});
    CHECK(head.scale() == doctest::Approx(std::sqrt(2.0) * std::log(weight.size(0) - 1.0)));
    for (int k = 0; k < c["steps"].get<int>(); ++k) {
      CAPTURE(k);
      const std::string p = name + "." + std::to_string(k) + ".";
      const std::vector<int64_t> labels = labels_of(f.at(p + "labels"));
      Variable x(f.at(p + "features").clone(), true);
      head.zero_grad();
      const Variable loss = head.loss(x, labels);  // a dynamic head moves its scale first
      const float s = f.at(p + "scale").to_vector()[0];
      CHECK(head.scale() == doctest::Approx(s).epsilon(1e-5));
      check_close(head.forward(x).data(), f.at(p + "logits"), 1e-5f, 4e-6f * s, "logits");
      check_close(loss.data().reshape({1}), f.at(p + "loss"), 1e-5f, 1e-5f, "loss");
      loss.backward();
      check_close(x.grad(), f.at(p + "dfeatures"), 1e-3f, 1e-5f, "dfeatures");
      check_close(head.named_parameters()[0].second.grad(), f.at(p + "dweight"), 1e-3f, 1e-5f,
                  "dweight");
    }
  }
}

TEST_CASE("losses: AdaCos passes gradcheck; its scale stays put in eval mode; C < 3 refused") {
  Generator gen(9);
  AdaCosHead head(4, 3, true, gen);
  const std::vector<int64_t> y{0, 2, 1};
  // Gradients flow through cos only (the scale is a constant of each step): check them in
  // eval mode, where the scale does not move between the finite-difference evaluations.
  head.eval();
  const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
    return head.loss(v[0], y);
  }, {Tensor::normal({3, 4}, 0.0f, 1.0f, gen)});
  CHECK_MESSAGE(gc.ok, gc.message);
  const float s0 = head.scale();
  (void)head.loss(Variable(Tensor::normal({3, 4}, 0.0f, 1.0f, gen)), y);
  CHECK(head.scale() == s0);
  head.train();
  (void)head.loss(Variable(Tensor::normal({3, 4}, 0.0f, 1.0f, gen)), y);
  CHECK(head.scale() != s0);
  // The scale is saved with the weight.
  CHECK(head.state_dict().count("scale") == 1);

  CHECK_THROWS_WITH_AS(AdaCosHead(4, 2, false, gen),
                       doctest::Contains("[AdaCos] needs at least 3 classes"), Error);
  CHECK_THROWS_WITH_AS(adacos_fixed_scale(1), doctest::Contains("undefined for C = 1"), Error);
  CHECK_THROWS_WITH_AS((head.forward(Variable(Tensor::zeros({2, 4})), {0, 3})),
                       doctest::Contains("[AdaCosHead] label 3 at index 1 is out of range"),
                       Error);
}

TEST_CASE("losses: GOAD's triplet-centre loss and score match the authors' PyTorch code") {
  const Safetensors f = load_fixture();
  Variable z(f.at("goad.z").clone(), true);
  const Variable loss = triplet_centre_loss(z);
  check_close(loss.data().reshape({1}), f.at("goad.tc_loss"), 1e-5f, 1e-6f, "tc_loss");
  loss.backward();
  check_close(z.grad(), f.at("goad.dz"), 1e-4f, 1e-6f, "dz");
  CHECK(max_all(abs(f.at("goad.dz"))) > 0.0f);  // some hinges are active in the fixture
  check_close(triplet_centre_scores(f.at("goad.z_test"), f.at("goad.centres")),
              f.at("goad.scores"), 1e-5f, 1e-4f, "scores");

  // Finite differences, through the centres too (away from ties between other centres).
  Generator gen(11);
  const Tensor x = add(Tensor::normal({3, 4, 2}, 0.0f, 0.4f, gen),
                       mul(Tensor::arange(0.0f, 4.0f).reshape({1, 4, 1}), 0.5f));
  const GradcheckResult gc = gradcheck([](const std::vector<Variable>& v) {
    return triplet_centre_loss(v[0]);
  }, {x});
  CHECK_MESSAGE(gc.ok, gc.message);

  CHECK_THROWS_WITH_AS(triplet_centre_loss(Variable(Tensor::zeros({2, 1, 3}))),
                       doctest::Contains("M >= 2 transformations, got (2, 1, 3)"), Error);
  CHECK_THROWS_WITH_AS(triplet_centre_loss(Variable(Tensor::zeros({2, 3, 3})), -1.0f),
                       doctest::Contains("margin must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(triplet_centre_scores(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 5})),
                       doctest::Contains("centres must be (3, 4)"), Error);
}

TEST_CASE("losses: the Deep SAD loss and centre match the authors' PyTorch code") {
  const Safetensors f = load_fixture();
  const Tensor c = deep_sad_centre(f.at("deep_sad.outputs"));
  check_close(c, f.at("deep_sad.centre"), 1e-6f, 1e-7f, "centre");
  std::vector<bool> known;
  for (float v : f.at("deep_sad.known").to_vector()) known.push_back(v == 1.0f);
  REQUIRE(std::count(known.begin(), known.end(), true) == 2);
  Variable z(f.at("deep_sad.z").clone(), true);
  const Variable loss = deep_sad_loss(z, f.at("deep_sad.centre"), known);
  check_close(loss.data().reshape({1}), f.at("deep_sad.loss"), 1e-5f, 1e-6f, "loss");
  loss.backward();
  check_close(z.grad(), f.at("deep_sad.dz"), 1e-4f, 1e-6f, "dz");

  const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
    return deep_sad_loss(v[0], f.at("deep_sad.centre"), known);
  }, {f.at("deep_sad.z")});
  CHECK_MESSAGE(gc.ok, gc.message);

  // An entry exactly 0 stays 0 (as the authors' masks leave it); small ones move to ±0.1.
  const Tensor small = deep_sad_centre(Tensor::from_vector({0.0f, 0.05f, -0.02f, 0.3f}, {1, 4}));
  CHECK(small.to_vector() == std::vector<float>{0.0f, 0.1f, -0.1f, 0.3f});
  CHECK_THROWS_WITH_AS(deep_sad_loss(z, Tensor::zeros({3}), known),
                       doctest::Contains("the centre must be (4)"), Error);
  CHECK_THROWS_WITH_AS(deep_sad_loss(z, f.at("deep_sad.centre"), {true}),
                       doctest::Contains("1 labels for z (6, 4)"), Error);
}

TEST_CASE("losses: DOC compactness matches PyTorch; identical features and a batch of one") {
  const Safetensors f = load_fixture();
  for (const std::string name : {"doc_compact", "doc_compact_two", "doc_compact_identical"}) {
    CAPTURE(name);
    Variable x(f.at(name + ".x").clone(), true);
    const Variable loss = doc_compactness_loss(x);
    check_close(loss.data().reshape({1}), f.at(name + ".loss"), 1e-5f, 1e-7f, "loss");
    loss.backward();
    check_close(x.grad(), f.at(name + ".dx"), 1e-4f, 1e-6f, "dx");
  }
  // Identical features: nothing to compact — zero loss and gradient up to float rounding.
  Variable same(f.at("doc_compact_identical.x").clone(), true);
  const Variable l_same = doc_compactness_loss(same);
  CHECK(l_same.item() <= 1e-10f);
  l_same.backward();
  CHECK(max_all(abs(same.grad())) <= 1e-6f);

  // Batch of one: defined as 0 with a zero gradient (doc.h), not NaN.
  Variable one(f.at("doc_compact.x").narrow(0, 0, 1).clone(), true);
  const Variable l_one = doc_compactness_loss(one);
  CHECK(l_one.item() == 0.0f);
  l_one.backward();
  CHECK(max_all(abs(one.grad())) == 0.0f);

  const GradcheckResult gc = gradcheck([](const std::vector<Variable>& v) {
    return doc_compactness_loss(v[0]);
  }, {f.at("doc_compact.x")});
  CHECK_MESSAGE(gc.ok, gc.message);

  CHECK_THROWS_WITH_AS(doc_compactness_loss(Variable(Tensor::zeros({4}))),
                       doctest::Contains("[doc_compactness_loss] outputs must be (n,k), got (4,)"),
                       Error);
}

TEST_CASE("losses: DOC total loss l_D + lambda*l_C matches PyTorch") {
  const Safetensors f = load_fixture();
  const float lambda = cases_of(f).at("doc_total")["lambda"].get<float>();
  Variable ref(f.at("doc_total.ref_logits").clone(), true);
  Variable target(f.at("doc_total.target").clone(), true);
  const std::vector<int64_t> labels = labels_of(f.at("doc_total.ref_labels"));
  const DocLoss l = doc_loss(ref, labels, target, lambda);
  check_close(l.descriptiveness.data().reshape({1}), f.at("doc_total.l_d"), 1e-5f, 1e-7f, "l_D");
  check_close(l.compactness.data().reshape({1}), f.at("doc_total.l_c"), 1e-5f, 1e-7f, "l_C");
  check_close(l.total.data().reshape({1}), f.at("doc_total.total"), 1e-5f, 1e-7f, "total");
  l.total.backward();
  check_close(ref.grad(), f.at("doc_total.dref"), 1e-4f, 1e-6f, "dref");
  check_close(target.grad(), f.at("doc_total.dtarget"), 1e-4f, 1e-6f, "dtarget");
}

TEST_CASE("losses: heads register named parameters, init like torch.nn.Linear, reject bad input") {
  Generator gen(1), gen_again(1);
  L2SoftmaxHead a(16, 9, 15.0f, gen), b(16, 9, 15.0f, gen_again);
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == 2);
  CHECK(pa[0].second.shape() == Shape{9, 16});
  CHECK(pa[1].second.shape() == Shape{9});
  CHECK(max_abs_diff(pa[0].second.data(), pb[0].second.data()) == 0.0f);  // same seed, same init
  const float bound = 1.0f / std::sqrt(16.0f);
  CHECK(max_all(abs(pa[0].second.data())) <= bound);
  CHECK(max_all(abs(pa[0].second.data())) > 0.8f * bound);  // spread over the whole range
  CHECK(max_all(abs(pa[1].second.data())) <= bound);

  ArcFaceHead arc(16, 9, 30.0f, 0.05f, false, gen);
  CHECK(arc.named_parameters().size() == 1);
  CHECK(max_all(abs(arc.named_parameters()[0].second.data())) <= std::sqrt(6.0f / 25.0f));

  const Variable x(Tensor::zeros({2, 16}));
  CHECK_THROWS_WITH_AS(a.forward(Variable(Tensor::zeros({2, 15}))),
                       doctest::Contains("[L2SoftmaxHead] features must be (N, 16), got (2, 15)"),
                       Error);
  CHECK_THROWS_WITH_AS((arc.forward(x, {0, 9})),
                       doctest::Contains("[ArcFaceHead] label 9 at index 1 is out of range"),
                       Error);
  CHECK_THROWS_WITH_AS((arc.forward(x, {0})), doctest::Contains("1 labels for features (2, 16)"),
                       Error);
  CHECK_THROWS_WITH_AS(L2SoftmaxHead(16, 9, 0.0f, gen), doctest::Contains("alpha must be > 0"),
                       Error);
  CHECK_THROWS_WITH_AS(ArcFaceHead(16, 9, 30.0f, 2.0f, false, gen),
                       doctest::Contains("m must be in [0, pi/2)"), Error);
  CHECK_THROWS_WITH_AS((doc_loss(Variable(Tensor::zeros({2, 3})), {0, 1}, x, -1.0f)),
                       doctest::Contains("[doc_loss] lambda"), Error);
}
