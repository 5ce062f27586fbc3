// test_openset.cpp — tests for open-set recognition: k-means, purity, the adjusted Rand index
// and PCA against scikit-learn (tests/fixtures/make_openset.py); the class centres, the
// threshold and the open-set scores from their definitions on hand-checkable cases; the
// open-set split; bad --unknown lists; a whole run on the synthetic data set, and the
// `kizuki openset` command on a tiny Fashion-MNIST split (skipped without the data).
// Shape letters: N rows, F features, k clusters, K known classes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <vector>

#include "anomaly/kmeans.h"
#include "anomaly/openset.h"
#include "anomaly/pca.h"
#include "tensor/file_io.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/shell.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using kz::Error;
using kz::Tensor;

namespace {

const kz::Safetensors& fixture() {
  static const kz::Safetensors st = kz::load_safetensors(KZ_FIXTURES "/openset.safetensors");
  return st;
}

std::vector<int64_t> ints(const Tensor& t) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<int64_t>(t.data()[i]));
  return out;
}

Tensor row(const Tensor& t, int64_t r) {
  const int64_t m = t.size(1);
  return Tensor::from_data(t.contiguous().data() + r * m, {m});
}

// Every tag of an SVG/HTML text names each of its attributes once (XML requires it).
bool attributes_unique(const std::string& text) {
  size_t at = 0;
  while ((at = text.find('<', at)) != std::string::npos) {
    const size_t end = text.find('>', at);
    if (end == std::string::npos) return false;
    const std::string tag = text.substr(at, end - at);
    std::set<std::string> names;
    size_t eq = 0;
    while ((eq = tag.find("=\"", eq)) != std::string::npos) {
      size_t b = eq;
      while (b > 0 && tag[b - 1] != ' ') --b;
      if (!names.insert(tag.substr(b, eq - b)).second) return false;
      eq = tag.find('"', eq + 2);
      if (eq == std::string::npos) break;
      ++eq;
    }
    at = end;
  }
  return true;
}

kz::TrainTest synthetic_pair() { return {kz::test::synthetic(30, 1), kz::test::synthetic(20, 2)}; }

}  // namespace

TEST_CASE("kmeans: Lloyd from given centres ends where scikit-learn's KMeans does") {
  const kz::Safetensors& st = fixture();
  const kz::KMeansResult r = kz::kmeans_lloyd(st.at("km_x"), st.at("km_init"));
  CHECK(r.labels == ints(st.at("km_labels")));
  const Tensor want = st.at("km_centres");
  REQUIRE(r.centres.shape() == want.shape());
  for (int64_t i = 0; i < want.numel(); ++i)
    CHECK(r.centres.data()[i] == doctest::Approx(want.data()[i]).epsilon(1e-5));
  CHECK(r.inertia == doctest::Approx(st.at("km_inertia").data()[0]).epsilon(1e-5));
  CHECK(r.iterations > 1);  // the start was poor: Lloyd had to move
}

TEST_CASE("kmeans: restarts from k-means++ find well-separated groups, the same for a seed") {
  // Three tight groups of 5 rows far apart: every good run labels them by group.
  std::vector<float> v;
  std::vector<int64_t> group;
  kz::Generator noise(3);
  for (int g = 0; g < 3; ++g)
    for (int i = 0; i < 5; ++i) {
      v.push_back(static_cast<float>(10 * g) + noise.uniform(-0.5f, 0.5f));
      v.push_back(static_cast<float>(-7 * g) + noise.uniform(-0.5f, 0.5f));
      group.push_back(g);
    }
  const Tensor x = Tensor::from_vector(v, {15, 2});
  kz::Generator a(7), b(7);
  const kz::KMeansResult ra = kz::kmeans(x, kz::KMeansOptions{3, 5, 100}, a);
  const kz::KMeansResult rb = kz::kmeans(x, kz::KMeansOptions{3, 5, 100}, b);
  CHECK(kz::adjusted_rand_index(group, ra.labels) == doctest::Approx(1.0));
  CHECK(ra.labels == rb.labels);
  CHECK(ra.inertia == rb.inertia);
  // k-means++ starts at rows of x, all different here.
  kz::Generator c(1);
  const Tensor start = kz::kmeans_plus_plus(x, 3, c);
  std::set<std::pair<float, float>> rows;
  for (int64_t m = 0; m < 3; ++m) {
    bool found = false;
    for (int64_t i = 0; i < 15; ++i)
      found |= start.data()[2 * m] == v[2 * i] && start.data()[2 * m + 1] == v[2 * i + 1];
    CHECK(found);
    rows.insert({start.data()[2 * m], start.data()[2 * m + 1]});
  }
  CHECK(rows.size() == 3);
}

