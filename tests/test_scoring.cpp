// test_scoring.cpp — anomaly scoring: LOF, the k-NN search, the cosine and k-NN scorers,
// the scalers and ROC/AUC, and the benchmark's scoring variants (centring, k, their labels).
//
// References come from scikit-learn 1.2 and NumPy (tests/fixtures/make_scoring.py writes
// scoring.safetensors): LocalOutlierFactor(novelty=True) scores and training LOF on sets with
// clusters far from the origin, exact duplicate points, k larger than N-1 and 64 features;
// NearestNeighbors distances; cosine scores; MinMaxScaler/StandardScaler outputs (and
// StandardScaler(with_std=False), the centring scaler);
// roc_auc_score and roc_curve with ties. The k-NN search is also checked against a brute-force
// double-precision search written here, for several GEMM block sizes.
// Shape letters: N fitted samples, M scored samples, D features, k neighbours.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "anomaly/experiment.h"
#include "anomaly/gaussian_density.h"
#include "anomaly/lof.h"
#include "anomaly/roc.h"
#include "anomaly/scalers.h"
#include "anomaly/scorers.h"
#include "tensor/generator.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"

using kz::Tensor;

using kz::test::error_of;

namespace {

const kz::Safetensors& fixture() {
  static const kz::Safetensors st = kz::load_safetensors(KZ_FIXTURES "/scoring.safetensors");
  return st;
}
const Tensor& fx(const std::string& name) { return fixture().at(name); }

std::vector<double> doubles(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return {v.begin(), v.end()};
}

// |actual - expected| <= atol + rtol |expected| everywhere.
void check_close(const std::vector<double>& actual, const std::vector<double>& expected,
                 const std::string& what, double rtol = 1e-5, double atol = 0) {
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO("index " << i << ": " << actual[i] << " vs expected " << expected[i]);
    CHECK(std::abs(actual[i] - expected[i]) <= atol + rtol * std::abs(expected[i]));
  }
}

void check_error(const std::string& message, const std::string& prefix,
                 const std::string& part) {
  INFO(message);
  CHECK(message.rfind(prefix, 0) == 0);
  CHECK(message.find(part) != std::string::npos);
}

// Brute-force k nearest base rows of each query row in double, ties to the lower index.
// query is (M,D), base is (N,D); exclude_self skips base row i for query row i.
kz::Neighbors brute_knn(const Tensor& query, const Tensor& base, int64_t k, bool exclude_self) {
  const int64_t m = query.size(0), n = base.size(0), d = base.size(1);
  const std::vector<float> q = query.to_vector(), b = base.to_vector();
  kz::Neighbors nb;
  nb.rows = m, nb.k = k;
  for (int64_t i = 0; i < m; ++i) {
    std::vector<std::pair<double, int64_t>> all;
    for (int64_t j = 0; j < n; ++j) {
      if (exclude_self && i == j) continue;
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += std::pow(double(q[i * d + c]) - b[j * d + c], 2);
      all.push_back({std::sqrt(s), j});
    }
    std::sort(all.begin(), all.end());
    for (int64_t j = 0; j < k; ++j)
      nb.distance.push_back(all[j].first), nb.index.push_back(all[j].second);
  }
  return nb;
}

const std::vector<std::pair<std::string, std::vector<int>>> kLofSets = {
    {"blobs", {1, 5, 20}}, {"dups", {2, 5, 10}}, {"small", {3, 20}}, {"pair", {1, 20}},
    {"wide", {5, 20}}};

}  // namespace

TEST_CASE("scoring: LOF novelty scores match scikit-learn") {
  for (const auto& [set, ks] : kLofSets) {
    const Tensor& train = fx("lof/" + set + "/train");
    const Tensor& test = fx("lof/" + set + "/test");
    for (int k : ks) {
      const std::string key = "lof/" + set + "/k" + std::to_string(k);
      // Block size 0 = automatic (one block here); 7 rows exercises the blocked and
      // symmetric (half-GEMM) paths of the search.
      for (int64_t block_rows : {0, 7}) {
        INFO(key << ", block_rows " << block_rows);
        kz::Lof lof(k, block_rows);
        lof.fit(train);
        CHECK(lof.k() == int64_t(fx(key + "/k_used").item()));
        check_close(lof.lof(test), doubles(fx(key + "/score")), key + "/score");
        check_close(lof.training_lof(), doubles(fx(key + "/train_lof")), key + "/train_lof");
        const Tensor score = lof.score(test), samples = lof.score_samples(test);
        REQUIRE(score.shape() == kz::Shape{test.size(0)});
        for (int64_t i = 0; i < score.numel(); ++i)
          CHECK(samples.data()[i] == -score.data()[i]);
      }
    }
  }
}

