// test_iforest.cpp — tests for anomaly/iforest.h: c(n) from its definition, path lengths and
// scores on tiny cases where every tree is forced, the depth cap, the arrays of model files,
// bad input, and the AUC against scikit-learn's spread over seeds
// (tests/fixtures/make_iforest.py).
// Shape letters: N training samples, M test samples, F features.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "anomaly/iforest.h"
#include "anomaly/roc.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"

using kz::IsolationForest;
using kz::Tensor;
using kz::test::error_of;

namespace {

Tensor rows(const std::vector<std::vector<float>>& r) {
  std::vector<float> flat;
  for (const auto& row : r) flat.insert(flat.end(), row.begin(), row.end());
  return Tensor::from_vector(flat, {static_cast<int64_t>(r.size()),
                                    static_cast<int64_t>(r[0].size())});
}

IsolationForest fitted(const Tensor& x, uint64_t seed, int64_t trees = 100,
                       int64_t max_samples = 256) {
  kz::Generator gen(seed);
  IsolationForest forest;
  forest.fit(x, kz::IsolationForestOptions{trees, max_samples}, gen);
  return forest;
}

}  // namespace

TEST_CASE("iforest: c(n) is 2H(n-1) - 2(n-1)/n with H(i) = ln i + gamma") {
  CHECK(kz::iforest_c(0) == 0.0);
  CHECK(kz::iforest_c(1) == 0.0);
  CHECK(kz::iforest_c(2) == 1.0);
  const double gamma = 0.5772156649015329;
  for (double n : {3.0, 4.0, 10.0, 256.0, 1e6})
    CHECK(kz::iforest_c(n) ==
          doctest::Approx(2 * (std::log(n - 1) + gamma) - 2 * (n - 1) / n).epsilon(1e-12));
  // It approximates the exact mean unsuccessful-search depth 2H(n-1) - 2(n-1)/n with the
  // harmonic number summed (the approximation's error falls like 1/n).
  for (int n : {50, 256, 5000}) {
    double h = 0;
    for (int i = 1; i < n; ++i) h += 1.0 / i;
    CHECK(std::abs(kz::iforest_c(n) - (2 * h - 2.0 * (n - 1) / n)) < 1.5 / (n - 1));
  }
}

TEST_CASE("iforest: path lengths on forced trees, from the definition") {
  // Three equal points and one apart, ψ = 4, depth cap ceil(log2 4) = 2. Every tree's root
  // must split between 0 and 1 (the one feature that varies): the left child holds the three
  // equal points and is a leaf (constant), h = 1 + c(3); the right is one point, h = 1 + c(1).
  // The constant second feature must never be chosen.
  const Tensor x = rows({{0, 7}, {0, 7}, {1, 7}, {0, 7}});
  for (uint64_t seed : {1u, 2u, 3u}) {
    const IsolationForest forest = fitted(x, seed, 20);
    CHECK(forest.samples() == 4);
    const Tensor q = rows({{0, 7}, {-5, 100}, {1, 7}, {9, -3}});
    const std::vector<float> h = forest.mean_path_length(q).to_vector();
    const double h_in = 1 + kz::iforest_c(3), h_out = 1;
    CHECK(h[0] == doctest::Approx(h_in));
    CHECK(h[1] == doctest::Approx(h_in));
    CHECK(h[2] == doctest::Approx(h_out));
    CHECK(h[3] == doctest::Approx(h_out));
    const std::vector<float> s = forest.score(q).to_vector();
    CHECK(s[0] == doctest::Approx(std::exp2(-h_in / kz::iforest_c(4))));
    CHECK(s[2] == doctest::Approx(std::exp2(-h_out / kz::iforest_c(4))));
    CHECK(s[2] > s[0]);  // the isolated point is the more anomalous
  }
  // Two points: ψ = 2, cap 1, every query ends at depth 1 in a leaf of one: h = 1, and the
  // score is 2^(-1/c(2)) = 0.5.
  const IsolationForest two = fitted(rows({{0}, {1}}), 4, 10);
  CHECK(two.score(rows({{0.3f}, {-4}, {8}})).to_vector() == std::vector<float>{0.5f, 0.5f, 0.5f});
  // All points equal: the root is a leaf of ψ, h = c(ψ), score 2^-1.
  const IsolationForest flat = fitted(rows({{2, 2}, {2, 2}, {2, 2}}), 5, 10);
  CHECK(flat.mean_path_length(rows({{0, 0}})).to_vector()[0] ==
        doctest::Approx(kz::iforest_c(3)));
}