TEST_CASE("kmeans: bad input is a clear error") {
  const Tensor x = Tensor::from_vector({0, 0, 1, 1, 2, 2}, {3, 2});
  kz::Generator gen(0);
  CHECK_THROWS_WITH_AS(kz::kmeans(x, kz::KMeansOptions{4, 1, 10}, gen),
                       doctest::Contains("need 1 ≤ k ≤ N"), Error);
  CHECK_THROWS_WITH_AS(kz::kmeans(x, kz::KMeansOptions{0, 1, 10}, gen),
                       doctest::Contains("need 1 ≤ k ≤ N"), Error);
  CHECK_THROWS_WITH_AS(kz::kmeans_lloyd(x, Tensor::from_vector({0, 0, 0}, {1, 3})),
                       doctest::Contains("centres have 3 features, the rows 2"), Error);
  const Tensor bad = Tensor::from_vector({0, NAN, 1, 1}, {2, 2});
  CHECK_THROWS_WITH_AS(kz::kmeans(bad, kz::KMeansOptions{1, 1, 10}, gen),
                       doctest::Contains("non-finite"), Error);
}

TEST_CASE("clustering scores: purity and the adjusted Rand index as scikit-learn's") {
  const kz::Safetensors& st = fixture();
  const Tensor truth = st.at("ari_truth"), pred = st.at("ari_pred");
  for (int64_t p = 0; p < truth.size(0); ++p) {
    const std::vector<int64_t> t = ints(row(truth, p)), c = ints(row(pred, p));
    CHECK(kz::adjusted_rand_index(t, c) == doctest::Approx(st.at("ari").data()[p]).epsilon(1e-5));
    CHECK(kz::cluster_purity(t, c) == doctest::Approx(st.at("purity").data()[p]).epsilon(1e-6));
  }
  // By hand: clusters {0,1,2 | 3}, classes {0,1 | 2,3}: purity (2 + 1) / 4; the Rand pairs
  // n_ij = (2,1;0,1): Σ C(n_ij,2) = 1, a = (2,2) → 2, b = (3,1) → 3, E = 2·3/6 = 1, max 2.5:
  // ARI (1 − 1)/(2.5 − 1) = 0.
  CHECK(kz::cluster_purity({5, 5, 6, 6}, {0, 0, 0, 1}) == doctest::Approx(0.75));
  CHECK(kz::adjusted_rand_index({5, 5, 6, 6}, {0, 0, 0, 1}) == doctest::Approx(0.0));
  CHECK(kz::adjusted_rand_index({1, 1, 1}, {4, 4, 4}) == 1.0);
  CHECK_THROWS_WITH_AS(kz::adjusted_rand_index({1, 2}, {1}),
                       doctest::Contains("non-empty and of equal length"), Error);
  CHECK_THROWS_WITH_AS(kz::cluster_purity({}, {}), doctest::Contains("non-empty"), Error);
}