TEST_CASE("scoring: LOF gives duplicates lrd 1e10 and flags points beside them") {
  // dups: one point occurs 8 times, so with k = 5 its k-distance is exactly 0.
  kz::Lof lof(5);
  lof.fit(fx("lof/dups/train"));
  const auto max_lrd = *std::max_element(lof.lrd().begin(), lof.lrd().end());
  CHECK(max_lrd == doctest::Approx(1e10));
  const std::vector<double> s = lof.lof(fx("lof/dups/test"));
  CHECK(s[0] == doctest::Approx(1.0));  // an exact copy of the repeated point
  CHECK(s[3] > 1e7);                    // 0.01 away from it in each coordinate
}

TEST_CASE("scoring: k-NN search matches a brute-force search for any block size") {
  kz::Generator gen(7);
  Tensor base = Tensor::normal({150, 40}, 3.0f, 1.0f, gen);
  Tensor query = Tensor::normal({37, 40}, 3.0f, 1.5f, gen);
  for (int64_t r : {5, 6, 7}) base.select(0, 100 + r).copy_(base.select(0, 3));  // duplicates
  query.select(0, 0).copy_(base.select(0, 3));
  const kz::Neighbors want = brute_knn(query, base, 9, false);
  const kz::Neighbors want_self = brute_knn(base, base, 9, true);
  for (int64_t block_rows : {0, 1, 16, 64}) {
    INFO("block_rows " << block_rows);
    const kz::KnnIndex index(base, block_rows);
    const kz::Neighbors got = index.search(query, 9), got_self = index.search_self(9);
    CHECK(got.index == want.index);
    CHECK(got_self.index == want_self.index);
    check_close(got.distance, want.distance, "search", 1e-12, 1e-12);
    check_close(got_self.distance, want_self.distance, "search_self", 1e-12, 1e-12);
  }
}

namespace {

// Checks the search and the self search of `base` for `query` against brute_knn, for the
// automatic tile size and a few small ones.
void check_search(const Tensor& base, const Tensor& query, int64_t k) {
  const kz::Neighbors want = brute_knn(query, base, k, false);
  const kz::Neighbors want_self = brute_knn(base, base, k, true);
  for (int64_t block_rows : {0, 5, 32}) {
    INFO("block_rows " << block_rows << ", k " << k);
    const kz::KnnIndex index(base, block_rows);
    const kz::Neighbors got = index.search(query, k), got_self = index.search_self(k);
    CHECK(got.index == want.index);
    CHECK(got_self.index == want_self.index);
    check_close(got.distance, want.distance, "search", 1e-12, 1e-12);
    check_close(got_self.distance, want_self.distance, "search_self", 1e-12, 1e-12);
  }
}

}  // namespace

TEST_CASE("scoring: k-NN search stays exact where float distances cannot rank neighbours") {
  // Two clusters 2000 apart, points 0.01 apart within them: the float GEMM's error
  // (~1e-7 of |x|^2 ~ 1e7) is larger than the squared distances it must rank (~1e-3).
  kz::Generator gen(11);
  Tensor base = Tensor::normal({90, 12}, 0.0f, 0.01f, gen);
  Tensor query = Tensor::normal({20, 12}, 0.0f, 0.01f, gen);
  for (Tensor* t : {&base, &query})
    for (int64_t i = 0; i < t->size(0); ++i)
      for (int64_t j = 0; j < t->size(1); ++j) t->at({i, j}) += (i % 2 ? 1000.0f : -1000.0f);
  for (int64_t k : {1, 7}) check_search(base, query, k);
}

TEST_CASE("scoring: k-NN search with more duplicates than candidates, and exact ties") {
  // 40 copies of one point (k + pad candidates cannot hold them), then points on a small
  // integer lattice: many exactly equal distances, which go to the lower index.
  kz::Generator gen(12);
  Tensor base = Tensor::uniform({120, 3}, 0.0f, 3.0f, gen);
  for (int64_t i = 0; i < 120; ++i)
    for (int64_t j = 0; j < 3; ++j)
      base.at({i, j}) = i < 40 ? 1.5f : std::floor(base.at({i, j}));
  Tensor query = Tensor::uniform({25, 3}, 0.0f, 3.0f, gen);
  for (int64_t i = 0; i < 25; ++i)
    for (int64_t j = 0; j < 3; ++j)
      query.at({i, j}) = i < 3 ? 1.5f : std::floor(query.at({i, j})) + 0.5f;
  for (int64_t k : {3, 10, 45}) check_search(base, query, k);
}

