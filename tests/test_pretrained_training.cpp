// test_pretrained_training.cpp — the methods that fine-tune pretrained features on normal
// images alone, PANDA and Mean-Shifted Contrastive, and their losses: PANDA's compactness
// about a fixed centre, the pull toward the pretrained weights (L2-SP and EWC), the
// Mean-Shifted Contrastive loss and total-norm gradient clipping against PyTorch 1.13
// (fixture from tests/fixtures/make_pretrained_losses.py: the authors' code) and against
// finite differences; then both methods on the tiny synthetic data set with a tiny random
// network standing in for the pretrained one, and with the real ImageNet weights when
// ../shared/data/weights holds them.
// Also the collapse diagnostics and --eval-every, which watch these methods train.
// Shapes: N (or B) samples, F features.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "anomaly/diagnostics.h"
#include "anomaly/experiment.h"
#include "anomaly/methods/backbone.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "autograd/gradcheck.h"
#include "data/fashion_mnist.h"
#include "losses/msc.h"
#include "losses/panda.h"
#include "optim/clip_grad.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;
using kz::test::tiny_split;

namespace {

Safetensors fixture() { return load_safetensors(KZ_FIXTURES "/pretrained_losses.safetensors"); }

void check_close(const Tensor& a, const Tensor& b, float rtol, float atol, const std::string& what) {
  CAPTURE(what);
  REQUIRE(a.defined());
  REQUIRE(a.numel() == b.numel());
  const Tensor a1 = a.contiguous().reshape({a.numel()}), b1 = b.contiguous().reshape({b.numel()});
  const float diff = max_abs_diff(a1, b1);
  CAPTURE(diff);
  CHECK(allclose(a1, b1, rtol, atol));
}

// The parameters of a pull case: in0, in1, … as leaves; their anchors and Fisher weights.
struct PullCase {
  std::vector<Variable> params;
  std::vector<Tensor> anchors, fisher;
  std::vector<Tensor> inputs;
};
PullCase pull_case(const Safetensors& f, const std::string& name, bool with_fisher) {
  PullCase c;
  for (int i = 0; f.tensors.count(fmt::format("{}.in{}", name, i)) > 0; ++i) {
    c.inputs.push_back(f.at(fmt::format("{}.in{}", name, i)));
    c.params.emplace_back(c.inputs.back().clone(), true);
    c.anchors.push_back(f.at(fmt::format("{}.anchor{}", name, i)));
    if (with_fisher) c.fisher.push_back(f.at(fmt::format("{}.fisher{}", name, i)));
  }
  return c;
}

}  // namespace

TEST_CASE("pretrained losses: PANDA's compactness about a fixed centre matches PyTorch") {
  const Safetensors f = fixture();
  for (const std::string name : {"compact", "compact_one"}) {
    CAPTURE(name);
    Variable x(f.at(name + ".in0").clone(), true);
    const Tensor center = f.at(name + ".center");
    const Variable loss = panda_compactness_loss(x, center);
    check_close(loss.data(), f.at(name + ".out"), 1e-5f, 1e-5f, "loss");
    loss.backward();
    check_close(x.grad(), f.at(name + ".d0"), 1e-5f, 1e-5f, "dx");
    const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
      return panda_compactness_loss(v[0], center);
    }, {f.at(name + ".in0")});
    CHECK_MESSAGE(gc.ok, gc.message);
  }
}

TEST_CASE("pretrained losses: the pull toward the pretrained weights (L2-SP, EWC) matches PyTorch") {
  const Safetensors f = fixture();
  for (const bool ewc : {false, true}) {
    const std::string name = ewc ? "ewc" : "l2sp";
    CAPTURE(name);
    PullCase c = pull_case(f, name, ewc);
    REQUIRE(c.params.size() == 3);
    const float lambda = f.at(name + ".lambda").item();
    const Variable loss = weight_pull_loss(c.params, c.anchors, c.fisher, lambda);
    check_close(loss.data(), f.at(name + ".out"), 1e-5f, 1e-5f, "loss");
    loss.backward();
    for (size_t i = 0; i < c.params.size(); ++i)
      check_close(c.params[i].grad(), f.at(fmt::format("{}.d{}", name, i)), 1e-5f, 1e-5f,
                  fmt::format("d{}", i));
    const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
      return weight_pull_loss(v, c.anchors, c.fisher, lambda);
    }, c.inputs);
    CHECK_MESSAGE(gc.ok, gc.message);
  }
}