TEST_CASE("pca: the projection and variances of scikit-learn's PCA, up to sign") {
  const kz::Safetensors& st = fixture();
  for (const char* name : {"pca_wide", "pca_tall"}) {
    CAPTURE(name);
    const Tensor x = st.at(name);
    const Tensor want = st.at(std::string(name) + "_proj");
    const Tensor var = st.at(std::string(name) + "_var");
    const kz::Pca pca = kz::fit_pca(x, 2);
    const Tensor got = pca.project(x);
    REQUIRE(got.shape() == want.shape());
    for (int64_t c = 0; c < 2; ++c) {
      CHECK(pca.variance.data()[c] == doctest::Approx(var.data()[c]).epsilon(1e-4));
      // One sign per component, the same for every row.
      const double sign = got.data()[c] * want.data()[c] >= 0 ? 1.0 : -1.0;
      for (int64_t i = 0; i < x.size(0); ++i)
        CHECK(sign * got.data()[i * 2 + c] ==
              doctest::Approx(want.data()[i * 2 + c]).epsilon(1e-4).scale(1.0));
      double norm = 0.0;
      for (int64_t j = 0; j < x.size(1); ++j)
        norm += static_cast<double>(pca.components.data()[c * x.size(1) + j]) *
                pca.components.data()[c * x.size(1) + j];
      CHECK(norm == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
  CHECK_THROWS_WITH_AS(kz::fit_pca(Tensor::from_vector({1, 2}, {1, 2}), 1),
                       doctest::Contains("at least 2 rows"), Error);
  CHECK_THROWS_WITH_AS(kz::fit_pca(Tensor::from_vector({1, 2, 3, 4}, {2, 2}), 3),
                       doctest::Contains("need 1 ≤ d ≤ min(N, F)"), Error);
}

TEST_CASE("openset: class centres are means of unit features; the nearest by cosine") {
  // Rows (1,0), (3,0) of class 0 and (0,2) of class 1: centres (1,0) and (0,1).
  const Tensor f = Tensor::from_vector({1, 0, 3, 0, 0, 2}, {3, 2});
  const Tensor c = kz::class_centres(f, {0, 0, 1}, 2);
  CHECK(std::vector<float>(c.data(), c.data() + 4) == std::vector<float>{1, 0, 0, 1});
  // A class's centre is the mean of unit vectors, so (1,0) and (0,1) give (0.5, 0.5).
  const Tensor c2 = kz::class_centres(Tensor::from_vector({2, 0, 0, 5}, {2, 2}), {0, 0}, 1);
  CHECK(std::vector<float>(c2.data(), c2.data() + 2) == std::vector<float>{0.5f, 0.5f});
  std::vector<int64_t> pred;
  std::vector<double> cosine;
  kz::nearest_centre(Tensor::from_vector({1, 1, -1, 3, 2, -4}, {3, 2}), c, pred, cosine);
  CHECK(pred == std::vector<int64_t>{0, 1, 0});  // a tie goes to the lower class
  CHECK(cosine[0] == doctest::Approx(1 / std::sqrt(2.0)));
  CHECK(cosine[1] == doctest::Approx(3 / std::sqrt(10.0)));
  CHECK(cosine[2] == doctest::Approx(2 / std::sqrt(20.0)));
  CHECK_THROWS_WITH_AS(kz::class_centres(f, {0, 0, 0}, 2), doctest::Contains("class 1 has no"),
                       Error);
}

TEST_CASE("openset: the threshold keeps the true-known rate of the held-out scores") {
  // 20 scores 0.05, 0.10, …, 1.00 (shuffled): 95 % kept means one below: t = 0.10.
  std::vector<double> s;
  for (int i = 20; i >= 1; --i) s.push_back(0.05 * i);
  std::swap(s[3], s[17]);
  CHECK(kz::known_rate_threshold(s, 0.95) == doctest::Approx(0.10));
  CHECK(kz::known_rate_threshold(s, 1.0) == doctest::Approx(0.05));   // keep all: the minimum
  CHECK(kz::known_rate_threshold(s, 0.5) == doctest::Approx(0.55));   // 10 below 0.55
  // 10 scores: 95 % of 10 is 9.5, so all 10 are kept (⌊0.5⌋ = 0 below).
  CHECK(kz::known_rate_threshold({3, 1, 2, 5, 4, 6, 8, 7, 9, 10}, 0.95) == 1.0);
  CHECK_THROWS_WITH_AS(kz::known_rate_threshold({}, 0.95), doctest::Contains("no held-out"),
                       Error);
  CHECK_THROWS_WITH_AS(kz::known_rate_threshold({1.0}, 0.0), doctest::Contains("not in (0, 1]"),
                       Error);
}

TEST_CASE("openset: the scores and the confusion matrix from their definitions") {
  // K = 2 known classes; label 2 = unknown; threshold 0.5 flags images 2 and 3.
  const std::vector<int64_t> truth{0, 0, 1, 2, 2}, pred{0, 1, 1, 0, 1};
  const std::vector<double> cosine{0.9, 0.8, 0.3, 0.2, 0.7};
  const kz::OpenSetMetrics m = kz::open_set_metrics(truth, pred, cosine, 0.5, 2);
  CHECK(m.closed_set_accuracy == doctest::Approx(2.0 / 3.0));  // images 0 and 2
  CHECK(m.true_known_rate == doctest::Approx(2.0 / 3.0));      // image 2 flagged
  CHECK(m.unknown_detection_rate == doctest::Approx(0.5));     // image 3 flagged, 4 not
  CHECK(m.open_set_accuracy == doctest::Approx(2.0 / 5.0));    // images 0 and 3
  // 1 − cosine: unknown 0.8 beats all three known, 0.3 beats two of them: 5 of 6 pairs.
  CHECK(m.auroc == doctest::Approx(5.0 / 6.0));
  const std::vector<std::vector<int64_t>> want{{1, 1, 0}, {0, 0, 1}, {0, 1, 1}};
  CHECK(m.confusion == want);
  CHECK_THROWS_WITH_AS(kz::open_set_metrics({0, 1}, {0, 1}, {0.9, 0.9}, 0.5, 2),
                       doctest::Contains("known and unknown images"), Error);
  CHECK_THROWS_WITH_AS(kz::open_set_metrics({0, 2}, {0, 2}, {0.9, 0.9}, 0.5, 2),
                       doctest::Contains("predicted class 2"), Error);
}

TEST_CASE("openset: the split's sets, labels and draws") {
  const kz::TrainTest data = synthetic_pair();
  const kz::OpenSetSplit s = kz::openset_split(data, {8, 3}, 20, 10, 5, 7, 11);
  CHECK(s.known_classes == std::vector<int64_t>{0, 1, 2, 4, 5, 6, 7, 9});
  CHECK(s.unknown_classes == std::vector<int64_t>{3, 8});
  const kz::BenchmarkSplit& t = s.training;
  CHECK(t.reference.size() == 7 * 20);
  CHECK(t.normal_train.size() == 20);
  CHECK(t.reference.num_classes() == 8);
  CHECK(t.reference.class_names.back() == "c9");
  CHECK(t.normal_train.labels.front() == 7);
  CHECK(t.test.size() == 0);
  CHECK(s.held_out.size() == 8 * 10);
  // No held-out image is trained on; every training and held-out image is of its label's class.
  std::set<int64_t> trained(t.reference_index.begin(), t.reference_index.end());
  trained.insert(t.normal_train_index.begin(), t.normal_train_index.end());
  CHECK(trained.size() == 160);
  for (size_t i = 0; i < s.held_out_index.size(); ++i) {
    CHECK(trained.count(s.held_out_index[i]) == 0);
    CHECK(data.train.labels[static_cast<size_t>(s.held_out_index[i])] ==
          s.known_classes[static_cast<size_t>(s.held_out.labels[i])]);
  }
  for (size_t i = 0; i < t.reference_index.size(); ++i)
    CHECK(data.train.labels[static_cast<size_t>(t.reference_index[i])] ==
          s.known_classes[static_cast<size_t>(t.reference.labels[i])]);
  CHECK(s.test.size() == 8 * 5 + 2 * 7);
  CHECK(s.test.class_names.back() == "unknown");
  for (size_t i = 0; i < s.test_index.size(); ++i) {
    CHECK(data.test.labels[static_cast<size_t>(s.test_index[i])] == s.test_original[i]);
    const bool unknown = s.test_original[i] == 3 || s.test_original[i] == 8;
    if (unknown)
      CHECK(s.test.labels[i] == 8);
    else
      CHECK(s.known_classes[static_cast<size_t>(s.test.labels[i])] == s.test_original[i]);
  }
  const kz::OpenSetSplit again = kz::openset_split(data, {3, 8}, 20, 10, 5, 7, 11);
  CHECK(again.test_index == s.test_index);
  CHECK(again.held_out_index == s.held_out_index);
  CHECK(kz::openset_split(data, {3, 8}, 20, 10, 5, 7, 12).test_index != s.test_index);
  CHECK_THROWS_WITH_AS(kz::openset_split(data, {3}, 25, 10, 5, 7, 0),
                       doctest::Contains("10 held-out (beside the training ones) images of "
                                         "class 0 ('c0') wanted, only 5"),
                       Error);
}

TEST_CASE("openset: a bad --unknown list is a clear error") {
  const std::vector<std::string> names = synthetic_pair().train.class_names;
  CHECK(kz::parse_unknown_classes("c7,c2", names, "--unknown") == std::vector<int64_t>{2, 7});
  CHECK(kz::parse_unknown_classes("4", names, "--unknown") == std::vector<int64_t>{4});
  CHECK_THROWS_WITH_AS(kz::parse_unknown_classes("c1,zebra", names, "--unknown"),
                       doctest::Contains("[--unknown] 'zebra' is not a class: the classes are "
                                         "c0, c1"),
                       Error);
  CHECK_THROWS_WITH_AS(kz::parse_unknown_classes("", names, "--unknown"),
                       doctest::Contains("no unknown class given"), Error);
  CHECK_THROWS_WITH_AS(kz::parse_unknown_classes(",", names, "--unknown"),
                       doctest::Contains("no unknown class given"), Error);
  CHECK_THROWS_WITH_AS(kz::parse_unknown_classes("c3,c5,c3", names, "--unknown"),
                       doctest::Contains("class 'c3' is listed twice"), Error);
  CHECK_THROWS_WITH_AS(kz::parse_unknown_classes("c3,3", names, "--unknown"),
                       doctest::Contains("class 'c3' is listed twice"), Error);
  CHECK_THROWS_WITH_AS(
      kz::parse_unknown_classes("c0,c1,c2,c3,c4,c5,c6,c7,c8,c9", names, "--unknown"),
      doctest::Contains("10 of the 10 classes are unknown: at least two must stay known"), Error);
  CHECK_THROWS_WITH_AS(
      kz::parse_unknown_classes("c0,c1,c2,c3,c4,c5,c6,c7,c8", names, "--unknown"),
      doctest::Contains("9 of the 10 classes are unknown"), Error);
}

TEST_CASE("openset: a whole run on the synthetic classes classifies, flags and clusters") {
  kz::OpenSetOptions o;
  o.dataset = "synthetic";
  o.unknown = "c3,c8";
  o.method.name = "arcface";
  o.method.width = 0.25;
  o.method.preprocess.height = o.method.preprocess.width = 16;
  o.method.preprocess.scaling = kz::Scaling::unit;
  o.method.epochs = 3;
  o.method.batch_size = 16;
  o.method.lr = 1e-3;
  o.n_train_per_class = 20;
  o.n_held_out_per_class = 10;
  o.n_test_known_per_class = 5;
  o.n_test_unknown_per_class = 15;
  o.kmeans_restarts = 3;
  int stages = 0;
  kz::OpenSetCallbacks cb;
  cb.stage = [&](const std::string&) { ++stages; };
  const kz::OpenSetResult r = kz::run_openset(o, synthetic_pair(), cb);
  // Training, embedding, and clustering when at least 3 images were flagged (how many are
  // depends on the arithmetic: the ASan build flagged fewer).
  CHECK(stages == (r.modes.skipped.empty() ? 3 : 2));
  CHECK(r.modes.skipped.empty() == (r.modes.k > 0));
  CHECK(r.predictions.size() == 8 * 5 + 2 * 15);
  CHECK(r.held_out_known_rate >= 0.95);
  // The classes are easy: the classifier must beat chance (1/8) by far.
  CHECK(r.metrics.closed_set_accuracy > 0.5);
  int64_t total = 0;
  for (const auto& line : r.metrics.confusion)
    for (int64_t v : line) total += v;
  CHECK(total == 70);
  // Each prediction agrees with the threshold, and the flagged ones are all clustered.
  int64_t flagged = 0;
  for (const kz::OpenSetPrediction& p : r.predictions) {
    CHECK(p.flagged == (p.max_cosine < r.threshold));
    flagged += p.flagged;
    if (r.modes.k > 0) CHECK((p.cluster >= 0) == p.flagged);
  }
  CHECK(r.modes.flagged == flagged);
  if (r.modes.k > 0) {
    CHECK(r.modes.k == 2);
    CHECK(r.modes.purity > 0.0);
    CHECK(r.modes.purity <= 1.0);
  }
  const kz::test::TempDir dir("openset");
  kz::write_openset_report(dir.path.string(), r);
  for (const char* f : {"results.json", "predictions.csv", "confusion.svg", "report.html"})
    CHECK(std::filesystem::exists(dir / f));
  CHECK(attributes_unique(kz::read_file(dir / "report.html")));
  if (r.modes.k > 0) CHECK(attributes_unique(kz::read_file(dir / "clusters.svg")));
  const std::string csv = kz::read_file(dir / "predictions.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 71);
  const nlohmann::json j = nlohmann::json::parse(kz::read_file(dir / "results.json"));
  CHECK(j.at("metrics").at("auroc").get<double>() == r.metrics.auroc);
  CHECK(j.at("unknown_classes") == nlohmann::json({"c3", "c8"}));
  CHECK_THROWS_WITH_AS(
      [&] {
        kz::OpenSetOptions bad = o;
        bad.method.name = "ae";
        kz::run_openset(bad, synthetic_pair());
      }(),
      doctest::Contains("--method ae does not classify"), Error);
}

TEST_CASE("openset: `kizuki openset` on a tiny Fashion-MNIST split") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist")) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const kz::test::TempDir dir("openset_cli");
  const std::string base = std::string(KZ_KIZUKI) +
                           " openset --dataset fashion-mnist --method l2softmax --width 0.25 "
                           "--image-size 16 --epochs 1 --batch 16 --threads 1 "
                           "--train-per-class 16 --held-out-per-class 8 "
                           "--test-known-per-class 4 --test-unknown-per-class 10 "
                           "--kmeans-restarts 2 --center --out " + dir.path.string();
  const kz::test::Ran ok = kz::test::shell(base + " --unknown Sandal,Bag");
  CHECK_MESSAGE(ok.status == 0, ok.output);
  CHECK(ok.output.find("closed-set accuracy") != std::string::npos);
  CHECK(ok.output.find("\r") == std::string::npos);  // no live progress without a terminal
  for (const char* f : {"results.json", "predictions.csv", "confusion.svg", "report.html"})
    CHECK(std::filesystem::exists(dir / f));
  const kz::test::Ran bad = kz::test::shell(base + " --unknown Sandal,Zebra");
  CHECK(bad.status != 0);
  CHECK(bad.output.find("'Zebra' is not a class") != std::string::npos);
}
