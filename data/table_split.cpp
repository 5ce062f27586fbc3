// table_split.cpp — the benchmark's sets from one table, standardised (see table_split.h).
#include "data/table_split.h"

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>

#include "tensor/error.h"
#include "tensor/generator.h"

namespace kz {

namespace {

int64_t class_of(const ImageDataset& rows, const std::string& value, const char* what) {
  for (size_t c = 0; c < rows.class_names.size(); ++c)
    if (rows.class_names[c] == value) return static_cast<int64_t>(c);
  fail("table_split", fmt::format("{}: no row has the {} label '{}' (labels: {})", rows.source,
                                  what, value, fmt::join(rows.class_names, ", ")));
}

// `count` rows of `members` in a random order (all when count < 0).
std::vector<int64_t> draw(const std::vector<int64_t>& members, int64_t count, Generator& gen) {
  const std::vector<int64_t> perm = random_permutation(static_cast<int64_t>(members.size()), gen);
  const auto n = count < 0 ? members.size() : static_cast<size_t>(count);
  std::vector<int64_t> out(n);
  for (size_t k = 0; k < n; ++k) out[k] = members[static_cast<size_t>(perm[k])];
  return out;
}

// The protocol's classes as label indices of `rows`, checked (see table_split.h).
struct Classes {
  int64_t normal = 0;
  std::vector<int64_t> reference, anomaly;  // ascending
};

Classes classes_of(const ImageDataset& rows, const TableProtocol& p) {
  KZ_CHECK(rows.table, "table_split", "{}: not a table", rows.source);
  KZ_CHECK(!p.normal.empty(), "table_split", "{}: no normal class given", rows.source);
  const int64_t normal = class_of(rows, p.normal, "normal");
  std::vector<int64_t> reference, anomaly;
  for (const std::string& r : p.reference) reference.push_back(class_of(rows, r, "reference"));
  for (const std::string& a : p.anomaly) anomaly.push_back(class_of(rows, a, "anomaly"));
  std::sort(reference.begin(), reference.end());
  std::sort(anomaly.begin(), anomaly.end());
  auto named = [&](int64_t c) {
    return c == normal || std::binary_search(reference.begin(), reference.end(), c) ||
           std::binary_search(anomaly.begin(), anomaly.end(), c);
  };
  if (p.anomaly.empty())
    for (int64_t c = 0; c < rows.num_classes(); ++c)
      if (!named(c)) anomaly.push_back(c);
  for (int64_t c : reference)
    KZ_CHECK(c != normal && !std::binary_search(anomaly.begin(), anomaly.end(), c),
             "table_split", "{}: class '{}' is named twice (normal, anomaly or reference)",
             rows.source, rows.class_names[static_cast<size_t>(c)]);
  for (int64_t c : anomaly)
    KZ_CHECK(c != normal, "table_split", "{}: class '{}' is both normal and anomalous",
             rows.source, p.normal);
  KZ_CHECK(!anomaly.empty(), "table_split",
           "{}: no anomaly class: every label is normal or reference", rows.source);
  return {normal, reference, anomaly};
}

}  // namespace

ImageDataset table_dataset(const Table& t) {
  ImageDataset d;
  d.channels = t.features();
  d.height = d.width = 1;
  d.table = true;
  d.values = t.values;
  d.labels = t.labels;
  d.class_names = t.class_names;
  d.source = t.source;
  d.validate();
  return d;
}

BenchmarkSplit table_split(const ImageDataset& rows, const TableProtocol& p, uint64_t seed) {
  const Classes classes = classes_of(rows, p);
  const int64_t normal = classes.normal;
  const std::vector<int64_t>& reference = classes.reference;
  const std::vector<int64_t>& anomaly = classes.anomaly;

  Generator gen(seed);
  BenchmarkSplit s;
  std::vector<std::string> names;
  std::vector<int64_t> ref_labels;
  for (int64_t c : reference) {
    const std::vector<int64_t> members = rows.indices_of_class(c);
    KZ_CHECK(p.n_reference_per_class <= static_cast<int64_t>(members.size()), "table_split",
             "{}: {} reference rows of '{}' wanted, only {} exist", rows.source,
             p.n_reference_per_class, rows.class_names[static_cast<size_t>(c)], members.size());
    const auto label = static_cast<int64_t>(s.reference_classes.size());
    s.reference_classes.push_back(c);
    names.push_back(rows.class_names[static_cast<size_t>(c)]);
    for (int64_t i : draw(members, p.n_reference_per_class, gen)) {
      s.reference_index.push_back(i);
      s.reference_original.push_back(c);
      ref_labels.push_back(label);
    }
  }
  names.push_back(rows.class_names[static_cast<size_t>(normal)]);

  const std::vector<int64_t> normals = draw(rows.indices_of_class(normal), -1, gen);
  const auto n_normal = static_cast<int64_t>(normals.size());
  const int64_t n_train = p.n_normal_train < 0 ? n_normal / 2 : p.n_normal_train;
  const int64_t n_test_normal = p.n_test_normal < 0 ? n_normal - n_train : p.n_test_normal;
  KZ_CHECK(n_train >= 2 && n_test_normal >= 1 && n_train + n_test_normal <= n_normal,
           "table_split",
           "{}: {} normal training and {} normal test rows wanted (at least 2 and 1), but "
           "'{}' has {} rows",
           rows.source, n_train, n_test_normal, p.normal, n_normal);
  std::vector<int64_t> anomalous;
  for (int64_t c : anomaly) {
    const std::vector<int64_t> m = rows.indices_of_class(c);
    anomalous.insert(anomalous.end(), m.begin(), m.end());
  }
  std::sort(anomalous.begin(), anomalous.end());
  const auto n_anomalous = static_cast<int64_t>(anomalous.size());
  const int64_t n_test_anomaly = p.n_test_anomaly < 0 ? n_anomalous : p.n_test_anomaly;
  KZ_CHECK(n_test_anomaly >= 1 && n_test_anomaly <= n_anomalous, "table_split",
           "{}: {} anomalous test rows wanted, the anomaly classes have {}", rows.source,
           n_test_anomaly, n_anomalous);
  const std::vector<int64_t> test_anomaly = draw(anomalous, n_test_anomaly, gen);

  s.normal_train_index.assign(normals.begin(), normals.begin() + n_train);
  s.normal_train_original.assign(static_cast<size_t>(n_train), normal);
  s.test_index.assign(normals.begin() + n_train, normals.begin() + n_train + n_test_normal);
  s.test_original.assign(static_cast<size_t>(n_test_normal), normal);
  for (int64_t i : test_anomaly) {
    s.test_index.push_back(i);
    s.test_original.push_back(rows.labels[static_cast<size_t>(i)]);
  }

  s.reference = rows.subset(s.reference_index);
  s.reference.labels = ref_labels;
  s.reference.class_names = names;
  s.normal_train = rows.subset(s.normal_train_index);
  s.normal_train.labels.assign(static_cast<size_t>(n_train),
                              static_cast<int64_t>(s.reference_classes.size()));
  s.normal_train.class_names = names;
  s.test = rows.subset(s.test_index);
  s.test.labels.assign(static_cast<size_t>(n_test_normal), 0);
  s.test.labels.insert(s.test.labels.end(), static_cast<size_t>(n_test_anomaly), 1);
  std::vector<std::string> anomaly_names;
  for (int64_t c : anomaly) anomaly_names.push_back(rows.class_names[static_cast<size_t>(c)]);
  s.test.class_names = {"normal: " + p.normal,
                        fmt::format("anomaly: {}", fmt::join(anomaly_names, ", "))};

  standardize_by_normal_train(s);
  return s;
}

TableScaling table_scaling(const ImageDataset& rows) {
  const int64_t n = rows.size();
  KZ_CHECK(n >= 1 && rows.table, "table_split",
           "standardising needs a table of normal training rows, got {} rows of {}", n,
           rows.table ? "a table" : "images");
  // The mean and population std (1 where it is 0).
  const int64_t f = rows.channels;
  TableScaling t;
  t.mean.assign(static_cast<size_t>(f), 0.0);
  std::vector<double> var(static_cast<size_t>(f), 0.0);
  const std::vector<float>& v = rows.values;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) t.mean[static_cast<size_t>(j)] += v[static_cast<size_t>(i * f + j)];
  for (double& m : t.mean) m /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) {
      const double d = v[static_cast<size_t>(i * f + j)] - t.mean[static_cast<size_t>(j)];
      var[static_cast<size_t>(j)] += d * d;
    }
  t.scale.resize(static_cast<size_t>(f));
  for (int64_t j = 0; j < f; ++j) {
    const double sd = std::sqrt(var[static_cast<size_t>(j)] / static_cast<double>(n));
    t.scale[static_cast<size_t>(j)] = sd > 0 ? sd : 1.0;
  }
  return t;
}