TEST_CASE("scoring: k-NN search over several automatic query blocks matches brute force") {
  // The automatic block is about 2^22 distances: 30000 base rows give blocks of 139 query
  // rows, so 300 queries take three GEMMs (139, 139, 22 rows). Every 7th query copies a
  // base row (distance 0), and the coordinates sit on a coarse grid (exact ties).
  kz::Generator gen(13);
  Tensor base = Tensor::uniform({30000, 4}, 0.0f, 20.0f, gen);
  Tensor query = Tensor::uniform({300, 4}, 0.0f, 20.0f, gen);
  for (Tensor* t : {&base, &query})
    for (int64_t i = 0; i < t->size(0); ++i)
      for (int64_t j = 0; j < 4; ++j) t->at({i, j}) = std::floor(t->at({i, j}));
  for (int64_t i = 0; i < 300; i += 7) query.select(0, i).copy_(base.select(0, 101 * i));
  const kz::Neighbors want = brute_knn(query, base, 3, false);
  const kz::Neighbors got = kz::KnnIndex(base).search(query, 3);
  CHECK(got.index == want.index);
  check_close(got.distance, want.distance, "search", 1e-12, 1e-12);
}

TEST_CASE("scoring: k-NN scorer matches scikit-learn NearestNeighbors") {
  for (const std::string set : {"blobs", "dups"}) {
    for (int k : {1, 2, 4}) {  // 2: PANDA's and DN2's k
      const std::string key = "knn/" + set + "/k" + std::to_string(k);
      const Tensor& dist = fx(key + "/distance");  // (M,k)
      std::vector<double> kth, mean;
      for (int64_t i = 0; i < dist.size(0); ++i) {
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += dist.at({i, j});
        kth.push_back(dist.at({i, k - 1}));
        mean.push_back(s / k);
      }
      kz::KnnScorer kth_scorer(k), mean_scorer(k, kz::KnnScorer::Reduce::kMean);
      kth_scorer.fit(fx("lof/" + set + "/train"));
      mean_scorer.fit(fx("lof/" + set + "/train"));
      const Tensor& test = fx("lof/" + set + "/test");
      check_close(doubles(kth_scorer.score(test)), kth, key + " kth", 1e-5, 1e-6);
      check_close(doubles(mean_scorer.score(test)), mean, key + " mean", 1e-5, 1e-6);
    }
  }
  kz::KnnScorer big(50);  // k is clipped to N
  big.fit(fx("lof/small/train"));
  CHECK(big.k_used() == 6);
  CHECK(big.score(fx("lof/small/test")).numel() == 5);
}

TEST_CASE("scoring: cosine scorer matches NumPy") {
  const Tensor &train = fx("cos/train"), &test = fx("cos/test");
  std::vector<int64_t> labels;
  for (float v : fx("cos/labels").to_vector()) labels.push_back(int64_t(v));
  kz::CosineScorer nearest;
  nearest.fit(train);
  check_close(doubles(nearest.score(test)), doubles(fx("cos/nearest")), "nearest", 1e-5, 1e-6);
  kz::CosineScorer centres(kz::CosineScorer::Mode::kCentres);
  centres.fit(train, labels);
  CHECK(centres.references().shape() == kz::Shape{3, 16});
  check_close(doubles(centres.score(test)), doubles(fx("cos/centres")), "centres", 1e-5, 1e-6);
  centres.fit(train);  // no labels: one centre
  check_close(doubles(centres.score(test)), doubles(fx("cos/centre")), "centre", 1e-5, 1e-6);
  // Test rows 12-14 are training rows (or a multiple): score ~0; row 15 is zero: score 1.
  const Tensor s = nearest.score(test);
  CHECK(std::abs(s.data()[12]) < 1e-7);
  CHECK(s.data()[15] == 1.0f);
}

