/// \file
/// scorers.h — anomaly scorers over feature vectors: the one `Scorer` interface, and the
/// cosine and k-NN distance scorers (LOF, the third, is in anomaly/lof.h).
///
/// Shape letters: N = fitted (normal training) samples, M = scored samples, D = feature
/// dimension, C = classes. Convention everywhere in kizuki: a higher score is more anomalous.
///
/// A scorer is fitted once on the normal training features and then scores any number of
/// batches. Its state (what `fit` learned) is a map of named tensors, so a model file can
/// embed it (state_dict / load_state_dict, as layers/module.h does for parameters).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

class KnnIndex;  // anomaly/lof.h

/// An anomaly scorer of feature vectors (see the file's description).
class Scorer {
 public:
  virtual ~Scorer() = default;  ///< scorers are held by unique_ptr
  /// train is (N,D): the normal training features.
  virtual void fit(const Tensor& train) = 0;
  /// test is (M,D) -> (M,) scores, higher = more anomalous. Needs fit() first.
  virtual Tensor score(const Tensor& test) const = 0;
  virtual std::string name() const = 0;  ///< "lof", "cosine", "knn"
  virtual bool fitted() const = 0;  ///< whether fit() (or load_state_dict()) ran
  /// What fit() learned, as named tensors (model files embed it); load_state_dict restores
  /// it, checking every key and shape.
  ///@{
  virtual std::map<std::string, Tensor> state_dict() const = 0;
  virtual void load_state_dict(const std::map<std::string, Tensor>& state) = 0;
  ///@}
};

/// The input check shared by scorers and scalers: x must be a defined 2-D tensor (rows, D)
/// with rows >= 1, D >= 1 and only finite values; `what` names it in errors ("train",
/// "test"), which start with "[op]" and give the shape. Returns x contiguous.
Tensor checked_features(const Tensor& x, const std::string& op, const std::string& what);

/// "lof" (n_neighbors = k), "knn" (k-th neighbour distance, k = k), "cosine" (nearest
/// training feature) or "cosine_centres" (class centres); k <= 0 takes each one's default.
/// An unknown name is a kz::Error listing the known ones.
std::unique_ptr<Scorer> make_scorer(const std::string& name, int64_t k = 0);

/// Cosine scorer: score(x) = 1 - max_t cos(x, t) over the fitted training features t (mode
/// kNearest), or over class centres (mode kCentres). A centre is the mean of its class's
/// L2-normalised features (their mean direction); fit(train) without labels makes one centre.
/// A zero vector has cosine similarity 0 with everything (score 1), as scikit-learn's
/// cosine_similarity. Similarities are found with one GEMM per block of rows; the winning
/// score is then recomputed in double as ||x/|x| - t/|t|||^2 / 2 (= 1 - cos), exact near 0.
class CosineScorer final : public Scorer {
 public:
  /// kNearest: against every training feature; kCentres: against class centres.
  enum class Mode { kNearest, kCentres };
  explicit CosineScorer(Mode mode = Mode::kNearest);  ///< not fitted yet

  void fit(const Tensor& train) override;                          ///< train is (N,D)
  void fit(const Tensor& train, const std::vector<int64_t>& labels);  ///< labels (N,) in [0,C)
  Tensor score(const Tensor& test) const override;                 ///< (M,D) -> (M,)
  std::string name() const override;  ///< "cosine" or "cosine_centres"
  bool fitted() const override { return references_.defined(); }
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;

  Mode mode() const { return mode_; }  ///< as constructed
  const Tensor& references() const { return references_; }  ///< (N,D) or (C,D), unit rows

 private:
  Mode mode_;
  Tensor references_;  ///< unit-length rows (zero rows stay zero)
};

/// k-NN distance scorer (Ramaswamy et al.\ 2000; PyOD's KNN): the Euclidean distance from x
/// to its k-th nearest training feature (reduce kKth, the default) or the mean distance to
/// its k nearest (kMean). k defaults to 5 and is clipped to N. Neighbours come from the GEMM
/// search of anomaly/lof.h, with distances exact in double.
class KnnScorer final : public Scorer {
 public:
  /// kKth: the k-th neighbour's distance; kMean: the mean of the k nearest.
  enum class Reduce { kKth, kMean };
  explicit KnnScorer(int64_t k = 5, Reduce reduce = Reduce::kKth);  ///< k >= 1; not fitted yet

  void fit(const Tensor& train) override;           ///< train is (N,D)
  Tensor score(const Tensor& test) const override;  ///< (M,D) -> (M,)
  std::string name() const override { return "knn"; }
  bool fitted() const override;
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;

  int64_t k() const { return k_; }  ///< as requested
  int64_t k_used() const;  ///< min(k, N) once fitted

 private:
  int64_t k_;
  Reduce reduce_;
  std::shared_ptr<const KnnIndex> index_;
};

}  // namespace kz
