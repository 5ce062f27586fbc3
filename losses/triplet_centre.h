/// \file
/// triplet_centre.h — GOAD's triplet-centre loss and score (Bergman & Hoshen 2020,
/// "Classification-Based Anomaly Detection for General Data").
///
/// Shapes: B images, M transformations, D feature dimension; z (B,M,D) holds the features
/// of every transformation of every image of a batch (row b, transformation m).
/// \code{.unparsed}
///   c_m    = (1/B) Σ_b z_bm                          the batch's centre of transformation m
///   d_bmk  = ‖z_bm − c_k‖²
///   L      = (1/(B·M)) Σ_{b,m} max(0, d_bmm + margin − min_{k≠m} d_bmk)
/// \endcode
/// The centres are part of the graph (their gradient reaches every z of their
/// transformation), as in the authors' code. Backward, with w = 1/(B·M) for each active
/// (b,m) (hinge > 0) and k* its nearest other centre:
/// \code{.unparsed}
///   dz_bm += 2w (z_bm − c_m) − 2w (z_bm − c_k*)
///   dc_m  −= 2w (z_bm − c_m),  dc_k* += 2w (z_bm − c_k*),  then dz_b'k += dc_k / B for all b'
/// \endcode
/// The score of an image, from centres fitted on the normal training set (eval mode):
/// \code{.unparsed}
///   score = −Σ_m log softmax_k(−‖z_m − c_k‖²)[m]      higher = more anomalous
/// \endcode
#pragma once

#include "autograd/variable.h"

namespace kz {

/// z (B,M,D), M ≥ 2 -> the scalar triplet-centre loss above (margin ≥ 0).
Variable triplet_centre_loss(const Variable& z, float margin = 1.0f);

/// z (N,M,D), centres (M,D) -> (N) GOAD scores as above; no gradient. The distances come
/// from one GEMM (‖z‖² + ‖c‖² − 2 z·c, clamped at 0).
Tensor triplet_centre_scores(const Tensor& z, const Tensor& centres);

}  // namespace kz
