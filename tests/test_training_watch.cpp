// test_training_watch.cpp — the proxy set (data/split.h with_proxy_set), --eval-every's proxy
// AUC, --early-stop proxy (anomaly/training_watch.h) and the training-curves figure
// (anomaly/report_curves.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "anomaly/experiment.h"
#include "anomaly/report.h"
#include "anomaly/report_curves.h"
#include "data/fashion_mnist.h"
#include "tensor/error.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;

namespace {

bool have_fashion_mnist() {
  return std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz");
}

// A few-second benchmark on Fashion-MNIST: tiny network, tiny split, `epochs` epochs.
ExperimentOptions tiny_run(const std::string& method, int64_t epochs) {
  ExperimentOptions e = preset_options("quick", "fashion-mnist", {method}, "");
  for (MethodOptions& m : e.method_options) {
    m.width = 0.25;
    m.preprocess.height = m.preprocess.width = 16;
    m.epochs = epochs;
    m.batch_size = 16;
  }
  e.trials = 1;
  e.n_reference_per_class = 4;
  e.n_normal_train = e.n_test_each = 40;
  e.scorers = {"cosine", "knn"};
  e.eval_every = 1;
  e.proxy_each = 40;
  return e;
}

struct Stop {};  // thrown from a progress callback: the "kill" of an in-process run

}  // namespace

TEST_CASE("with_proxy_set: held-out normals and reference-class images no other set holds") {
  const TrainTest data{kz::test::synthetic(30, 1), kz::test::synthetic(20, 2)};
  const BenchmarkSplit split = benchmark_split(data, 3, 8, 10, 12, 20, 5);
  const BenchmarkSplit p = with_proxy_set(data, split, 3, 7, 5);
  REQUIRE(p.proxy.size() == 14);
  REQUIRE(p.proxy_index.size() == 14);
  const std::set<int64_t> normal_train(split.normal_train_index.begin(), split.normal_train_index.end());
  const std::set<int64_t> reference(split.reference_index.begin(), split.reference_index.end());
  const std::set<int64_t> proxy(p.proxy_index.begin(), p.proxy_index.end());
  CHECK(proxy.size() == 14);  // no image twice
  for (size_t k = 0; k < p.proxy_index.size(); ++k) {
    const int64_t i = p.proxy_index[k];
    CAPTURE(i);
    CHECK(normal_train.count(i) == 0);
    CHECK(reference.count(i) == 0);
    const int64_t cls = data.train.labels[static_cast<size_t>(i)];
    if (k < 7) {
      CHECK(p.proxy.labels[k] == 0);
      CHECK(cls == 3);
    } else {
      CHECK(p.proxy.labels[k] == 1);
      CHECK(std::count(split.reference_classes.begin(), split.reference_classes.end(), cls) == 1);
    }
  }
  // Every other set is the protocol's, unchanged; the same seed draws the same proxy set.
  CHECK(p.normal_train_index == split.normal_train_index);
  CHECK(p.reference_index == split.reference_index);
  CHECK(p.test_index == split.test_index);
  CHECK(with_proxy_set(data, split, 3, 7, 5).proxy_index == p.proxy_index);
  CHECK(with_proxy_set(data, split, 3, 7, 6).proxy_index != p.proxy_index);
  // 30 − 12 = 18 normals are left: more is clipped to what is there, of each kind alike.
  CHECK(with_proxy_set(data, split, 3, 100, 5).proxy.size() == 36);
  CHECK(with_proxy_set(data, split, 3, 0, 5).proxy.size() == 0);
  CHECK_THROWS_AS(with_proxy_set(data, split, 3, -1, 5), Error);
}

TEST_CASE("early stop: the kept weights are the evaluation with the best proxy AUC (skipped without Fashion-MNIST)") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: no Fashion-MNIST in " << kFashionMnistDir);
    return;
  }
  ExperimentOptions e = tiny_run("l2softmax", 3);
  e.early_stop = "proxy";
  const BenchmarkResults stopped = run_benchmark(e);
  REQUIRE(stopped.trials.size() == 2);
  const std::vector<CurvePoint>& first = stopped.trials[0].curve;  // cosine: the chooser
  REQUIRE(first.size() == 4);                                     // epochs 0 … 3
  int64_t best = 0;
  for (size_t k = 0; k < first.size(); ++k) {
    CHECK(first[k].epoch == static_cast<int64_t>(k));
    CHECK(first[k].proxy_auc >= 0.0);
    CHECK(first[k].proxy_auc <= 1.0);
    if (first[k].proxy_auc > first[static_cast<size_t>(best)].proxy_auc) best = static_cast<int64_t>(k);
  }
  for (size_t s = 0; s < 2; ++s) {
    const TrialResult& t = stopped.trials[s];
    CAPTURE(t.scorer);
    CHECK(t.chosen_epoch == best);
    // The recorded AUC is the chosen epoch's: the weights really were put back.
    CHECK(t.auc == t.curve[static_cast<size_t>(best)].auc);
  }
  // A proxy set that can tell: the untrained network is not the best at every epoch.
  CHECK(first.front().proxy_auc != first.back().proxy_auc);
}

