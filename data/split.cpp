// split.cpp — the anomaly benchmark split (see split.h).
#include "data/split.h"

#include <algorithm>
#include <functional>

#include "tensor/generator.h"

namespace kz {
namespace {

// `count` random images of class c from `data` (all of them when count < 0).
std::vector<int64_t> draw(const ImageDataset& data, int64_t c, int64_t count, Generator& gen,
                          const char* what) {
  const std::vector<int64_t> members = data.indices_of_class(c);
  const auto have = static_cast<int64_t>(members.size());
  if (count < 0) count = have;
  KZ_CHECK(count <= have, "benchmark_split",
           "{}: {} {} images of class {} ('{}') wanted, only {} exist", data.source, count,
           what, c, data.class_names[static_cast<size_t>(c)], have);
  const std::vector<int64_t> perm = random_permutation(have, gen);
  std::vector<int64_t> out(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k)
    out[static_cast<size_t>(k)] = members[static_cast<size_t>(perm[static_cast<size_t>(k)])];
  return out;
}

// The indices of `pool` that are not in `used`, in pool's order.
std::vector<int64_t> outside(const std::vector<int64_t>& pool, std::vector<int64_t> used) {
  std::sort(used.begin(), used.end());
  std::vector<int64_t> left;
  for (int64_t i : pool)
    if (!std::binary_search(used.begin(), used.end(), i)) left.push_back(i);
  return left;
}

}  // namespace

BenchmarkSplit benchmark_split(const TrainTest& data, int64_t normal, int64_t anomaly,
                               int64_t n_reference_per_class, int64_t n_normal_train,
                               int64_t n_test_each, uint64_t seed) {
  const ImageDataset& train = data.train;
  const ImageDataset& test = data.test;
  const int64_t k = train.num_classes();
  KZ_CHECK(test.num_classes() == k, "benchmark_split", "{} has {} classes but {} has {}",
           train.source, k, test.source, test.num_classes());
  KZ_CHECK(normal >= 0 && normal < k && anomaly >= 0 && anomaly < k && normal != anomaly,
           "benchmark_split",
           "normal class {} and anomaly class {} must be two different classes in [0, {})",
           normal, anomaly, k);
  Generator gen(seed);
  BenchmarkSplit s;
  std::vector<std::string> names;
  std::vector<int64_t> ref_labels;
  for (int64_t c = 0; c < k; ++c) {
    if (c == normal || c == anomaly) continue;
    const int64_t label = static_cast<int64_t>(s.reference_classes.size());
    s.reference_classes.push_back(c);
    names.push_back(train.class_names[static_cast<size_t>(c)]);
    for (int64_t i : draw(train, c, n_reference_per_class, gen, "reference")) {
      s.reference_index.push_back(i);
      s.reference_original.push_back(c);
      ref_labels.push_back(label);
    }
  }
  names.push_back(train.class_names[static_cast<size_t>(normal)]);
  s.normal_train_index = draw(train, normal, n_normal_train, gen, "normal training");
  s.normal_train_original.assign(s.normal_train_index.size(), normal);
  const std::vector<int64_t> test_normal = draw(test, normal, n_test_each, gen, "normal test");
  const std::vector<int64_t> test_anomaly = draw(test, anomaly, n_test_each, gen, "anomaly test");

  s.reference = train.subset(s.reference_index);
  s.reference.labels = ref_labels;
  s.reference.class_names = names;
  s.normal_train = train.subset(s.normal_train_index);
  s.normal_train.labels.assign(s.normal_train_index.size(),
                              static_cast<int64_t>(s.reference_classes.size()));
  s.normal_train.class_names = names;

  s.test_index = test_normal;
  s.test_index.insert(s.test_index.end(), test_anomaly.begin(), test_anomaly.end());
  s.test = test.subset(s.test_index);
  s.test.labels.assign(test_normal.size(), 0);
  s.test.labels.insert(s.test.labels.end(), test_anomaly.size(), 1);
  s.test.class_names = {"normal: " + test.class_names[static_cast<size_t>(normal)],
                        "anomaly: " + test.class_names[static_cast<size_t>(anomaly)]};
  s.test_original.assign(test_normal.size(), normal);
  s.test_original.insert(s.test_original.end(), test_anomaly.size(), anomaly);
  return s;
}

BenchmarkSplit validation_split(const TrainTest& data, const BenchmarkSplit& split,
                                int64_t normal, int64_t n_each, uint64_t seed) {
  const ImageDataset& train = data.train;
  Generator gen(seed, /*stream=*/77);
  // normal-class train images the method does not train on
  const std::vector<int64_t> held_out = outside(train.indices_of_class(normal),
                                                split.normal_train_index);
  const auto n_ref = static_cast<int64_t>(split.reference_index.size());
  KZ_CHECK(n_each >= 1 && n_each <= static_cast<int64_t>(held_out.size()) && n_each <= n_ref,
           "validation_split",
           "{}: {} held-out normals and {} reference images wanted, but {} normal-class "
           "images are left beside the {} training normals and the reference set has {}",
           train.source, n_each, n_each, held_out.size(), split.normal_train_index.size(),
           n_ref);
  BenchmarkSplit v = split;
  v.test_index.clear();
  v.test_original.clear();
  const std::vector<int64_t> pick_normal =
      random_permutation(static_cast<int64_t>(held_out.size()), gen);
  for (int64_t k = 0; k < n_each; ++k) {
    v.test_index.push_back(held_out[static_cast<size_t>(pick_normal[static_cast<size_t>(k)])]);
    v.test_original.push_back(normal);
  }
  const std::vector<int64_t> pick_ref = random_permutation(n_ref, gen);
  for (int64_t k = 0; k < n_each; ++k) {
    const auto r = static_cast<size_t>(pick_ref[static_cast<size_t>(k)]);
    v.test_index.push_back(split.reference_index[r]);
    v.test_original.push_back(split.reference_original[r]);
  }
  v.test = train.subset(v.test_index);
  v.test.labels.assign(static_cast<size_t>(n_each), 0);
  v.test.labels.insert(v.test.labels.end(), static_cast<size_t>(n_each), 1);
  v.test.class_names = {"held-out normal: " + train.class_names[static_cast<size_t>(normal)],
                        "reference (as anomalies)"};
  return v;
}

BenchmarkSplit with_known_anomalies(const TrainTest& data, const BenchmarkSplit& split,
                                    int64_t anomaly, int64_t n, uint64_t seed) {
  const ImageDataset& train = data.train;
  KZ_CHECK(anomaly >= 0 && anomaly < train.num_classes(), "with_known_anomalies",
           "{}: anomaly class {} is not one of its {} classes", train.source, anomaly,
           train.num_classes());
  const std::vector<int64_t> pool = train.indices_of_class(anomaly);
  KZ_CHECK(n >= 0 && n <= static_cast<int64_t>(pool.size()), "with_known_anomalies",
           "{}: {} known anomalies wanted, but class {} has {} training images", train.source, n,
           anomaly, pool.size());
  return with_drawn_known_anomalies(split, train, pool, n, seed,
                                    "known anomaly: " + train.class_names[static_cast<size_t>(anomaly)]);
}

BenchmarkSplit with_drawn_known_anomalies(const BenchmarkSplit& split, const ImageDataset& source,
                                          const std::vector<int64_t>& pool, int64_t n,
                                          uint64_t seed, const std::string& class_name) {
  Generator gen(seed, /*stream=*/78);
  const std::vector<int64_t> pick = random_permutation(static_cast<int64_t>(pool.size()), gen);
  BenchmarkSplit s = split;
  s.known_anomaly_index.clear();
  for (int64_t k = 0; k < n; ++k)
    s.known_anomaly_index.push_back(pool[static_cast<size_t>(pick[static_cast<size_t>(k)])]);
  s.known_anomalies = source.subset(s.known_anomaly_index);
  s.known_anomalies.labels.assign(static_cast<size_t>(n), 0);
  s.known_anomalies.class_names = {class_name};
  return s;
}

BenchmarkSplit with_proxy_set(const TrainTest& data, const BenchmarkSplit& split,
                              int64_t normal, int64_t n_each, uint64_t seed) {
  const ImageDataset& train = data.train;
  const std::vector<int64_t> normals = outside(train.indices_of_class(normal),
                                               split.normal_train_index);
  std::vector<int64_t> others;  // reference-class images outside the reference set
  for (int64_t c : split.reference_classes) {
    const std::vector<int64_t> left = outside(train.indices_of_class(c), split.reference_index);
    others.insert(others.end(), left.begin(), left.end());
  }
  KZ_CHECK(n_each >= 0, "with_proxy_set", "{}: a proxy set of {} images of each kind wanted",
           train.source, n_each);
  const int64_t n = std::min({n_each, static_cast<int64_t>(normals.size()),
                              static_cast<int64_t>(others.size())});
  Generator gen(seed, /*stream=*/79);
  BenchmarkSplit s = split;
  s.proxy_index.clear();
  for (const std::vector<int64_t>& pool : {std::cref(normals), std::cref(others)}) {
    const std::vector<int64_t> pick = random_permutation(static_cast<int64_t>(pool.size()), gen);
    for (int64_t k = 0; k < n; ++k)
      s.proxy_index.push_back(pool[static_cast<size_t>(pick[static_cast<size_t>(k)])]);
  }
  s.proxy = train.subset(s.proxy_index);
  s.proxy.labels.assign(static_cast<size_t>(n), 0);
  s.proxy.labels.insert(s.proxy.labels.end(), static_cast<size_t>(n), 1);
  s.proxy.class_names = {"held-out normal: " + train.class_names[static_cast<size_t>(normal)],
                         "held-out reference"};
  return s;
}

}  // namespace kz
