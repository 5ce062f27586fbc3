// iforest.cpp — Isolation Forest: growing the trees, path lengths, scores (see iforest.h).
#include "anomaly/iforest.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace kz {

double iforest_c(double n) {
  if (n <= 1.0) return 0.0;
  if (n <= 2.0) return 1.0;
  constexpr double kEulerGamma = 0.5772156649015329;
  return 2.0 * (std::log(n - 1.0) + kEulerGamma) - 2.0 * (n - 1.0) / n;
}

namespace {

// x (R,F) as a row-major copy (or the tensor itself when it is one already).
Tensor rows_of(const Tensor& x, const char* what) {
  KZ_CHECK(x.dim() == 2, "iforest", "{} must be (N,F), got {}", what, shape_str(x.shape()));
  return x.is_contiguous() ? x : x.contiguous();
}

}  // namespace

void IsolationForest::fit(const Tensor& x_in, const IsolationForestOptions& options,
                          Generator& gen) {
  const Tensor x = rows_of(x_in, "the training features");
  const int64_t n = x.size(0), f = x.size(1);
  KZ_CHECK(n >= 2, "iforest", "needs at least 2 training samples, got {}", n);
  KZ_CHECK(f >= 1, "iforest", "the training features have no columns");
  KZ_CHECK(options.trees >= 1, "iforest", "trees must be >= 1, got {}", options.trees);
  KZ_CHECK(options.max_samples >= 2, "iforest", "max_samples must be >= 2, got {}",
           options.max_samples);
  trees_ = options.trees;
  samples_ = std::min(options.max_samples, n);
  features_ = f;
  const auto max_depth = static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(samples_))));
  const float* data = x.data();
  nodes_.assign(static_cast<size_t>(trees_), {});
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::vector<int64_t> order(static_cast<size_t>(f));
  for (int64_t t = 0; t < trees_; ++t) {
    // ψ rows without replacement: the first ψ steps of a Fisher–Yates shuffle.
    std::iota(all.begin(), all.end(), 0);
    for (int64_t i = 0; i < samples_; ++i)
      std::swap(all[static_cast<size_t>(i)],
                all[static_cast<size_t>(i + static_cast<int64_t>(gen.below(static_cast<uint64_t>(n - i))))]);
    std::vector<int64_t> idx(all.begin(), all.begin() + samples_);
    std::vector<Node>& tree = nodes_[static_cast<size_t>(t)];
    tree.reserve(static_cast<size_t>(max_nodes()));
    // Breadth-first (a FIFO of (node, [begin, end), depth)), so nodes are numbered in the
    // order they are split: children always come next after their parent's (from_arrays).
    struct Task {
      int32_t node;
      int64_t begin, end, depth;
    };
    tree.push_back(Node{});
    std::vector<Task> queue{{0, 0, samples_, 0}};
    for (size_t head = 0; head < queue.size(); ++head) {
      const Task task = queue[head];
      const int64_t count = task.end - task.begin;
      tree[static_cast<size_t>(task.node)].size = static_cast<int32_t>(count);
      if (task.depth >= max_depth || count <= 1) continue;
      // A feature uniformly among the non-constant ones: draw without replacement until one
      // varies on these samples.
      std::iota(order.begin(), order.end(), 0);
      int64_t q = -1;
      float lo = 0.0f, hi = 0.0f;
      for (int64_t k = 0; k < f && q < 0; ++k) {
        const int64_t pick = k + static_cast<int64_t>(gen.below(static_cast<uint64_t>(f - k)));
        std::swap(order[static_cast<size_t>(k)], order[static_cast<size_t>(pick)]);
        const int64_t c = order[static_cast<size_t>(k)];
        lo = hi = data[idx[static_cast<size_t>(task.begin)] * f + c];
        for (int64_t i = task.begin + 1; i < task.end; ++i) {
          const float v = data[idx[static_cast<size_t>(i)] * f + c];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        if (lo < hi) q = c;
      }
      if (q < 0) continue;  // every feature constant: a leaf
      float p = lo + gen.uniform() * (hi - lo);
      if (!(p < hi)) p = lo;  // rounding reached the top: both sides must be non-empty
      const auto mid = std::partition(
          idx.begin() + task.begin, idx.begin() + task.end,
          [&](int64_t r) { return data[r * f + q] <= p; });
      const int64_t split = mid - idx.begin();
      const auto left = static_cast<int32_t>(tree.size());
      tree.push_back(Node{});
      tree.push_back(Node{});
      Node& node = tree[static_cast<size_t>(task.node)];
      node.feature = static_cast<int32_t>(q);
      node.threshold = p;
      node.left = left;
      node.right = left + 1;
      queue.push_back({left, task.begin, split, task.depth + 1});
      queue.push_back({left + 1, split, task.end, task.depth + 1});
    }
  }
}

