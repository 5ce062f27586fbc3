/// \file
/// diagnostics.h — whether a set of features is collapsing, for watching a network train
/// (--eval-every, anomaly/experiment.h): features of normal images that all point one way
/// can no longer tell an anomaly apart.
///
/// Shapes: X is (n,F), n ≥ 2 features; X̄ = X − (the mean row), the centred features.
/// \code{.unparsed}
///   mean_cosine     (1/(n(n−1))) Σ_{i≠j} cos(x̄_i, x̄_j)  (rows of zero norm count as 0)
///   effective_rank  (Σλ)² / Σλ², λ the eigenvalues of X̄ᵀX̄ (the participation ratio),
///                   = ‖X̄‖_F⁴ / ‖X̄X̄ᵀ‖_F² (no eigendecomposition needed); 0 when X̄ = 0
/// \endcode
/// Centred features of n points spread evenly have mean cosine −1/(n−1); collapse onto one
/// direction drives it toward 1 and the effective rank toward 1.
#pragma once

#include "tensor/tensor.h"

namespace kz {

/// The two measures of the file's description.
struct FeatureDiagnostics {
  double mean_cosine = 0.0;     ///< of the centred features, over pairs i ≠ j
  double effective_rank = 0.0;  ///< participation ratio of the centred features' spectrum
};

/// Diagnostics of features (n,F), n ≥ 2, computed in double through GEMMs.
FeatureDiagnostics feature_diagnostics(const Tensor& features);

}  // namespace kz