TEST_CASE("scoring: scalers match scikit-learn") {
  const Tensor &train = fx("scale/train"), &test = fx("scale/test");
  kz::MinMaxScaler minmax;
  check_close(doubles(minmax.fit_transform(train)), doubles(fx("scale/minmax/out")), "minmax",
              1e-5, 1e-6);
  check_close(doubles(minmax.transform(test)), doubles(fx("scale/minmax/test_out")),
              "minmax test", 1e-5, 1e-6);
  kz::MinMaxScaler wide(-1, 2);
  check_close(doubles(wide.fit_transform(train)), doubles(fx("scale/minmax_m1_2/out")),
              "minmax (-1, 2)", 1e-5, 1e-6);
  check_close(doubles(wide.transform(test)), doubles(fx("scale/minmax_m1_2/test_out")),
              "minmax (-1, 2) test", 1e-5, 1e-6);
  CHECK(minmax.scale()[3] == 1.0);  // the constant feature

  kz::StandardScaler standard;
  check_close(doubles(standard.fit_transform(train)), doubles(fx("scale/standard/out")),
              "standard", 1e-5, 1e-6);
  check_close(doubles(standard.transform(test)), doubles(fx("scale/standard/test_out")),
              "standard test", 1e-5, 1e-6);
  check_close(standard.mean(), doubles(fx("scale/standard/mean")), "mean", 1e-6, 1e-6);
  check_close(standard.var(), doubles(fx("scale/standard/var")), "var", 1e-5, 1e-9);
  check_close(standard.scale(), doubles(fx("scale/standard/scale")), "scale", 1e-5);

  // StandardScaler(with_std=False); scikit-learn subtracts in float32 here, so both sides are
  // good to an ulp of the inputs (about 100: 7.6e-6).
  kz::CenteringScaler center;
  check_close(doubles(center.fit_transform(train)), doubles(fx("scale/center/out")), "center",
              1e-5, 2e-5);
  check_close(doubles(center.transform(test)), doubles(fx("scale/center/test_out")),
              "center test", 1e-5, 2e-5);
  check_close(center.mean(), doubles(fx("scale/standard/mean")), "center mean", 1e-6, 1e-6);

  // State round trips, and make_scaler.
  for (const std::string name : {"none", "minmax", "standard", "center"}) {
    auto a = kz::make_scaler(name), b = kz::make_scaler(name);
    a->fit(train);
    b->load_state_dict(a->state_dict());
    check_close(doubles(b->transform(test)), doubles(a->transform(test)), name, 1e-6, 1e-6);
  }
  check_error(error_of([&] { kz::make_scaler("robust"); }), "[scaler]", "minmax");
  check_error(error_of([&] { minmax.transform(fx("cos/test")); }), "[minmax_scaler]",
              "fitted on 6");
  check_error(error_of([&] { kz::StandardScaler().transform(test); }), "[standard_scaler]",
              "before fit");
  check_error(error_of([&] { kz::MinMaxScaler(1, 1); }), "[minmax_scaler]", "low < high");
  check_error(error_of([&] { kz::CenteringScaler().transform(test); }), "[center_scaler]",
              "before fit");
  check_error(error_of([&] { kz::CenteringScaler().load_state_dict({}); }), "[center_scaler]",
              "no \"mean\"");
}

// --center: the cosine scorer fitted on x − μ (μ the mean normal training feature) against a
// direct computation: score = 1 − max_t (x−μ)·(t−μ) / (|x−μ| |t−μ|), in double, here.
TEST_CASE("scoring: centred cosine is 1 - max cosine about the training mean; k-NN ignores a shift") {
  const Tensor &train = fx("cos/train"), &test = fx("cos/test");  // (45,16), (16,16)
  const int64_t n = train.size(0), m = test.size(0), d = train.size(1);
  std::vector<double> mu(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mu[j] += train.at({i, j}) / double(n);
  std::vector<double> want;
  for (int64_t a = 0; a < m; ++a) {
    double best = -2;
    for (int64_t t = 0; t < n; ++t) {
      double dot = 0, xx = 0, tt = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double x = test.at({a, j}) - mu[j], y = train.at({t, j}) - mu[j];
        dot += x * y, xx += x * x, tt += y * y;
      }
      best = std::max(best, dot / std::sqrt(xx * tt));
    }
    want.push_back(1 - best);
  }
  const Tensor got = kz::score_features("cosine", train, test, 5, true);
  check_close(doubles(got), want, "centred cosine", 1e-5, 1e-6);
  const Tensor plain = kz::score_features("cosine", train, test, 5, false);
  CHECK(std::abs(plain.data()[0] - got.data()[0]) > 1e-3);  // centring changes the angles

  // Why --center leaves lof and knn alone: features shifted by any vector give the same
  // MinMax-scaled Euclidean distances.
  Tensor shifted_train = train.clone(), shifted_test = test.clone();
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t i = 0; i < n; ++i) shifted_train.at({i, j}) -= float(mu[j]);
    for (int64_t i = 0; i < m; ++i) shifted_test.at({i, j}) -= float(mu[j]);
  }
  for (const std::string scorer : {"knn", "lof"}) {
    INFO(scorer);
    check_close(doubles(kz::score_features(scorer, shifted_train, shifted_test, 2)),
                doubles(kz::score_features(scorer, train, test, 2)), scorer, 1e-4, 1e-5);
    CHECK(kz::scaler_for(scorer, true) == "minmax");
  }
  CHECK(kz::scaler_for("cosine", true) == "center");
  CHECK(kz::scaler_for("cosine", false) == "none");
}