TEST_CASE("early stop: a run stopped and resumed keeps the same epoch and AUC (skipped without Fashion-MNIST)") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: no Fashion-MNIST in " << kFashionMnistDir);
    return;
  }
  ExperimentOptions e = tiny_run("l2softmax", 3);
  e.early_stop = "proxy";
  e.scorers = {"cosine"};
  const BenchmarkResults whole = run_benchmark(e);
  const kz::test::TempDir dir("early_stop_resume");
  e.out_dir = dir.path.string();
  e.resume = true;
  ExperimentCallbacks stop;
  stop.progress = [](int, const std::string&, const TrainProgress& p) {
    if (p.epoch == 2 && p.batch == 0) throw Stop{};
  };
  CHECK_THROWS_AS(run_benchmark(e, stop), Stop);
  CHECK(std::filesystem::exists(dir.path / "checkpoints" / "trial0-l2softmax.best"));
  const BenchmarkResults resumed = run_benchmark(e);
  REQUIRE(resumed.trials.size() == 1);
  CHECK(resumed.trials[0].chosen_epoch == whole.trials[0].chosen_epoch);
  CHECK(resumed.trials[0].auc == whole.trials[0].auc);
  // The resumed run saw epochs 2 and 3 (its checkpoint was after epoch 2).
  REQUIRE(resumed.trials[0].curve.size() == 2);
  CHECK(resumed.trials[0].curve[0].epoch == 2);
  CHECK(resumed.trials[0].curve[0].auc == whole.trials[0].curve[2].auc);
  CHECK(std::isnan(resumed.trials[0].curve[0].weight_distance));  // θ0 was not seen
  CHECK_FALSE(std::filesystem::exists(dir.path / "checkpoints" / "trial0-l2softmax.best"));
  // The report draws the curves.
  write_report(e.out_dir, resumed);
  CHECK(std::filesystem::exists(dir.path / "training_curves.svg"));
}

TEST_CASE("early stop and the proxy set: bad settings are refused") {
  ExperimentOptions e = preset_options("quick", "fashion-mnist", {"l2softmax"}, "");
  e.early_stop = "best";
  CHECK_THROWS_WITH_AS(run_benchmark(e), doctest::Contains("--early-stop must be 'none' or 'proxy'"), Error);
  e.early_stop = "proxy";
  e.eval_every = 0;
  CHECK_THROWS_WITH_AS(run_benchmark(e), doctest::Contains("give --eval-every"), Error);
  e.early_stop = "none";
  e.eval_every = 1;
  e.proxy_each = -3;
  CHECK_THROWS_WITH_AS(run_benchmark(e), doctest::Contains("--proxy-size must be >= 0"), Error);
}

TEST_CASE("training curves figure: a panel row per dataset, a line per method and scorer") {
  BenchmarkResults r;
  CHECK_FALSE(has_curves(r));
  CHECK(curves_figure(r).element().find("no curves") != std::string::npos);
  for (int t = 0; t < 3; ++t)
    for (const char* scorer : {"cosine", "knn"}) {
      TrialResult row;
      row.dataset = "fashion-mnist";
      row.method = "panda";
      row.scorer = scorer;
      row.trial = t;
      row.chosen_epoch = 1;
      for (int64_t epoch = 0; epoch <= 2; ++epoch) {
        CurvePoint p;
        p.epoch = epoch;
        p.auc = 0.8 + 0.01 * static_cast<double>(epoch + t);
        p.proxy_auc = 0.7;
        p.mean_cosine = 0.1 * static_cast<double>(epoch);
        p.effective_rank = 10.0 - static_cast<double>(epoch);
        p.weight_distance = static_cast<double>(epoch);
        row.curve.push_back(p);
      }
      r.trials.push_back(row);
    }
  REQUIRE(has_curves(r));
  const std::string svg = curves_figure(r).element();
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t at = svg.find(s); at != std::string::npos; at = svg.find(s, at + 1)) ++n;
    return n;
  };
  CHECK(count(R"(class="panel" data-dataset="fashion-mnist")") == 5);
  // Two AUC panels with a line per scorer, three diagnostics panels with one for the method.
  CHECK(count(R"(data-line="panda · cosine")") == 2);
  CHECK(count(R"(data-line="panda · knn")") == 2);
  CHECK(count(R"(data-line="panda")") == 3);
  CHECK(report_html(r).find("Training curves") != std::string::npos);
  // Valid XML: no element repeats an attribute (a repeated fill= once made it unreadable).
  const std::regex tag("<[a-z]+((?:\\s+[a-z-]+=\"[^\"]*\")*)\\s*/?>"), attr("([a-z-]+)=\"");
  for (auto t = std::sregex_iterator(svg.begin(), svg.end(), tag); t != std::sregex_iterator(); ++t) {
    const std::string attrs = (*t)[1];
    std::set<std::string> names;
    for (auto a = std::sregex_iterator(attrs.begin(), attrs.end(), attr); a != std::sregex_iterator(); ++a) {
      CAPTURE(t->str());
      CHECK(names.insert((*a)[1]).second);
    }
  }
}
