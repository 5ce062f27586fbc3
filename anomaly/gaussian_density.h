/// \file
/// gaussian_density.h — the Gaussian density scorer "gde" (CutPaste, Li et al. 2021; Rippel et
/// al. 2020): one Gaussian fitted to the normal training features with a Ledoit–Wolf shrunk
/// covariance, an image scored by its squared Mahalanobis distance to it.
///
/// Shapes: N fitted samples, M scored samples, D feature dimension.
/// \code{.unparsed}
///   μ = mean of the training rows x_i;  X = the rows minus μ;  S = XᵀX / N;  m = tr(S) / D
///   Ledoit–Wolf shrinkage (scikit-learn's ledoit_wolf_shrinkage, the 2004 estimator):
///     β' = Σ_jk (Σ_i X_ij² X_ik²),  δ' = Σ_jk S_jk²
///     β  = (β'/N − δ') / (D·N),     δ = (δ' − 2m·tr(S) + D·m²) / D
///     ρ  = 0 if β = 0, else min(β, δ) / δ
///   Σ = (1 − ρ) S + ρ m I;   P = Σ⁻¹ (Cholesky, in double)
///   score(x) = (x − μ)ᵀ P (x − μ)       higher = more anomalous
/// \endcode
/// Checked against scikit-learn's LedoitWolf (shrinkage, covariance, mahalanobis) in
/// tests/fixtures/make_scoring.py. The state is μ (D) and P (D,D).
#pragma once

#include <map>
#include <string>

#include "anomaly/scorers.h"

namespace kz {

/// The Ledoit–Wolf estimate of training rows (N,D): the shrunk covariance (D,D) and ρ.
struct LedoitWolf {
  Tensor location;    ///< μ (D)
  Tensor covariance;  ///< Σ (D,D)
  double shrinkage = 0.0;  ///< ρ in [0, 1]
};
/// Fits LedoitWolf to train (N,D), N ≥ 2 (see the file's description; sums in double).
LedoitWolf ledoit_wolf(const Tensor& train);

/// The Gaussian density scorer (see the file's description).
class GaussianDensityScorer final : public Scorer {
 public:
  void fit(const Tensor& train) override;           ///< train is (N,D), N ≥ 2
  Tensor score(const Tensor& test) const override;  ///< (M,D) -> (M,)
  std::string name() const override { return "gde"; }
  bool fitted() const override { return precision_.defined(); }
  std::map<std::string, Tensor> state_dict() const override;  ///< "location", "precision"
  void load_state_dict(const std::map<std::string, Tensor>& state) override;
  double shrinkage() const { return shrinkage_; }  ///< ρ of the last fit()

 private:
  Tensor location_, precision_;
  double shrinkage_ = 0.0;
};

}  // namespace kz
