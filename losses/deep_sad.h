/// \file
/// deep_sad.h — the Deep SAD loss (Ruff et al. 2020, "Deep Semi-Supervised Anomaly
/// Detection"), which is Deep SVDD's (Ruff et al. 2018) when no anomaly is labelled.
///
/// Shapes: N samples, D output dimension; z (N,D) the network's outputs, c (D) the centre.
/// \code{.unparsed}
///   d_i  = ‖z_i − c‖²
///   ℓ_i  = d_i                        unlabelled (the normal training images)
///        = η · (d_i + ε)^(−1)         a known anomaly: pushed away from c
///   L    = (1/N) Σ_i ℓ_i              η = 1, ε = 1e-6 (the authors' code)
/// \endcode
/// Score of an image: d = ‖φ(x) − c‖², higher = more anomalous. The centre is the mean output
/// of the training data before training, each entry of magnitude below 0.1 moved to ±0.1
/// (its own sign), so that no coordinate is trivially matched by a zero output
/// (deep_sad_centre). An entry exactly 0 stays 0, as in the authors' code.
#pragma once

#include <vector>

#include "autograd/functions.h"

namespace kz {

/// z (N,D), c (D), known[i] = whether sample i is a labelled anomaly -> the scalar L above.
Variable deep_sad_loss(const Variable& z, const Tensor& c, const std::vector<bool>& known,
                       float eta = 1.0f, float eps = 1e-6f);

/// The centre from outputs (N,D) of the untrained network: their mean, entries with
/// 0 < |c_i| < `min_abs` set to ±min_abs -> (D).
Tensor deep_sad_centre(const Tensor& outputs, float min_abs = 0.1f);

}  // namespace kz