TEST_CASE("scoring: results are recorded under labels that tell the variants apart") {
  kz::ExperimentOptions o;
  CHECK(kz::scorer_label("knn", o) == "knn");
  CHECK(kz::scorer_label("cosine", o) == "cosine");
  CHECK(kz::scorer_label("lof", o) == "lof");
  o.knn_neighbors = 2;
  CHECK(kz::scorer_label("knn", o) == "knn(k=2)");
  CHECK(kz::scorer_label("lof", o) == "lof");
  o.center = true;
  CHECK(kz::scorer_label("cosine", o) == "cosine(centred)");
  CHECK(kz::scorer_label("knn", o) == "knn(k=2)");  // centring changes no distance
  o.tta = "flip";
  CHECK(kz::scorer_label("knn", o) == "knn(k=2,flip)");
  CHECK(kz::scorer_label("cosine", o) == "cosine(centred,flip)");
  CHECK(kz::scorer_label("lof", o) == "lof(flip)");
}

TEST_CASE("scoring: ROC-AUC and ROC curve match scikit-learn, ties counted half") {
  for (const std::string name : {"ties", "all_tied", "perfect", "reversed", "lof_like"}) {
    INFO(name);
    const std::string key = "roc/" + name;
    const Tensor &scores = fx(key + "/scores"), &labels = fx(key + "/labels");
    const double auc = kz::roc_auc(scores, labels);
    CHECK(auc == doctest::Approx(fx(key + "/auc").item()).epsilon(1e-6));
    for (const std::string prefix : {"", "full_"}) {
      const kz::RocCurve curve = kz::roc_curve(scores, labels, prefix.empty());
      check_close(curve.fpr, doubles(fx(key + "/" + prefix + "fpr")), "fpr", 1e-6);
      check_close(curve.tpr, doubles(fx(key + "/" + prefix + "tpr")), "tpr", 1e-6);
      CHECK(std::isinf(curve.thresholds[0]));
      check_close({curve.thresholds.begin() + 1, curve.thresholds.end()},
                  doubles(fx(key + "/" + prefix + "thr")), "thresholds", 0);
      CHECK(kz::trapezoid_area(curve) == doctest::Approx(auc).epsilon(1e-12));
    }
  }
  // Exact values from the definition: one tie between classes counts half.
  CHECK(kz::roc_auc(std::vector<double>{0.1, 0.5, 0.5, 0.9}, std::vector<int>{0, 0, 1, 1}) ==
        0.875);
}

TEST_CASE("scoring: scorers save and load their state; make_scorer") {
  const Tensor &train = fx("lof/blobs/train"), &test = fx("lof/blobs/test");
  for (const std::string name : {"lof", "knn", "cosine", "cosine_centres", "gde"}) {
    INFO(name);
    auto a = kz::make_scorer(name, 3), b = kz::make_scorer(name);
    CHECK(a->name() == name);
    CHECK_FALSE(a->fitted());
    a->fit(train);
    b->load_state_dict(a->state_dict());
    CHECK(b->fitted());
    check_close(doubles(b->score(test)), doubles(a->score(test)), name, 1e-6, 1e-7);
  }
  check_error(error_of([] { kz::make_scorer("isolation_forest"); }), "[scorer]", "lof, knn");
}