void apply_table_scaling(ImageDataset& data, const TableScaling& t) {
  const auto f = static_cast<int64_t>(t.mean.size());
  KZ_CHECK(data.size() == 0 || (data.table && data.channels == f && t.scale.size() == t.mean.size()),
           "table_split", "{}: rows of {} features, the standardisation has {}", data.source,
           data.table ? data.channels : 0, f);
  for (size_t k = 0; k < data.values.size(); ++k) {
    const size_t j = k % static_cast<size_t>(f);
    data.values[k] = static_cast<float>((data.values[k] - t.mean[j]) / t.scale[j]);
  }
}

void standardize_by_normal_train(BenchmarkSplit& s) {
  const int64_t n_train = s.normal_train.size();
  KZ_CHECK(n_train >= 1 && s.normal_train.table, "table_split",
           "standardising needs a table of normal training rows, got {} rows of {}", n_train,
           s.normal_train.table ? "a table" : "images");
  for (const ImageDataset* d : {&s.reference, &s.test})
    KZ_CHECK(d->size() == 0 || (d->table && d->channels == s.normal_train.channels),
             "table_split", "{}: rows of {} features, the normal training rows have {}",
             d->source, d->channels, s.normal_train.channels);
  const TableScaling t = table_scaling(s.normal_train);
  for (ImageDataset* d : {&s.reference, &s.normal_train, &s.test}) apply_table_scaling(*d, t);
}

