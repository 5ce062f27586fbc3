/// \file
/// kmeans.h — k-means clustering (Lloyd's algorithm, k-means++ starts, restarts) and two
/// scores of a clustering against true classes: purity and the adjusted Rand index.
///
/// Shape letters: N rows, F features, k clusters. Arithmetic in double.
/// \code{.unparsed}
///   Lloyd     from centres c: label each row with its nearest centre (squared Euclidean
///             distance, the lowest index on a tie), move each centre to the mean of its
///             rows; repeat until no label changes or max_iterations. A cluster left empty
///             takes the row farthest from its centre (scikit-learn's rule, one row per empty
///             cluster, farthest first). inertia = Σ ‖x_i − c_label(i)‖².
///             Run from the same centres, scikit-learn's KMeans(init=centres, n_init=1,
///             algorithm="lloyd", tol=0) ends with the same labels and centres.
///   k-means++ the first centre a uniform row, each next one a row drawn with probability
///             ∝ its squared distance to the nearest centre so far (Arthur & Vassilvitskii).
///   kmeans    `restarts` runs of Lloyd from k-means++ starts drawn one after another from
///             one Generator; the run with the lowest inertia (the first on a tie) is kept.
///   purity    (1/N) Σ over clusters of the count of its most common true class.
///   ARI       (Σ_ij C(n_ij,2) − E) / (½(Σ_i C(a_i,2) + Σ_j C(b_j,2)) − E),
///             E = Σ_i C(a_i,2) Σ_j C(b_j,2) / C(N,2), n the contingency table, a and b its
///             row and column sums: scikit-learn's adjusted_rand_score (1 when both
///             labelings are one cluster each, or both all singletons).
/// \endcode
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace kz {

/// A clustering of N rows into k clusters.
struct KMeansResult {
  Tensor centres;               ///< (k,F)
  std::vector<int64_t> labels;  ///< (N), each in [0, k)
  double inertia = 0.0;         ///< Σ squared distance of each row to its centre
  int64_t iterations = 0;       ///< Lloyd iterations of the kept run
};

/// How kmeans() runs.
struct KMeansOptions {
  int64_t k = 2;                 ///< clusters, 1 ≤ k ≤ N
  int64_t restarts = 10;         ///< k-means++ starts; the lowest inertia is kept
  int64_t max_iterations = 300;  ///< Lloyd iterations per start
};

/// Lloyd's algorithm on x (N,F) from `centres` (k,F) (see the file's description).
KMeansResult kmeans_lloyd(const Tensor& x, const Tensor& centres, int64_t max_iterations = 300);
/// k centres (k,F), rows of x (N,F), chosen by k-means++ from gen.
Tensor kmeans_plus_plus(const Tensor& x, int64_t k, Generator& gen);
/// k-means with restarts (see the file's description); x (N,F), finite.
KMeansResult kmeans(const Tensor& x, const KMeansOptions& options, Generator& gen);

/// Purity of cluster labels against true classes (same length, ≥ 1; any integer values).
double cluster_purity(const std::vector<int64_t>& truth, const std::vector<int64_t>& clusters);
/// The adjusted Rand index of two labelings (same length, ≥ 1; any integer values).
double adjusted_rand_index(const std::vector<int64_t>& truth,
                           const std::vector<int64_t>& clusters);

}  // namespace kz