TEST_CASE("pretrained losses: the Mean-Shifted Contrastive loss matches the authors' code") {
  const Safetensors f = fixture();
  for (const std::string name : {"msc", "msc_pair"}) {
    CAPTURE(name);
    Variable a(f.at(name + ".in0").clone(), true), b(f.at(name + ".in1").clone(), true);
    const Tensor center = f.at(name + ".center");
    const float tau = f.at(name + ".tau").item();
    const MscLoss loss = msc_loss(a, b, center, tau);
    check_close(loss.contrastive.data(), f.at(name + ".contrastive"), 1e-5f, 1e-5f, "contrastive");
    check_close(loss.angular.data(), f.at(name + ".angular"), 1e-5f, 1e-5f, "angular");
    check_close(loss.total.data(), f.at(name + ".out"), 1e-5f, 1e-5f, "total");
    loss.total.backward();
    check_close(a.grad(), f.at(name + ".d0"), 1e-4f, 1e-5f, "d0");
    check_close(b.grad(), f.at(name + ".d1"), 1e-4f, 1e-5f, "d1");
    const GradcheckResult gc = gradcheck([&](const std::vector<Variable>& v) {
      return msc_loss(v[0], v[1], center, tau).total;
    }, {f.at(name + ".in0"), f.at(name + ".in1")});
    CHECK_MESSAGE(gc.ok, gc.message);
  }
}

TEST_CASE("pretrained losses: clip_grad_norm matches torch.nn.utils.clip_grad_norm_") {
  const Safetensors f = fixture();
  for (const std::string name : {"clip", "clip_none"}) {
    CAPTURE(name);
    std::vector<Variable> params;
    for (int i = 0; i < 3; ++i) {
      const Tensor g = f.at(fmt::format("{}.grad{}", name, i));
      Variable p(Tensor::zeros(g.shape()), true);
      p.grad() = g.clone();
      params.push_back(p);
    }
    params.emplace_back(Tensor::zeros({2}), true);  // no gradient: skipped
    const double total = clip_grad_norm(params, f.at(name + ".max_norm").item());
    CHECK(total == doctest::Approx(f.at(name + ".total").item()).epsilon(1e-5));
    for (int i = 0; i < 3; ++i)
      check_close(params[static_cast<size_t>(i)].grad(), f.at(fmt::format("{}.clipped{}", name, i)),
                  1e-5f, 1e-7f, fmt::format("grad {}", i));
    CHECK_FALSE(params.back().grad().defined());
  }
}

