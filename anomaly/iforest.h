/// \file
/// iforest.h — Isolation Forest (Liu, Ting & Zhou 2008), the forest itself: fitting on
/// feature vectors and scoring them. anomaly/methods/iforest.cpp makes it a method.
///
/// Shape letters: N fitted samples, M scored samples, F features, T trees, ψ samples per tree.
///
/// \code{.unparsed}
///   ψ          = min(max_samples, N), drawn without replacement for each tree (N >= 2)
///   depth cap  l = ceil(log2 ψ)
///   iTree      a node of n samples at depth d is a leaf when d >= l, n <= 1 or every
///              feature is constant on its samples; otherwise a feature q is drawn uniformly
///              among those not constant there, a threshold p uniformly in [min q, max q),
///              samples with x_q <= p go left, the others right
///   c(n)       = 2 H(n−1) − 2(n−1)/n,  H(i) = ln i + γ (γ = 0.5772156649…);
///              c(1) = c(0) = 0, c(2) = 1 — the mean path length of an unsuccessful search
///              in a binary search tree of n keys
///   h(x)       = d + c(n) for the leaf (depth d, n fitted samples) that x reaches
///   score(x)   = 2^(−E[h(x)] / c(ψ)),  E over the T trees:  about 1 = anomalous,
///              below 0.5 = normal (higher = more anomalous, kizuki's convention)
/// \endcode
/// These are scikit-learn's choices too (IsolationForest, 1.2: max_samples "auto" = 256,
/// max_features 1.0, no bootstrap, features as float32); its score_samples is −score(x).
/// Its random numbers differ, so the forests differ and the AUCs agree only in distribution
/// (tests/fixtures/make_iforest.py measures sklearn's spread over seeds).
///
/// The trees are stored as flat (T, 2ψ−1) arrays — a tree of ψ samples has at most 2ψ−1
/// nodes — which is how model files keep them (anomaly/methods/iforest.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace kz {

/// c(n) of the file's description: the mean path length of an unsuccessful search in a
/// binary search tree of n keys (0 for n <= 1).
double iforest_c(double n);

/// Isolation Forest's settings (defaults as Liu et al. and scikit-learn).
struct IsolationForestOptions {
  int64_t trees = 100;        ///< T
  int64_t max_samples = 256;  ///< ψ before clipping to N
};

/// A fitted Isolation Forest (see the file's description).
class IsolationForest {
 public:
  /// Grows T trees on x (N,F), N >= 2, each from ψ rows drawn from gen.
  void fit(const Tensor& x, const IsolationForestOptions& options, Generator& gen);
  /// E[h(x)] over the trees, for x (M,F) → (M,).
  Tensor mean_path_length(const Tensor& x) const;
  /// 2^(−E[h(x)] / c(ψ)) for x (M,F) → (M,), higher = more anomalous.
  Tensor score(const Tensor& x) const;

  int64_t trees() const { return trees_; }        ///< T (0 before fit)
  int64_t samples() const { return samples_; }    ///< ψ
  int64_t features() const { return features_; }  ///< F
  int64_t max_nodes() const { return 2 * samples_ - 1; }  ///< nodes per tree slot

  /// The trees as (T, 2ψ−1) float arrays, nodes numbered breadth-first from the root (0):
  /// for each node its feature (−1 for a leaf), threshold, left and right child (node
  /// indices within the tree) and its number of fitted samples; unused slots are leaves of
  /// size 0.
  struct Arrays {
    /// The node arrays, each (T, 2ψ−1)
    ///@{
    Tensor feature, threshold, left, right, size;
    ///@}
  };
  Arrays to_arrays() const;  ///< the trees as arrays (model files)
  /// A forest from arrays of to_arrays() over F features; every entry is checked (feature
  /// in [−1, F), children inside the tree and after their parent, sizes ≥ 0), so a corrupt
  /// model file is an error, not a crash.
  static IsolationForest from_arrays(const Arrays& arrays, int64_t features);

 private:
  struct Node {
    int32_t feature = -1;   // −1: leaf
    float threshold = 0.0f;
    int32_t left = 0, right = 0;
    int32_t size = 0;
  };
  int64_t trees_ = 0, samples_ = 0, features_ = 0;
  std::vector<std::vector<Node>> nodes_;  // per tree, the root first
};

}  // namespace kz
