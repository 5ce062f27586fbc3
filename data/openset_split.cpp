// openset_split.cpp — the open-set protocol's sets (see openset_split.h).
#include "data/openset_split.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tensor/generator.h"

namespace kz {
namespace {

// Throws unless `unknown` (original labels) leaves two known classes of k and has no repeats.
void check_unknown(const std::vector<int64_t>& unknown, int64_t k, const std::string& where) {
  KZ_CHECK(!unknown.empty(), where, "no unknown class given: name at least one");
  std::set<int64_t> seen;
  for (int64_t c : unknown) {
    KZ_CHECK(c >= 0 && c < k, where, "class {} is not one of the {} classes", c, k);
    KZ_CHECK(seen.insert(c).second, where, "class {} is listed twice", c);
  }
  KZ_CHECK(k - static_cast<int64_t>(unknown.size()) >= 2, where,
           "{} of the {} classes are unknown: at least two must stay known to classify",
           unknown.size(), k);
}

// A permutation of class c's images in `data`.
std::vector<int64_t> shuffled(const ImageDataset& data, int64_t c, Generator& gen) {
  const std::vector<int64_t> members = data.indices_of_class(c);
  const std::vector<int64_t> perm = random_permutation(static_cast<int64_t>(members.size()), gen);
  std::vector<int64_t> out(members.size());
  for (size_t i = 0; i < members.size(); ++i) out[i] = members[static_cast<size_t>(perm[i])];
  return out;
}

// How many of `have` images a count asks for (< 0: all), or an error naming what.
int64_t wanted(int64_t count, int64_t have, const ImageDataset& data, int64_t c,
               const char* what) {
  if (count < 0) return have;
  KZ_CHECK(count <= have, "openset_split", "{}: {} {} images of class {} ('{}') wanted, only {} "
           "are there", data.source, count, what, c, data.class_names[static_cast<size_t>(c)],
           have);
  return count;
}

}  // namespace

std::vector<int64_t> parse_unknown_classes(const std::string& text,
                                           const std::vector<std::string>& class_names,
                                           const std::string& where) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    int64_t c = -1;
    for (size_t i = 0; i < class_names.size(); ++i)
      if (class_names[i] == item) c = static_cast<int64_t>(i);
    if (c < 0 && std::all_of(item.begin(), item.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
        item.size() < 10) {
      const int64_t v = std::stoll(item);
      if (v < static_cast<int64_t>(class_names.size())) c = v;
    }
    KZ_CHECK(c >= 0, where, "'{}' is not a class: the classes are {} (or their indices 0 … {})",
             item, fmt::join(class_names, ", "), class_names.size() - 1);
    KZ_CHECK(std::find(out.begin(), out.end(), c) == out.end(), where,
             "class '{}' is listed twice", class_names[static_cast<size_t>(c)]);
    out.push_back(c);
  }
  check_unknown(out, static_cast<int64_t>(class_names.size()), where);
  std::sort(out.begin(), out.end());
  return out;
}

OpenSetSplit openset_split(const TrainTest& data, const std::vector<int64_t>& unknown_in,
                           int64_t n_train, int64_t n_held_out, int64_t n_test_known,
                           int64_t n_test_unknown, uint64_t seed) {
  const ImageDataset& train = data.train;
  const ImageDataset& test = data.test;
  const int64_t k = train.num_classes();
  KZ_CHECK(test.num_classes() == k, "openset_split", "{} has {} classes but {} has {}",
           train.source, k, test.source, test.num_classes());
  check_unknown(unknown_in, k, "openset_split");
  KZ_CHECK(n_train != 0 && n_held_out != 0 && n_test_known != 0 && n_test_unknown != 0,
           "openset_split", "every count must be at least 1 (or negative: all images); got "
           "train {}, held out {}, test known {}, test unknown {}", n_train, n_held_out,
           n_test_known, n_test_unknown);
  OpenSetSplit s;
  s.unknown_classes = unknown_in;
  std::sort(s.unknown_classes.begin(), s.unknown_classes.end());
  for (int64_t c = 0; c < k; ++c)
    if (!std::binary_search(s.unknown_classes.begin(), s.unknown_classes.end(), c))
      s.known_classes.push_back(c);
  const auto K = static_cast<int64_t>(s.known_classes.size());
  std::vector<std::string> names;
  for (int64_t c : s.known_classes) names.push_back(train.class_names[static_cast<size_t>(c)]);

  Generator gen(seed);
  BenchmarkSplit& t = s.training;
  std::vector<int64_t> ref_labels, held_labels;
  for (int64_t label = 0; label < K; ++label) {
    const int64_t c = s.known_classes[static_cast<size_t>(label)];
    const std::vector<int64_t> order = shuffled(train, c, gen);
    const auto have = static_cast<int64_t>(order.size());
    const int64_t nt = wanted(n_train, have, train, c, "training");
    const int64_t nh = wanted(n_held_out, have - nt, train, c, "held-out (beside the training ones)");
    KZ_CHECK(nh >= 1, "openset_split", "{}: class {} ('{}') has no image left to hold out "
             "beside its {} training images", train.source, c,
             train.class_names[static_cast<size_t>(c)], nt);
    for (int64_t i = 0; i < nt; ++i) {
      const int64_t idx = order[static_cast<size_t>(i)];
      if (label < K - 1) {
        t.reference_index.push_back(idx);
        t.reference_original.push_back(c);
        ref_labels.push_back(label);
      } else {
        t.normal_train_index.push_back(idx);
        t.normal_train_original.push_back(c);
      }
    }
    if (label < K - 1) t.reference_classes.push_back(c);
    for (int64_t i = nt; i < nt + nh; ++i) {
      s.held_out_index.push_back(order[static_cast<size_t>(i)]);
      held_labels.push_back(label);
    }
  }
  t.reference = train.subset(t.reference_index);
  t.reference.labels = ref_labels;
  t.reference.class_names = names;
  t.normal_train = train.subset(t.normal_train_index);
  t.normal_train.labels.assign(t.normal_train_index.size(), K - 1);
  t.normal_train.class_names = names;
  s.held_out = train.subset(s.held_out_index);
  s.held_out.labels = held_labels;
  s.held_out.class_names = names;

  std::vector<int64_t> test_labels;
  auto take_test = [&](int64_t c, int64_t count, int64_t label, const char* what) {
    const std::vector<int64_t> order = shuffled(test, c, gen);
    const int64_t n = wanted(count, static_cast<int64_t>(order.size()), test, c, what);
    for (int64_t i = 0; i < n; ++i) {
      s.test_index.push_back(order[static_cast<size_t>(i)]);
      s.test_original.push_back(c);
      test_labels.push_back(label);
    }
  };
  for (int64_t label = 0; label < K; ++label)
    take_test(s.known_classes[static_cast<size_t>(label)], n_test_known, label, "known test");
  for (int64_t c : s.unknown_classes) take_test(c, n_test_unknown, K, "unknown test");
  s.test = test.subset(s.test_index);
  s.test.labels = test_labels;
  names.push_back("unknown");
  s.test.class_names = names;
  return s;
}

}  // namespace kz