TEST_CASE("iforest: subsamples of 256, the depth cap, the same forest from the same seed") {
  std::vector<std::vector<float>> r;
  for (int i = 0; i < 1000; ++i) r.push_back({static_cast<float>(i), static_cast<float>(i % 7)});
  const Tensor x = rows(r);
  const IsolationForest a = fitted(x, 11), b = fitted(x, 11), c = fitted(x, 12);
  CHECK(a.samples() == 256);
  CHECK(a.trees() == 100);
  const std::vector<float> ha = a.mean_path_length(x).to_vector();
  CHECK(ha == b.mean_path_length(x).to_vector());
  CHECK(ha != c.mean_path_length(x).to_vector());
  // Depth at most 8, plus c(leaf size) with a leaf of at most 256 - 8 samples.
  for (float h : ha) {
    CHECK(h > 0);
    CHECK(h <= 8 + kz::iforest_c(256 - 8));
  }
  // Leaf sizes of each tree sum to ψ; a split node's children hold its samples.
  const IsolationForest::Arrays arr = a.to_arrays();
  CHECK(arr.feature.shape() == kz::Shape{100, 511});
  const std::vector<float> f = arr.feature.to_vector(), s = arr.size.to_vector(),
                           l = arr.left.to_vector(), rt = arr.right.to_vector();
  for (int64_t t = 0; t < 100; ++t) {
    CHECK(s[static_cast<size_t>(t * 511)] == 256);
    for (int64_t k = 0; k < 511; ++k) {
      const auto at = static_cast<size_t>(t * 511 + k);
      if (f[at] >= 0)
        CHECK(s[at] == s[static_cast<size_t>(t * 511 + static_cast<int64_t>(l[at]))] +
                           s[static_cast<size_t>(t * 511 + static_cast<int64_t>(rt[at]))]);
    }
  }
  // Back from the arrays, the same path lengths.
  const IsolationForest back = IsolationForest::from_arrays(arr, 2);
  CHECK(back.mean_path_length(x).to_vector() == ha);
}

TEST_CASE("iforest: bad input and corrupt arrays are errors") {
  IsolationForest forest;
  kz::Generator gen(0);
  CHECK(error_of([&] { forest.fit(rows({{1, 2}}), {}, gen); }).find("at least 2") !=
        std::string::npos);
  CHECK(error_of([&] { forest.fit(Tensor::zeros({4}), {}, gen); }).find("(N,F)") !=
        std::string::npos);
  CHECK(error_of([&] { (void)forest.score(rows({{1, 2}})); }).find("before fit") !=
        std::string::npos);
  forest.fit(rows({{1, 2}, {3, 4}, {5, 7}}), {}, gen);
  CHECK(error_of([&] { (void)forest.score(rows({{1, 2, 3}})); })
            .find("fitted on 2 features, asked to score 3") != std::string::npos);
  IsolationForest::Arrays arr = forest.to_arrays();
  arr.feature.data()[0] = 5;
  CHECK(error_of([&] { (void)IsolationForest::from_arrays(arr, 2); }).find("feature 5") !=
        std::string::npos);
  arr = forest.to_arrays();
  arr.left.data()[0] = 3;
  CHECK(error_of([&] { (void)IsolationForest::from_arrays(arr, 2); }).find("children") !=
        std::string::npos);
  arr = forest.to_arrays();
  arr.size = Tensor::zeros({1, 5});
  CHECK(error_of([&] { (void)IsolationForest::from_arrays(arr, 2); }).find("different shapes") !=
        std::string::npos);
}

TEST_CASE("iforest: AUC within scikit-learn's spread over 10 seeds (make_iforest.py)") {
  const kz::Safetensors st = kz::load_safetensors(KZ_FIXTURES "/iforest.safetensors");
  const Tensor& train = st.at("train");
  const Tensor& test = st.at("test");
  const Tensor& labels = st.at("labels");
  const std::vector<float> sk = st.at("sklearn_auc").to_vector();
  REQUIRE(sk.size() == 10);
  std::vector<double> ours;
  for (uint64_t seed = 0; seed < 10; ++seed)
    ours.push_back(kz::roc_auc(fitted(train, seed).score(test), labels));
  auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  auto var = [&](const std::vector<double>& v) {
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return s / static_cast<double>(v.size() - 1);
  };
  const std::vector<double> skd(sk.begin(), sk.end());
  const double lo = *std::min_element(skd.begin(), skd.end());
  const double hi = *std::max_element(skd.begin(), skd.end());
  MESSAGE("kizuki mean AUC " << mean(ours) << ", scikit-learn " << mean(skd) << " in [" << lo
                          << ", " << hi << "]");
  CHECK(mean(ours) >= lo);
  CHECK(mean(ours) <= hi);
  // The two means differ by less than three standard errors of their difference.
  CHECK(std::abs(mean(ours) - mean(skd)) <= 3 * std::sqrt(var(ours) / 10 + var(skd) / 10));
}
