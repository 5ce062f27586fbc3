/// \file
/// lof.h — Local Outlier Factor with scikit-learn's novelty semantics, and the exact
/// k-nearest-neighbour search (GEMM, then refinement in double) it is built on.
///
/// Shape letters: N = fitted (training) samples, M = scored (query) samples, D = feature
/// dimension, k = neighbours.
///
/// LOF (Breunig et al. 2000), as sklearn.neighbors.LocalOutlierFactor(novelty=True) 1.2:
/// \code{.unparsed}
///   k           = min(n_neighbors, N - 1)          n_neighbors defaults to 20; N >= 2
///   N_k(p)      = the k nearest training points of p; a training point's own row is
///                 excluded by index (its duplicates are neighbours at distance 0)
///   kdist(o)    = distance from training point o to its k-th nearest neighbour
///   reach(p, o) = max(d(p, o), kdist(o))
///   lrd(p)      = 1 / (mean_{o in N_k(p)} reach(p, o) + 1e-10)
///   LOF(p)      = mean_{o in N_k(p)} lrd(o) / lrd(p)
/// \endcode
/// scikit-learn's score_samples is -LOF and its negative_outlier_factor_ is -LOF of the
/// training points. kizuki's score is +LOF: higher = more anomalous (about 1 = inlier).
///
/// The neighbour search (KnnIndex), d = Euclidean distance:
/// \code{.unparsed}
///   1. the base is centred on its column mean, and so is each query (less cancellation);
///   2. d^2 ~ |q|^2 + |b|^2 - 2 q.b, clamped at 0, by kz::sgemm on blocks of query rows,
///      one GEMM per block on all threads (a block is block_rows x N floats, about 16 MB
///      when automatic; nothing else grows with N*M);
///   3. each row keeps its k + pad smallest in a bounded heap (pad = max(4, k/4));
///   4. those candidates' distances are recomputed exactly, in double from the original
///      values, and the k nearest kept, nearest first; exact ties go to the lower index.
/// \endcode
/// Step 4 puts duplicate points exactly 0 apart, as scikit-learn's tree searches do (their
/// lrd is then 1e10), and makes every distance match scikit-learn to about 1e-7.
/// The self search (fit) uses d(i, j) = d(j, i): a block of rows is multiplied only with
/// the rows from itself on, and each product feeds both rows' heaps: with at least eight
/// blocks, a little over half the GEMM work.
/// Memory beyond the distance block is O((N + block_rows) * k).
///
/// Ties: when different (not equal) points tie exactly for the k-th place, kizuki keeps the
/// lower index while scikit-learn keeps whichever its tree reaches first, so LOF may then
/// differ. Equal points are interchangeable, so duplicates give the same LOF either way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "anomaly/scorers.h"
#include "tensor/tensor.h"

namespace kz {

/// The result of a k-NN search over `rows` query rows.
struct Neighbors {
  int64_t rows = 0;              ///< query rows
  int64_t k = 0;                 ///< neighbours per row
  std::vector<int64_t> index;    ///< (rows, k) row-major: base row indices, nearest first
  std::vector<double> distance;  ///< (rows, k) Euclidean distances, exact in double
};

/// Exact k-nearest-neighbour search in Euclidean distance over a fixed base set.
class KnnIndex {
 public:
  /// base is (N,D) with N >= 1, finite values; it is copied. block_rows = query rows per
  /// GEMM block, and the self search's square tile (0 = automatic: a query block of about
  /// 16 MB of distances).
  explicit KnnIndex(const Tensor& base, int64_t block_rows = 0);

  /// query is (M,D): the k nearest base rows of each query row, 1 <= k <= N.
  Neighbors search(const Tensor& query, int64_t k) const;
  /// The k nearest other base rows of each base row (itself excluded), 1 <= k <= N - 1.
  Neighbors search_self(int64_t k) const;

  int64_t size() const { return base_.size(0); }  ///< N
  int64_t dim() const { return base_.size(1); }   ///< D
  const Tensor& base() const { return base_; }  ///< (N,D) as given

 private:
  Tensor base_;                  ///< (N,D) contiguous copy of the base
  Tensor centred_;               ///< (N,D) base minus mean_, the GEMM operand
  std::vector<float> sq_norm_;   ///< (N) squared norms of the centred rows
  float max_sq_norm_ = 0;        ///< their maximum
  std::vector<double> mean_;     ///< (D) column mean of the base
  int64_t block_rows_;
};

/// Local Outlier Factor as scikit-learn's LocalOutlierFactor(novelty=True) (see the file's
/// description); higher = more anomalous.
class Lof final : public Scorer {
 public:
  /// n_neighbors >= 1 (clipped to N - 1 at fit); block_rows as KnnIndex.
  explicit Lof(int64_t n_neighbors = 20, int64_t block_rows = 0);

  void fit(const Tensor& train) override;           ///< train is (N,D), N >= 2
  Tensor score(const Tensor& test) const override;  ///< test (M,D) -> (M,) LOF
  Tensor score_samples(const Tensor& test) const;   ///< (M,) -LOF, scikit-learn's sign
  std::vector<double> lof(const Tensor& test) const;  ///< (M,) LOF in double
  std::string name() const override { return "lof"; }
  bool fitted() const override { return index_ != nullptr; }
  /// {"train": (N,D), "n_neighbors": (1,)}; loading refits on the stored features (exact).
  ///@{
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;
  ///@}

  int64_t n_neighbors() const { return n_neighbors_; }  ///< as requested
  int64_t k() const { return k_; }                      ///< used: min(n_neighbors, N - 1)
  /// Per training point, (N,): LOF (= -negative_outlier_factor_), k-distance and lrd.
  ///@{
  const std::vector<double>& training_lof() const { return train_lof_; }
  const std::vector<double>& k_distance() const { return k_distance_; }
  const std::vector<double>& lrd() const { return lrd_; }
  ///@}

 private:
  /// lrd of each row of a search against the training set, (rows,).
  std::vector<double> reach_density(const Neighbors& nb) const;

  int64_t n_neighbors_;
  int64_t block_rows_;
  int64_t k_ = 0;
  std::shared_ptr<const KnnIndex> index_;
  std::vector<double> k_distance_, lrd_, train_lof_;
};

}  // namespace kz