Tensor IsolationForest::mean_path_length(const Tensor& x_in) const {
  KZ_CHECK(trees_ > 0, "iforest", "score before fit");
  const Tensor x = rows_of(x_in, "the features to score");
  KZ_CHECK(x.size(1) == features_, "iforest", "fitted on {} features, asked to score {}",
           features_, x.size(1));
  const int64_t m = x.size(0);
  Tensor out = Tensor::empty({m});
  const float* data = x.data();
  float* dst = out.data();
  for (int64_t i = 0; i < m; ++i) {
    const float* row = data + i * features_;
    double total = 0.0;
    for (const std::vector<Node>& tree : nodes_) {
      int64_t at = 0, depth = 0;
      while (tree[static_cast<size_t>(at)].feature >= 0) {
        const Node& node = tree[static_cast<size_t>(at)];
        at = row[node.feature] <= node.threshold ? node.left : node.right;
        ++depth;
      }
      total += static_cast<double>(depth) + iforest_c(tree[static_cast<size_t>(at)].size);
    }
    dst[i] = static_cast<float>(total / static_cast<double>(trees_));
  }
  return out;
}

Tensor IsolationForest::score(const Tensor& x) const {
  Tensor h = mean_path_length(x);
  const double c = iforest_c(static_cast<double>(samples_));
  float* v = h.data();
  for (int64_t i = 0; i < h.numel(); ++i)
    v[i] = static_cast<float>(std::exp2(-static_cast<double>(v[i]) / c));
  return h;
}

IsolationForest::Arrays IsolationForest::to_arrays() const {
  Arrays a;
  const Shape shape{trees_, max_nodes()};
  a.feature = Tensor::full(shape, -1.0f);
  a.threshold = Tensor::zeros(shape);
  a.left = Tensor::zeros(shape);
  a.right = Tensor::zeros(shape);
  a.size = Tensor::zeros(shape);
  for (int64_t t = 0; t < trees_; ++t) {
    const std::vector<Node>& tree = nodes_[static_cast<size_t>(t)];
    for (size_t k = 0; k < tree.size(); ++k) {
      const int64_t at = t * max_nodes() + static_cast<int64_t>(k);
      a.feature.data()[at] = static_cast<float>(tree[k].feature);
      a.threshold.data()[at] = tree[k].threshold;
      a.left.data()[at] = static_cast<float>(tree[k].left);
      a.right.data()[at] = static_cast<float>(tree[k].right);
      a.size.data()[at] = static_cast<float>(tree[k].size);
    }
  }
  return a;
}

IsolationForest IsolationForest::from_arrays(const Arrays& a, int64_t features) {
  KZ_CHECK(a.feature.dim() == 2 && a.feature.size(0) >= 1 && a.feature.size(1) >= 1 &&
               a.feature.size(1) % 2 == 1,
           "iforest", "tree arrays must be (T, 2ψ−1), got {}", shape_str(a.feature.shape()));
  for (const Tensor* t : {&a.threshold, &a.left, &a.right, &a.size})
    KZ_CHECK(t->shape() == a.feature.shape(), "iforest",
             "tree arrays of different shapes: {} and {}", shape_str(a.feature.shape()),
             shape_str(t->shape()));
  KZ_CHECK(features >= 1, "iforest", "a forest over {} features", features);
  IsolationForest forest;
  forest.trees_ = a.feature.size(0);
  forest.samples_ = (a.feature.size(1) + 1) / 2;
  forest.features_ = features;
  const int64_t slots = forest.max_nodes();
  const std::vector<float> feature = a.feature.to_vector(), threshold = a.threshold.to_vector(),
                           left = a.left.to_vector(), right = a.right.to_vector(),
                           size = a.size.to_vector();
  forest.nodes_.assign(static_cast<size_t>(forest.trees_), {});
  for (int64_t t = 0; t < forest.trees_; ++t) {
    std::vector<Node>& tree = forest.nodes_[static_cast<size_t>(t)];
    // Nodes reachable from the root, in index order; children come after their parent.
    int64_t used = 1;
    for (int64_t k = 0; k < used; ++k) {
      const auto at = static_cast<size_t>(t * slots + k);
      Node node;
      const float fe = feature[at], l = left[at], r = right[at], s = size[at];
      KZ_CHECK(fe == std::floor(fe) && fe >= -1 && fe < static_cast<float>(features), "iforest",
               "tree {} node {}: feature {} is not -1 or a feature index below {}", t, k, fe,
               features);
      KZ_CHECK(s == std::floor(s) && s >= 0 && s <= static_cast<float>(forest.samples_),
               "iforest", "tree {} node {}: size {} outside [0, {}]", t, k, s, forest.samples_);
      KZ_CHECK(std::isfinite(threshold[at]), "iforest", "tree {} node {}: threshold {}", t, k,
               threshold[at]);
      node.feature = static_cast<int32_t>(fe);
      node.threshold = threshold[at];
      node.size = static_cast<int32_t>(s);
      if (node.feature >= 0) {
        KZ_CHECK(l == static_cast<float>(used) && r == l + 1 && used + 2 <= slots, "iforest",
                 "tree {} node {}: children {} and {} are not the next free nodes", t, k, l, r);
        node.left = static_cast<int32_t>(l);
        node.right = static_cast<int32_t>(r);
        used += 2;
      }
      tree.push_back(node);
    }
  }
  return forest;
}

}  // namespace kz
