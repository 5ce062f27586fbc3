// test_ensemble.cpp — ensembles of detectors (anomaly/ensemble.h): --ensemble's parsing and
// its errors, the standardised average against its definition, cross-fitted training scores
// against scorers fitted on the other folds, and a benchmark run on a tiny Fashion-MNIST split
// (skipped where the dataset is not installed) whose ensemble rows equal the average of their
// members' recorded scores, survive --resume unchanged, and whose bad members are refused.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "anomaly/ensemble.h"
#include "anomaly/experiment.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "data/fashion_mnist.h"
#include "data/split.h"
#include "tensor/ops.h"
#include "tests/temp_dir.h"

using namespace kz;

TEST_CASE("ensemble: --ensemble parses NAME=method:score,method and refuses what is not one") {
  const EnsembleSpec e = parse_ensemble("mix=doc:lof,ae,vae:elbo", "--ensemble");
  CHECK(e.name == "mix");
  REQUIRE(e.members.size() == 3);
  CHECK(e.members[0] == std::pair<std::string, std::string>{"doc", "lof"});
  CHECK(e.members[1] == std::pair<std::string, std::string>{"ae", ""});
  CHECK(e.members[2] == std::pair<std::string, std::string>{"vae", "elbo"});
  for (const std::string bad : {"mix", "=ae,vae", "mix="})
    CHECK_THROWS_WITH_AS(parse_ensemble(bad, "--ensemble"),
                         doctest::Contains("is not NAME=method:score"), Error);
  CHECK_THROWS_WITH_AS(parse_ensemble("mix=ae", "--ensemble"),
                       doctest::Contains("needs at least two members"), Error);
  CHECK_THROWS_WITH_AS(parse_ensemble("mix=ae,ae", "--ensemble"),
                       doctest::Contains("member 'ae' is there twice"), Error);
  CHECK_THROWS_WITH_AS(parse_ensemble("mix=ae,:lof", "--ensemble"),
                       doctest::Contains("member ':lof' is not method or method:score"), Error);
  CHECK_THROWS_WITH_AS(parse_ensemble("mix=ae,doc:", "--ensemble"),
                       doctest::Contains("member 'doc:' is not method or method:score"), Error);
}