TEST_CASE("scoring: bad input gives clear errors") {
  const Tensor train = fx("lof/blobs/train");  // (60, 5)
  kz::Lof lof(5);
  check_error(error_of([&] { lof.score(train); }), "[lof]", "before fit");
  check_error(error_of([] { kz::Lof(0); }), "[lof]", "n_neighbors");
  check_error(error_of([&] { lof.fit(train.narrow(0, 0, 1)); }), "[lof]", "at least 2");
  check_error(error_of([&] { lof.fit(Tensor::zeros({0, 5})); }), "[lof]", "empty");
  check_error(error_of([&] { lof.fit(Tensor::zeros({5})); }), "[lof]", "2-D");
  check_error(error_of([&] { lof.fit(Tensor()); }), "[lof]", "undefined");
  Tensor bad = train.clone();
  bad.at({4, 2}) = std::nanf("");
  check_error(error_of([&] { lof.fit(bad); }), "[lof]", "row 4, column 2");
  lof.fit(train);
  check_error(error_of([&] { lof.score(Tensor::zeros({3, 4})); }), "[lof]",
              "fitted on 5 features");
  check_error(error_of([&] { lof.score(Tensor::zeros({0, 5})); }), "[lof]", "empty");
  check_error(error_of([&] { lof.load_state_dict({}); }), "[lof]", "no \"train\"");
  check_error(error_of([&] {
                lof.load_state_dict({{"train", Tensor::zeros({1, 3})},
                                     {"n_neighbors", Tensor::full({1}, 2.0f)}});
              }),
              "[lof]", "at least 2");
  CHECK(lof.k() == 5);  // a failed load keeps the fitted state
  CHECK(lof.score(train).numel() == 60);

  const std::vector<double> s = {0.1, 0.2, 0.3};
  check_error(error_of([&] { kz::roc_auc(s, std::vector<int>{1, 1, 1}); }), "[auc]",
              "both classes");
  check_error(error_of([&] { kz::roc_auc(s, std::vector<int>{0, 2, 1}); }), "[auc]",
              "0 or 1, got 2 at index 1");
  check_error(error_of([&] { kz::roc_auc(s, std::vector<int>{0, 1}); }), "[auc]", "3 scores");
  check_error(error_of([&] { kz::roc_auc(std::vector<double>{}, std::vector<int>{}); }),
              "[auc]", "no scores");
  check_error(error_of([&] {
                kz::roc_auc(std::vector<double>{0.1, NAN}, std::vector<int>{0, 1});
              }),
              "[auc]", "not finite");
  check_error(error_of([&] { kz::roc_curve(Tensor::zeros({2}), Tensor::full({2}, 0.5f)); }),
              "[auc]", "0 or 1");
  check_error(error_of([&] { kz::roc_auc(Tensor::zeros({2, 1}), Tensor::zeros({2})); }),
              "[auc]", "1-D");
}

TEST_CASE("scoring: gde's Ledoit-Wolf fit and Mahalanobis scores match scikit-learn") {
  for (const std::string set : {"tall", "wide"}) {
    INFO(set);
    const std::string p = "gde/" + set + "/";
    const kz::LedoitWolf lw = kz::ledoit_wolf(fx(p + "train"));
    CHECK(lw.shrinkage == doctest::Approx(doubles(fx(p + "shrinkage"))[0]).epsilon(1e-6));
    check_close(doubles(lw.location), doubles(fx(p + "location")), set + " location", 1e-6, 1e-6);
    check_close(doubles(lw.covariance), doubles(fx(p + "covariance")), set + " covariance", 1e-5,
                1e-6);
    kz::GaussianDensityScorer g;
    g.fit(fx(p + "train"));
    CHECK(g.shrinkage() == lw.shrinkage);
    check_close(doubles(g.score(fx(p + "test"))), doubles(fx(p + "score")), set + " score", 1e-4,
                1e-4);
  }
  // A constant column with no shrinkage to lift it: refused, not a silent inf.
  kz::GaussianDensityScorer g;
  check_error(error_of([&] { g.score(fx("gde/tall/test")); }), "[gde]", "score() before fit()");
  const Tensor constant = Tensor::full({6, 3}, 1.0f);
  check_error(error_of([&] { g.fit(constant); }), "[gde]", "not positive definite");
  check_error(error_of([&] { kz::ledoit_wolf(Tensor::full({1, 3}, 1.0f)); }), "[ledoit_wolf]",
              "at least 2 training rows");
}