TEST_CASE("pretrained losses: bad input is refused naming what is wrong") {
  const Tensor c3 = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(panda_compactness_loss(Variable(Tensor::zeros({2, 4})), c3),
                       doctest::Contains("center must be (4)"), Error);
  CHECK_THROWS_WITH_AS(msc_loss(Variable(Tensor::ones({1, 3})), Variable(Tensor::ones({1, 3})), c3),
                       doctest::Contains("at least 2 images"), Error);
  CHECK_THROWS_WITH_AS(msc_loss(Variable(Tensor::ones({2, 3})), Variable(Tensor::ones({3, 3})), c3),
                       doctest::Contains("the same shape"), Error);
  CHECK_THROWS_WITH_AS(msc_loss(Variable(Tensor::ones({2, 3})), Variable(Tensor::ones({2, 3})), c3, 0.0f),
                       doctest::Contains("tau must be > 0"), Error);
  const std::vector<Variable> p{Variable(Tensor::zeros({2, 2}), true)};
  CHECK_THROWS_WITH_AS(weight_pull_loss(p, {Tensor::zeros({4})}, {}, 1.0f),
                       doctest::Contains("but its anchor is (4,)"), Error);
  CHECK_THROWS_WITH_AS(weight_pull_loss(p, {Tensor::zeros({2, 2})}, {}, -1.0f),
                       doctest::Contains("lambda must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(weight_pull_loss(p, {Tensor::zeros({2, 2})}, {Tensor::ones({2, 2}), Tensor::ones({2, 2})}, 1.0f),
                       doctest::Contains("2 Fisher tensors"), Error);
  CHECK_THROWS_WITH_AS(clip_grad_norm(p, 0.0), doctest::Contains("max_norm must be > 0"), Error);
}

namespace {

// A tiny MobileNetV2 (width 0.25, 16 px) stands in for the pretrained one: random weights,
// with batch-norm statistics of images (60 training-mode passes over another draw of the
// synthetic classes, no gradients): in eval mode, a random network's initial statistics
// (mean 0, variance 1) map nearly every image to the zero feature. Written once per run.
const std::string& tiny_pretrained() {
  static const kz::test::TempDir dir("tiny_pretrained");
  static const std::string path = [] {
    MobileNetV2Options o;
    o.width = 0.25;
    o.num_classes = 0;
    Generator gen(11);
    MobileNetV2 net(o, gen);
    Preprocess pre;
    pre.height = pre.width = 16;
    pre.scaling = Scaling::unit;
    const Tensor x = preprocess(kz::test::synthetic(10, 3), pre).to_channels_last();
    NoGradGuard no_grad;
    net.train();
    for (int pass = 0; pass < 60; ++pass) net.forward_features(Variable(x));
    const std::string p = dir / "tiny_pretrained.safetensors";
    save_state_dict(net, p);
    return p;
  }();
  return path;
}

MethodOptions tiny(const std::string& name) {
  std::vector<std::string> names{name};
  MethodOptions m = preset_options("quick", "fashion-mnist", names, "").method_options.at(0);
  m.pretrained = tiny_pretrained();
  m.width = 0.25;
  m.preprocess.height = m.preprocess.width = 16;
  m.preprocess.scaling = Scaling::unit;
  m.batch_size = 16;
  m.epochs = 2;
  return m;
}

// Largest |a − b| over the entries of `a` whose names start with (or not, with inside =
// false) one of features.0 … features.{frozen−1}.
double max_change(const StateDict& a, const StateDict& b, int64_t frozen, bool in_frozen,
                  const std::string& suffix = "") {
  double worst = 0.0;
  for (const auto& [name, t] : a) {
    bool is_frozen = false;
    for (int64_t k = 0; k < frozen; ++k)
      if (name.rfind(fmt::format("backbone.features.{}.", k), 0) == 0) is_frozen = true;
    if (is_frozen != in_frozen) continue;
    if (!suffix.empty() && (name.size() < suffix.size() ||
                            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0))
      continue;
    worst = std::max(worst, static_cast<double>(max_abs_diff(t.contiguous(), b.at(name).contiguous())));
  }
  return worst;
}

double weight_distance(const StateDict& a, const StateDict& b) {
  double sq = 0.0;
  for (const auto& [name, t] : a) {
    if (name.find("running_") != std::string::npos) continue;
    const Tensor d = sub(t.contiguous(), b.at(name).contiguous());
    sq += static_cast<double>(kz::sum(mul(d, d)).item());
  }
  return std::sqrt(sq);
}

// The mean of ‖φ(x) − c‖² over the normal training set, c their mean: PANDA's loss at c fixed.
double spread(const Method& m, const BenchmarkSplit& split, const Tensor& center) {
  const Tensor f = m.embed(split.normal_train);
  const Tensor d = sub(f, center.reshape({1, center.size(0)}));
  return static_cast<double>(kz::sum(mul(d, d)).item()) / static_cast<double>(f.size(0));
}

// The untrained network of a method with the same seed: what "pretrained" means here.
StateDict untrained_state(const MethodOptions& o, const BenchmarkSplit& split, uint64_t seed) {
  MethodOptions f = o;
  f.name = "frozen";
  std::unique_ptr<Method> m = make_method(f);
  m->train(split, seed, nullptr);
  return m->state_dict();
}

}  // namespace

TEST_CASE("panda: pulls the normal features together, keeps batch norm and frozen blocks as they were") {
  const BenchmarkSplit split = tiny_split(0);
  MethodOptions o = tiny("panda");
  o.freeze_blocks = 10;
  o.epochs = 3;  // the paper's settings (quick preset) otherwise
  const StateDict before = untrained_state(o, split, 5);
  std::unique_ptr<Method> frozen_m = make_method([&] { MethodOptions f = o; f.name = "frozen"; return f; }());
  frozen_m->train(split, 5, nullptr);
  const Tensor center = kz::mean(frozen_m->embed(split.normal_train), {0});

  std::unique_ptr<Method> m = make_method(o);
  CHECK(m->default_scorer() == "knn");
  std::vector<double> losses;
  m->train(split, 5, [&](const TrainProgress& p) { if (p.epoch_end) losses.push_back(p.loss); });
  REQUIRE(losses.size() == 3);
  MESSAGE("panda loss by epoch: first " << losses.front() << ", last " << losses.back());
  CHECK(losses.back() < losses.front());
  const StateDict after = m->state_dict();
  CHECK(max_change(after, before, o.freeze_blocks, true) == 0.0);          // frozen blocks
  CHECK(max_change(after, before, o.freeze_blocks, false, "running_mean") == 0.0);  // BN eval
  CHECK(max_change(after, before, o.freeze_blocks, false, "running_var") == 0.0);
  CHECK(max_change(after, before, o.freeze_blocks, false, "weight") > 0.0);  // it trained
  const double s0 = spread(*frozen_m, split, center), s1 = spread(*m, split, center);
  MESSAGE("mean ||phi - c||^2 before " << s0 << ", after " << s1);
  CHECK(s1 < s0);
}

TEST_CASE("panda: the pull keeps the weights near the pretrained ones; the Fisher version weights it") {
  const BenchmarkSplit split = tiny_split(0);
  MethodOptions o = tiny("panda");
  o.max_grad_norm = 1.0;
  o.freeze_blocks = 10;
  const StateDict start = untrained_state(o, split, 2);
  auto distance = [&](double lambda, bool fisher) {
    MethodOptions p = o;
    p.panda_lambda = lambda;
    p.panda_fisher = fisher;
    std::unique_ptr<Method> m = make_method(p);
    m->train(split, 2, nullptr);
    return weight_distance(m->state_dict(), start);
  };
  const double free = distance(0.0, false), l2sp = distance(1000.0, false), ewc = distance(1000.0, true);
  MESSAGE("||theta - theta0||: lambda 0 " << free << ", L2-SP " << l2sp << ", EWC " << ewc);
  CHECK(free > 0.0);
  CHECK(l2sp < free);
  CHECK(ewc != l2sp);  // another weighting, another result
  CHECK(ewc < free);
}

TEST_CASE("panda and msc: the same seed trains the same network; bad settings are refused") {
  const BenchmarkSplit split = tiny_split(0);
  for (const std::string name : {"panda", "msc"}) {
    CAPTURE(name);
    MethodOptions o = tiny(name);
    o.lr = name == "msc" ? 1e-2 : o.lr;
    o.epochs = 1;
    auto features = [&](uint64_t seed) {
      std::unique_ptr<Method> m = make_method(o);
      m->train(split, seed, nullptr);
      return m->embed(split.test).to_vector();
    };
    CHECK(features(3) == features(3));
    MethodOptions bad = o;
    bad.freeze_blocks = 19;
    CHECK_THROWS_WITH_AS(make_method(bad)->train(split, 0, nullptr),
                         doctest::Contains("freeze_blocks must be in [0, 18]"), Error);
  }
  MethodOptions fisher = tiny("panda");
  fisher.panda_fisher = true;
  BenchmarkSplit no_reference = split;
  no_reference.reference = ImageDataset{};
  CHECK_THROWS_WITH_AS(make_method(fisher)->train(no_reference, 0, nullptr),
                       doctest::Contains("reference set, but it is empty"), Error);
  MethodOptions one = tiny("msc");
  one.batch_size = 1;
  CHECK_THROWS_WITH_AS(make_method(one)->train(split, 0, nullptr),
                       doctest::Contains("batch_size must be at least 2"), Error);
}

TEST_CASE("msc: trains on two augmented views; unit features; batch norm and frozen blocks stay") {
  const BenchmarkSplit split = tiny_split(0);
  MethodOptions o = tiny("msc");
  o.freeze_blocks = 10;
  o.lr = 1e-1;  // the paper's 1e-5 barely moves a tiny random network
  o.epochs = 4;
  const StateDict before = untrained_state(o, split, 9);
  std::unique_ptr<Method> m = make_method(o);
  CHECK(m->default_scorer() == "knn");
  std::vector<double> losses;
  m->train(split, 9, [&](const TrainProgress& p) { if (p.epoch_end) losses.push_back(p.loss); });
  REQUIRE(losses.size() == 4);
  MESSAGE("msc loss by epoch: first " << losses.front() << ", last " << losses.back());
  CHECK(losses.back() < losses.front());
  const StateDict after = m->state_dict();
  CHECK(max_change(after, before, o.freeze_blocks, true) == 0.0);
  CHECK(max_change(after, before, o.freeze_blocks, false, "running_mean") == 0.0);
  CHECK(max_change(after, before, o.freeze_blocks, false, "running_var") == 0.0);
  CHECK(max_change(after, before, o.freeze_blocks, false, "weight") > 0.0);
  const Tensor z = m->embed(split.test);
  const Tensor norms = kz::sum(mul(z, z), {1});
  check_close(norms, Tensor::ones({z.size(0)}), 1e-5f, 1e-5f, "|z|^2");
}

TEST_CASE("panda and msc: stopped and resumed training ends with the same weights") {
  const BenchmarkSplit split = tiny_split(0);
  for (const std::string name : {"panda", "msc"}) {
    CAPTURE(name);
    MethodOptions o = tiny(name);
    o.lr = name == "msc" ? 1e-2 : o.lr;
    o.epochs = 2;
    kz::test::TempDir dir("pretrained_resume");
    std::unique_ptr<Method> whole = make_method(o);
    whole->train(split, 4, nullptr);
    const std::string ck = dir / "run.ckpt";
    {
      std::unique_ptr<Method> m = make_method(o);
      m->set_checkpoint({ck, false});
      int64_t batches = 0;
      // A run stopped in epoch 2 (its progress throws) leaves the checkpoint of epoch 1.
      CHECK_THROWS(m->train(split, 4, [&](const TrainProgress& p) {
        if (p.epoch == 1) throw std::runtime_error("stop");
        ++batches;
      }));
      CHECK(batches > 0);
    }
    std::unique_ptr<Method> resumed = make_method(o);
    resumed->set_checkpoint({ck, true});
    resumed->train(split, 4, nullptr);
    CHECK(resumed->resumed_epochs() == 1);
    CHECK(max_change(resumed->state_dict(), whole->state_dict(), 0, false) == 0.0);
  }
}

TEST_CASE("panda and msc with the real ImageNet weights (skipped when absent)") {
  const std::string weights = KZ_SHARED_DATA "/weights/mobilenet_v2_1.0_imagenet.safetensors";
  if (!std::filesystem::exists(weights)) {
    MESSAGE("skipped: no pretrained weights at " << weights);
    return;
  }
  const BenchmarkSplit split = tiny_split(0);
  for (const std::string name : {"panda", "msc"}) {
    CAPTURE(name);
    std::vector<std::string> names{name};
    MethodOptions o = preset_options("seed", "fashion-mnist", names, weights).method_options.at(0);
    o.preprocess.height = o.preprocess.width = 32;  // small, so the test stays quick
    o.epochs = 1;
    MethodOptions f = o;
    f.name = "frozen";
    std::unique_ptr<Method> pretrained = make_method(f), m = make_method(o);
    pretrained->train(split, 0, nullptr);
    m->train(split, 0, nullptr);
    const Tensor train = m->embed(split.normal_train), test = m->embed(split.test);
    CHECK(train.size(1) == 1280);
    for (const Tensor& t : {train, test})
      for (float v : t.to_vector()) REQUIRE(std::isfinite(v));
    const StateDict before = pretrained->state_dict(), after = m->state_dict();
    CHECK(max_change(after, before, o.freeze_blocks, true) == 0.0);
    CHECK(max_change(after, before, o.freeze_blocks, false, "running_var") == 0.0);
    CHECK(max_change(after, before, o.freeze_blocks, false, "weight") > 0.0);
    const std::vector<float> s = score_features("knn", train, test, 2).to_vector();
    MESSAGE(name << " with ImageNet weights, k-NN AUC on the synthetic split "
                 << roc_auc(std::vector<double>(s.begin(), s.end()),
                            std::vector<int>(split.test.labels.begin(), split.test.labels.end())));
  }
}

TEST_CASE("diagnostics: mean cosine and effective rank of centred features") {
  // Rows ±a·e1, ±b·e2 (mean 0): the pairs of opposite rows have cosine −1, the others 0, so
  // the mean over the 12 ordered pairs is −4/12; X̄ᵀX̄ = diag(2a², 2b², 0).
  for (const float b : {1.0f, 3.0f}) {
    CAPTURE(b);
    const float a = 1.0f;
    const Tensor x = Tensor::from_data(std::vector<float>{a, 0, 0, -a, 0, 0, 0, b, 0, 0, -b, 0}.data(), {4, 3});
    const FeatureDiagnostics d = feature_diagnostics(add(x, 5.0f));  // a shift changes nothing
    CHECK(d.mean_cosine == doctest::Approx(-1.0 / 3.0));
    const double l1 = 2.0 * a * a, l2 = 2.0 * b * b;
    CHECK(d.effective_rank == doctest::Approx((l1 + l2) * (l1 + l2) / (l1 * l1 + l2 * l2)));
  }
  // Random features against the definitions computed the other way round: every pair's
  // cosine in a double loop, and the spectrum's sums from the F×F matrix X̄ᵀX̄.
  Generator gen(3);
  const int64_t n = 9, f = 5;
  const std::vector<float> v = Tensor::normal({n, f}, 0.0f, 1.0f, gen).to_vector();
  std::vector<double> m(static_cast<size_t>(f), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < f; ++k) m[size_t(k)] += v[size_t(i * f + k)] / double(n);
  auto c = [&](int64_t i, int64_t k) { return v[size_t(i * f + k)] - m[size_t(k)]; };
  double cos_sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      double dot = 0, ni = 0, nj = 0;
      for (int64_t k = 0; k < f; ++k) {
        dot += c(i, k) * c(j, k);
        ni += c(i, k) * c(i, k);
        nj += c(j, k) * c(j, k);
      }
      cos_sum += dot / std::sqrt(ni * nj);
    }
  double trace = 0, frob = 0;
  for (int64_t k = 0; k < f; ++k)
    for (int64_t l = 0; l < f; ++l) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += c(i, k) * c(i, l);
      frob += s * s;
      if (k == l) trace += s;
    }
  const FeatureDiagnostics d = feature_diagnostics(Tensor::from_data(v.data(), {n, f}));
  CHECK(d.mean_cosine == doctest::Approx(cos_sum / double(n * (n - 1))).epsilon(1e-5));
  CHECK(d.effective_rank == doctest::Approx(trace * trace / frob).epsilon(1e-5));
  CHECK(feature_diagnostics(Tensor::ones({4, 3})).effective_rank == 0.0);  // no spread at all
  CHECK_THROWS_WITH_AS(feature_diagnostics(Tensor::ones({1, 3})),
                       doctest::Contains("n >= 2"), Error);
}