TEST_CASE("ensemble: the average of standardised member scores, by its definition") {
  TrialResult a, b;
  a.test_scores = {1.0, 2.0, 4.0};
  a.normal_train_mean = 1.5;
  a.normal_train_std = 0.5;
  b.test_scores = {100.0, 50.0, 75.0};
  b.normal_train_mean = 60.0;
  b.normal_train_std = 20.0;
  const std::vector<double> s = ensemble_scores({&a, &b});
  REQUIRE(s.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(s[i] == doctest::Approx(((a.test_scores[i] - 1.5) / 0.5 + (b.test_scores[i] - 60.0) / 20.0) / 2));
  b.test_scores.pop_back();
  CHECK_THROWS_WITH_AS(ensemble_scores({&a, &b}), doctest::Contains("has 2 test scores, expected 3"),
                       Error);
  b.test_scores = {1.0, 1.0, 1.0};
  b.normal_train_std = 0.0;
  CHECK_THROWS_WITH_AS(ensemble_scores({&a, &b}), doctest::Contains("cannot be standardised"),
                       Error);
}

TEST_CASE("ensemble: cross-fitted training scores come from scorers fitted on the other folds") {
  Generator gen(4);
  const Tensor train = Tensor::normal({20, 3}, 0.0f, 1.0f, gen);
  const Tensor s = cross_fitted_scores("knn", train, 1, false);
  REQUIRE(s.shape() == Shape{20});
  // Fold 0 is rows 0–3, fold 4 rows 16–19 (5 folds of 4 rows in order).
  const Tensor fold0 = score_features("knn", train.narrow(0, 4, 16), train.narrow(0, 0, 4), 1);
  const Tensor fold4 = score_features("knn", train.narrow(0, 0, 16), train.narrow(0, 16, 4), 1);
  CHECK(max_abs_diff(s.narrow(0, 0, 4), fold0) == 0.0f);
  CHECK(max_abs_diff(s.narrow(0, 16, 4), fold4) == 0.0f);
  // In-sample, k = 1 finds each row itself: every score 0; cross-fitted, none is.
  CHECK(max_all(score_features("knn", train, train, 1)) == 0.0f);
  CHECK(min_all(s) > 0.0f);
  CHECK_THROWS_WITH_AS(cross_fitted_scores("knn", train.narrow(0, 0, 9), 1, false),
                       doctest::Contains("needs at least 10 normal training images, got 9"), Error);
}

TEST_CASE("ensemble: a benchmark's ensemble rows average their members' recorded scores") {
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: no Fashion-MNIST in " << kFashionMnistDir);
    return;
  }
  ExperimentOptions o = preset_options("quick", "fashion-mnist", {"frozen", "ae"}, "");
  o.method_options[0].width = 0.25;
  o.method_options[0].preprocess.height = o.method_options[0].preprocess.width = 16;
  o.method_options[1].epochs = 1;
  o.method_options[1].latent_dim = 8;
  o.trials = 2;
  o.n_reference_per_class = 1;
  o.n_normal_train = o.n_test_each = 30;
  o.scorers = {"knn", "cosine"};
  o.ensembles = {parse_ensemble("mix=frozen:knn,frozen:cosine,ae", "--ensemble")};
  const test::TempDir dir("ensemble");
  o.out_dir = dir.path.string();
  const BenchmarkResults r = run_benchmark(o);
  REQUIRE(r.trials.size() == 2 * 4);  // knn, cosine, mse, ensemble per trial
  TrainTest data = load_fashion_mnist();
  for (int t = 0; t < 2; ++t) {
    CAPTURE(t);
    std::vector<const TrialResult*> members;
    const TrialResult* row = nullptr;
    for (const TrialResult& x : r.trials) {
      if (x.trial != t) continue;
      if (x.method == "mix") {
        row = &x;
        continue;
      }
      REQUIRE(x.test_scores.size() == 60);
      CHECK(x.normal_train_std > 0.0);
      members.push_back(&x);
    }
    REQUIRE(row != nullptr);
    CHECK(row->scorer == "ensemble");
    REQUIRE(members.size() == 3);
    const BenchmarkSplit split = benchmark_split(data, 7, 9, 1, 30, 30, o.seed + t);
    const std::vector<int> labels(split.test.labels.begin(), split.test.labels.end());
    CHECK(row->auc == roc_auc(ensemble_scores(members), labels));
    MESSAGE("trial " << t << ": knn " << members[0]->auc << ", cosine " << members[1]->auc
                     << ", ae " << members[2]->auc << ", ensemble " << row->auc);
  }
  // --resume: every unit is recorded; the ensemble rows come back the same.
  o.resume = true;
  const BenchmarkResults again = run_benchmark(o);
  REQUIRE(again.trials.size() == r.trials.size());
  for (size_t i = 0; i < r.trials.size(); ++i) {
    CHECK(again.trials[i].method == r.trials[i].method);
    CHECK(again.trials[i].auc == r.trials[i].auc);
  }
  CHECK(read_results_json(dir / "results.json").trials.size() == r.trials.size());

  o.out_dir.clear();
  o.resume = false;
  o.ensembles = {parse_ensemble("mix=frozen:lof,ae", "--ensemble")};
  CHECK_THROWS_WITH_AS(run_benchmark(o),
                       doctest::Contains("mix: frozen is scored by knn, cosine in this run, not 'lof'"),
                       Error);
  o.ensembles = {parse_ensemble("mix=frozen,vae", "--ensemble")};
  CHECK_THROWS_WITH_AS(run_benchmark(o), doctest::Contains("member method 'vae' is not among --methods"),
                       Error);
  o.ensembles = {parse_ensemble("ae=frozen,ae:ssim", "--ensemble")};
  CHECK_THROWS_WITH_AS(run_benchmark(o), doctest::Contains("has the name of a method"), Error);
  o.ensembles = {parse_ensemble("mix=frozen,ae:ssim", "--ensemble")};
  CHECK_THROWS_WITH_AS(run_benchmark(o), doctest::Contains("ae gives no score 'ssim' (mse)"), Error);
}
