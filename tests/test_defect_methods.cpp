// test_defect_methods.cpp — the methods that train on synthetic defects (data/defects.h):
// twin (anomaly/methods/twin.cpp) and cutpaste (anomaly/methods/cutpaste.cpp) on the tiny
// synthetic data set: their heads' classes, --with-reference, cutpaste's patch maps, model
// files and resumed training that end with the same weights as a run that never stopped.
#include <doctest/doctest.h>

#include <cmath>

#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;
using kz::test::tiny_method;
using kz::test::tiny_split;

namespace {

// The largest difference between two state dicts with the same keys.
float state_diff(const StateDict& a, const StateDict& b) {
  REQUIRE(a.size() == b.size());
  float d = 0.0f;
  for (const auto& [key, value] : a) {
    REQUIRE(b.count(key) == 1);
    d = std::max(d, max_abs_diff(value, b.at(key)));
  }
  return d;
}

}  // namespace

TEST_CASE("twin: normal against twin, the reference classes with --with-reference") {
  const BenchmarkSplit split = tiny_split(0);
  MethodOptions o = tiny_method("twin");
  std::unique_ptr<Method> twin = make_method(o);
  CHECK(twin->kind() == MethodKind::embedding);
  CHECK(twin->default_scorer() == "gde");
  CHECK(twin->head_classes(split) == std::vector<std::string>{"normal", "twin"});
  int64_t images = 0;
  twin->train(split, 5, [&](const TrainProgress& p) {
    CHECK(std::isfinite(p.loss));
    if (p.epoch == 0 && !p.epoch_end) images += 1;
  });
  CHECK(images > 0);
  const Tensor z = twin->embed(split.test);
  CHECK(z.shape() == Shape{split.test.size(), twin->feature_dim()});
  CHECK(twin->class_logits(z).size(1) == 2);

  o.with_reference = true;
  std::unique_ptr<Method> with = make_method(o);
  std::vector<std::string> classes = split.reference.class_names;
  classes.emplace_back("normal");
  classes.emplace_back("twin");
  CHECK(with->head_classes(split) == classes);
  with->train(split, 5, nullptr);
  CHECK(with->class_logits(with->embed(split.test)).size(1) ==
        static_cast<int64_t>(classes.size()));
  // Reloaded from its state: the same features.
  std::unique_ptr<Method> loaded = make_method(o);
  loaded->build_untrained(with->architecture());
  loaded->load_state_dict(with->state_dict());
  CHECK(max_abs_diff(loaded->embed(split.test), with->embed(split.test)) == 0.0f);

  BenchmarkSplit no_reference = split;
  no_reference.reference = split.reference.subset({});
  CHECK_THROWS_WITH_AS(make_method(o)->train(no_reference, 5, nullptr),
                       doctest::Contains("twin --with-reference classifies the reference classes "
                                         "too: it needs a reference set"),
                       Error);
}

TEST_CASE("cutpaste: a 3-way head, gde by default, patch maps that survive a model file") {
  const BenchmarkSplit split = tiny_split(0);
  const MethodOptions o = tiny_method("cutpaste");
  std::unique_ptr<Method> m = make_method(o);
  CHECK(m->kind() == MethodKind::embedding);
  CHECK(m->default_scorer() == "gde");
  CHECK(m->gives_maps());
  CHECK(m->head_classes(split) == std::vector<std::string>{"normal", "cutpaste", "scar"});
  CHECK_THROWS_WITH_AS(m->maps(split.test), doctest::Contains("has not been trained"), Error);
  int64_t batches = 0;
  m->train(split, 9, [&](const TrainProgress& p) {
    CHECK(std::isfinite(p.loss));
    if (p.epoch == 0) batches = p.batches;
  });
  // 16 rows per step: 5 images, each with its cutpaste and scar copies.
  CHECK(batches == (split.normal_train.size() + 4) / 5);
  const ImageDataset shown = split.test.subset({0, 1, 2, 30, 31});
  const AnomalyMaps maps = m->maps(shown);
  REQUIRE(maps.maps.shape() == Shape{5, 16, 16});
  CHECK_FALSE(maps.reconstruction.defined());
  const std::vector<float> v = maps.maps.to_vector();
  for (const float x : v) CHECK(std::isfinite(x));
  CHECK(*std::max_element(v.begin(), v.end()) > *std::min_element(v.begin(), v.end()));
  CHECK(max_abs_diff(m->maps(shown).maps, maps.maps) == 0.0f);
  // Each image's map alone equals its row of the batch's.
  CHECK(max_abs_diff(m->maps(split.test.subset({30})).maps.select(0, 0), maps.maps.select(0, 3)) <
        1e-3f * (1.0f + std::abs(v[3 * 256])));

  std::unique_ptr<Method> loaded = make_method(o);
  loaded->build_untrained(m->architecture());
  loaded->load_state_dict(m->state_dict());
  CHECK(max_abs_diff(loaded->maps(shown).maps, maps.maps) == 0.0f);
  CHECK(max_abs_diff(loaded->embed(split.test), m->embed(split.test)) == 0.0f);
}

TEST_CASE("twin and cutpaste: stopped and resumed training ends with the same weights") {
  const BenchmarkSplit split = tiny_split(0);
  for (const std::string name : {"twin", "cutpaste"}) {
    CAPTURE(name);
    const MethodOptions o = tiny_method(name);
    kz::test::TempDir dir("defect_resume");
    std::unique_ptr<Method> whole = make_method(o);
    whole->train(split, 4, nullptr);
    const std::string ck = dir / "run.ckpt";
    {
      std::unique_ptr<Method> m = make_method(o);
      m->set_checkpoint({ck, false});
      // A run stopped in epoch 2 (its progress throws) leaves the checkpoint of epoch 1.
      CHECK_THROWS(m->train(split, 4, [&](const TrainProgress& p) {
        if (p.epoch == 1) throw std::runtime_error("stop");
      }));
    }
    std::unique_ptr<Method> resumed = make_method(o);
    resumed->set_checkpoint({ck, true});
    resumed->train(split, 4, nullptr);
    CHECK(resumed->resumed_epochs() == 1);
    CHECK(state_diff(resumed->state_dict(), whole->state_dict()) == 0.0f);
  }
}

TEST_CASE("twin and cutpaste: model.kz scores as the trained model did") {
  const BenchmarkSplit split = tiny_split(0);
  for (const std::string name : {"twin", "cutpaste"}) {
    CAPTURE(name);
    TrainModelOptions o;
    o.method = tiny_method(name);
    const AnomalyModel model = train_model(split.normal_train, split.reference, o, nullptr);
    kz::test::TempDir dir("defect_model");
    save_model(dir / "model.kz", model);
    const AnomalyModel loaded = load_model(dir / "model.kz");
    CHECK(loaded.scorer_name == "gde");
    CHECK(model.score(split.test).score == loaded.score(split.test).score);
  }
}

TEST_CASE("twin: --with-reference is refused under --validate, which scores reference images") {
  ExperimentOptions o = preset_options("quick", "fashion-mnist", {"twin"}, "");
  o.validate = true;
  o.method_options.at(0).with_reference = true;
  o.data_dir = "/nonexistent";  // refused before any data is read
  CHECK_THROWS_WITH_AS(run_benchmark(o), doctest::Contains("but --with-reference trains twin on "
                                                           "the reference set"),
                       Error);
  o.method_options.at(0).with_reference = false;
  CHECK_THROWS_WITH_AS(run_benchmark(o), doctest::Contains("/nonexistent"), Error);
}
