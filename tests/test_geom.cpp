// test_geom.cpp — GEOM and GOAD (anomaly/methods/{geom,goad}.cpp) and their 72 geometric
// transformations (data/geometric.h): the transformations bit for bit against the authors'
// numpy/scipy calls (fixture from tests/fixtures/make_geometric.py), their decoding and names,
// bad input; each method trains on a tiny synthetic split, its loss falls, its scores are
// finite, repeatable and survive a save/load of its networks (GOAD's centres included). The
// triplet-centre loss itself is checked in tests/test_losses.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "anomaly/method.h"
#include "anomaly/roc.h"
#include "data/geometric.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/synthetic_data.h"

using namespace kz;

TEST_CASE("geom: the 72 transformations match the authors' numpy and scipy calls bit for bit") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/geometric.safetensors");
  const Tensor x = f.at("x"), y = f.at("y");  // (2,2,8,8), (72,2,2,8,8)
  REQUIRE(y.size(0) == kGeometricTransforms);
  const Tensor all = all_geometric(x);  // (2·72,2,8,8)
  REQUIRE(all.shape() == Shape{2 * kGeometricTransforms, 2, 8, 8});
  for (int64_t t = 0; t < kGeometricTransforms; ++t) {
    CAPTURE(t);
    CAPTURE(geometric_name(t, 8));
    const Tensor expected = y.select(0, t).contiguous();
    CHECK(max_abs_diff(apply_geometric(x, geometric_transform(t, 8)), expected) == 0.0f);
    for (int64_t n = 0; n < 2; ++n)
      CHECK(max_abs_diff(all.select(0, n * kGeometricTransforms + t),
                         expected.select(0, n)) == 0.0f);
  }
}

TEST_CASE("geom: transformations decode in the authors' order, with distinct names") {
  const GeometricTransform id = geometric_transform(0, 32);
  CHECK((!id.flip && id.tx == 0 && id.ty == 0 && id.quarter_turns == 0));
  CHECK(geometric_name(0, 32) == "id");
  const GeometricTransform last = geometric_transform(71, 32);  // flip, +s, +s, 270°
  CHECK((last.flip && last.tx == 8 && last.ty == 8 && last.quarter_turns == 3));
  const GeometricTransform t = geometric_transform(4 * 1 + 12 * 1, 32);  // tx −s, ty −s
  CHECK((t.tx == -8 && t.ty == -8 && !t.flip && t.quarter_turns == 0));
  std::set<std::string> names;
  for (int64_t i = 0; i < kGeometricTransforms; ++i) names.insert(geometric_name(i, 32));
  CHECK(names.size() == 72);
  CHECK(names.count("flip,tx=-8,ty=8,rot=180") == 1);

  CHECK_THROWS_WITH_AS(geometric_transform(72, 32),
                       doctest::Contains("transformation 72 is outside [0, 72)"), Error);
  CHECK_THROWS_WITH_AS(apply_geometric(Tensor::zeros({1, 1, 8, 6}), geometric_transform(1, 8)),
                       doctest::Contains("expected square images (N,C,H,H), got (1, 1, 8, 6)"),
                       Error);
  CHECK_THROWS_WITH_AS(all_geometric(Tensor::zeros({8, 8})),
                       doctest::Contains("[all_geometric] expected square images"), Error);
}

TEST_CASE("geom: geom and goad train on whole groups, their loss falls, scores are finite and reload") {
  const BenchmarkSplit split = test::tiny_split(0);
  for (const std::string name : {"geom", "goad"}) {
    CAPTURE(name);
    MethodOptions o;
    o.name = name;
    o.width = 0.25;
    o.preprocess.height = o.preprocess.width = 16;
    o.preprocess.scaling = Scaling::unit;
    o.epochs = 4;
    o.batch_size = 144;  // two images, 144 copies per step
    o.optimizer = "adam";
    o.lr = 1e-3;
    std::unique_ptr<Method> method = make_method(o);
    CHECK(method->kind() == MethodKind::scoring);
    REQUIRE(method->score_names() == std::vector<std::string>{name == "geom" ? "nll" : "goad"});
    std::vector<double> epoch_loss;
    int64_t steps = 0;
    method->train(split, 3, [&](const TrainProgress& p) {
      CHECK(std::isfinite(p.loss));
      if (p.epoch_end) epoch_loss.push_back(p.loss);
      if (p.epoch == 0 && p.batch == 0) steps = p.batches;
    });
    REQUIRE(epoch_loss.size() == 4);
    CHECK(steps == (split.normal_train.size() + 1) / 2);  // steps of two images
    MESSAGE(name << " loss by epoch: first " << epoch_loss.front() << ", last "
                 << epoch_loss.back() << " (chance cross-entropy: ln 72 = " << std::log(72.0)
                 << ")");
    CHECK(epoch_loss.back() < epoch_loss.front());

    const Tensor s = method->score(split.test)[0];
    REQUIRE(s.shape() == Shape{split.test.size()});
    for (float v : s.to_vector()) CHECK((std::isfinite(v) && v > 0.0f));  // −Σ log p > 0
    CHECK(max_abs_diff(s, method->score(split.test)[0]) == 0.0f);
    const std::vector<float> sv = s.to_vector();
    const double auc = roc_auc(std::vector<double>(sv.begin(), sv.end()),
                               std::vector<int>(split.test.labels.begin(), split.test.labels.end()));
    MESSAGE(name << " AUC " << auc);

    std::unique_ptr<Method> loaded = make_method(o);
    loaded->build_untrained(method->architecture());
    loaded->load_state_dict(method->state_dict());
    CHECK(max_abs_diff(loaded->score(split.test)[0], s) == 0.0f);
  }
  MethodOptions untrained;
  untrained.name = "goad";
  CHECK_THROWS_WITH_AS(make_method(untrained)->score(split.test),
                       doctest::Contains("has not been trained"), Error);
}
