/// \file
/// panda.h — the losses of PANDA (Reiss et al. 2021, "PANDA: Adapting Pretrained Features
/// for Anomaly Detection and Segmentation"): compactness about a fixed centre, and the pull
/// of the trained weights toward the pretrained ones that keeps the features from collapsing.
///
/// Shapes: N features of dimension F, (N,F); the centre c is (F). Parameters θ_p and their
/// anchors θ0_p (and weights F_p) any shape, the same per p.
///
/// \code{.unparsed}
///   compactness   L_C = (1/N) Σ_n ‖x_n − c‖²                 (PANDA's CompactnessLoss)
///   weight pull   L_P = (λ/2) Σ_p Σ_i F_pi (θ_pi − θ0_pi)²
/// \endcode
/// With every F_pi = 1 the pull is L2-SP (Li et al. 2018, "Explicit Inductive Bias for
/// Transfer Learning"); with F a diagonal Fisher information it is EWC (Kirkpatrick et al.
/// 2017), as PANDA-EWC. c, θ0 and F are constants: gradients flow to x and θ only.
#pragma once

#include <vector>

#include "autograd/functions.h"

namespace kz {

/// features (N,F), center (F) -> scalar L_C.
Variable panda_compactness_loss(const Variable& features, const Tensor& center);

/// params θ_p with anchors θ0_p of the same shapes; fisher: one F_p per parameter of the same
/// shape, or empty for F = 1 (L2-SP); lambda ≥ 0 -> scalar L_P.
Variable weight_pull_loss(const std::vector<Variable>& params, const std::vector<Tensor>& anchors,
                          const std::vector<Tensor>& fisher, float lambda);

}  // namespace kz