BenchmarkSplit table_known_anomalies(const ImageDataset& rows, const BenchmarkSplit& split,
                                     const TableProtocol& p, int64_t n, uint64_t seed) {
  const Classes classes = classes_of(rows, p);
  KZ_CHECK(n >= 0, "table_split", "{}: {} known anomalies wanted", rows.source, n);
  std::vector<int64_t> pool;  // rows of the anomaly classes in no test set, ascending
  std::vector<int64_t> test = split.test_index;
  std::sort(test.begin(), test.end());
  for (int64_t i = 0; i < rows.size(); ++i)
    if (std::binary_search(classes.anomaly.begin(), classes.anomaly.end(),
                           rows.labels[static_cast<size_t>(i)]) &&
        !std::binary_search(test.begin(), test.end(), i))
      pool.push_back(i);
  std::vector<std::string> names;
  for (int64_t c : classes.anomaly) names.push_back(rows.class_names[static_cast<size_t>(c)]);
  KZ_CHECK(n <= static_cast<int64_t>(pool.size()), "table_split",
           "{}: {} known anomalies wanted, but only {} rows of the anomaly classes ({}) are "
           "outside the test set (it takes every anomalous row unless --test-anomaly asks for "
           "fewer)", rows.source, n, pool.size(), fmt::join(names, ", "));
  BenchmarkSplit s = with_drawn_known_anomalies(
      split, rows, pool, n, seed, fmt::format("known anomaly: {}", fmt::join(names, ", ")));
  apply_table_scaling(s.known_anomalies, table_scaling(rows.subset(split.normal_train_index)));
  return s;
}

}  // namespace kz
