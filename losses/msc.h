/// \file
/// msc.h — the Mean-Shifted Contrastive loss (Reiss & Hoshen 2023, "Mean-Shifted Contrastive
/// Loss for Anomaly Detection"), as the authors' code computes it.
///
/// Shapes: two augmented views of B images, features (B,F) each; the centre c is (F), the
/// normalised mean of the normalised pretrained features of the normal training set.
///
/// \code{.unparsed}
///   z1 = φ1/‖φ1‖, z2 = φ2/‖φ2‖                 (per image)
///   u = (z1 − c)/‖z1 − c‖, v = (z2 − c)/‖z2 − c‖   (the mean-shifted views, renormalised)
///   contrastive  over the 2B rows w of [u; v], S_ij = w_i·w_j / τ:
///                (1/2B) Σ_i −log( exp(S_i,i') / Σ_{j≠i} exp(S_ij) ),  i' the other view of i
///   angular      (1/B) Σ_b ‖z1_b − c‖² + (1/B) Σ_b ‖z2_b − c‖²
///                 = (1/B) Σ_b 2(1 − cos(z1_b, c)) + 2(1 − cos(z2_b, c))
///   total        contrastive + angular
/// \endcode
/// The angular term is the code's (out_1 ** 2).sum(1).mean() + (out_2 ** 2).sum(1).mean() on
/// the shifted unit features: the paper's 1 − cos(z, c) summed over both views, times 2.
/// τ = 0.25 in the paper. c is a constant (no gradient).
#pragma once

#include "autograd/functions.h"

namespace kz {

/// msc_loss's parts, each a scalar.
struct MscLoss {
  Variable contrastive;  ///< the NT-Xent term over the mean-shifted views
  Variable angular;      ///< the angular centre term
  Variable total;        ///< contrastive + angular
};

/// features1, features2 (B,F) the backbone's features of the two views (not normalised),
/// center (F) of unit norm, tau > 0; B ≥ 2.
MscLoss msc_loss(const Variable& features1, const Variable& features2, const Tensor& center,
                 float tau = 0.25f);

}  // namespace kz