TEST_CASE("eval-every: the epoch hook sees epoch 0 and every epoch, and changes no weight") {
  const BenchmarkSplit split = tiny_split(0);
  // l2softmax trains batch norm in training mode: a hook that embeds (eval mode) in between
  // must leave it as it found it, or the weights would differ.
  for (const std::string name : {"panda", "msc", "l2softmax"}) {
    CAPTURE(name);
    MethodOptions o = tiny(name);
    if (name == "l2softmax") o.pretrained.clear();
    o.epochs = 2;
    std::unique_ptr<Method> plain = make_method(o), watched = make_method(o);
    plain->train(split, 6, nullptr);
    std::vector<int64_t> seen;
    watched->set_epoch_hook([&](int64_t done) {
      seen.push_back(done);
      CHECK(watched->embed(split.test).size(0) == 40);
    });
    watched->train(split, 6, nullptr);
    CHECK(seen == std::vector<int64_t>{0, 1, 2});
    CHECK(max_change(plain->state_dict(), watched->state_dict(), 0, false) == 0.0);
  }
}

TEST_CASE("eval-every: the runner records each scorer's curve in results.json (skipped without Fashion-MNIST)") {
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: no Fashion-MNIST in " << kFashionMnistDir);
    return;
  }
  ExperimentOptions e = preset_options("quick", "fashion-mnist", {"panda", "frozen"}, "");
  for (MethodOptions& m : e.method_options) {
    m.width = 0.25;
    m.preprocess.height = m.preprocess.width = 16;
    m.epochs = 3;
  }
  e.trials = 1;
  e.n_reference_per_class = 1;
  e.n_normal_train = e.n_test_each = 40;
  e.scorers = {"knn", "cosine"};
  e.eval_every = 2;
  const kz::test::TempDir dir("eval_every");
  e.out_dir = dir.path.string();
  const BenchmarkResults r = run_benchmark(e);
  CHECK(r.settings.at("eval_every") == 2);
  const BenchmarkResults back = read_results_json(dir / "results.json");
  REQUIRE(back.trials.size() == r.trials.size());
  int curves = 0;
  for (size_t i = 0; i < r.trials.size(); ++i) {
    const TrialResult& t = r.trials[i];
    CAPTURE(t.method);
    CAPTURE(t.scorer);
    if (t.method == "frozen") {  // no training, no curve
      CHECK(t.curve.empty());
      continue;
    }
    ++curves;
    REQUIRE(t.curve.size() == 3);  // epochs 0, 2 and the last, 3
    CHECK(t.curve[0].epoch == 0);
    CHECK(t.curve[1].epoch == 2);
    CHECK(t.curve[2].epoch == 3);
    CHECK(t.curve[2].auc == t.auc);  // the last point is the trained network
    CHECK(t.curve[0].weight_distance == 0.0);
    CHECK(t.curve[2].weight_distance > 0.0);
    for (const CurvePoint& p : t.curve) {
      CHECK(p.mean_cosine >= -1.0);
      CHECK(p.mean_cosine <= 1.0);
      CHECK(p.effective_rank >= 0.0);
    }
    REQUIRE(back.trials[i].curve.size() == t.curve.size());
    for (size_t k = 0; k < t.curve.size(); ++k) {
      CHECK(back.trials[i].curve[k].epoch == t.curve[k].epoch);
      CHECK(back.trials[i].curve[k].auc == t.curve[k].auc);
      CHECK(back.trials[i].curve[k].mean_cosine == t.curve[k].mean_cosine);
      CHECK(back.trials[i].curve[k].effective_rank == t.curve[k].effective_rank);
      CHECK(back.trials[i].curve[k].weight_distance == t.curve[k].weight_distance);
    }
  }
  CHECK(curves == 2);  // panda's knn and cosine
  e.eval_every = -1;
  CHECK_THROWS_WITH_AS(run_benchmark(e), doctest::Contains("--eval-every must be >= 0"), Error);
}
