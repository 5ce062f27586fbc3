/// \file
/// dw_bn_relu6.h — a 3×3 depthwise convolution (stride 1, padding 1), training-mode batch
/// norm and ReLU6 as one op: MobileNetV2's stride-1 depthwise layers while training.
///
/// \code{.unparsed}
///   y = dw(x, w)     x (N,C,H,W) channels-last; w (C,1,3,3); y (N,C,H,W), M = N·H·W rows
///                    y[n,c,h,v] = Σ_{i,j<3} w[c,0,i,j]·x[n,c,h+i−1,v+j−1] (0 outside x)
///   z = min(max(a·(y − μ) + β, 0), 6),   a = γ/σ,   μ, σ² the batch mean and (biased)
///                    variance of y per channel, σ² + ε under the root; γ, β (C); z like x
/// \endcode
///
/// y costs 9 multiply-adds per value, less than a trip through memory, so it is never
/// stored: it is recomputed from x wherever it is needed.
///   Forward, 3 passes over activations (unfused: 5): pass 1 computes y row by row and sums
///   y − K and (y − K)² per channel (K a per-channel shift, y at the first pixel; float over
///   a row, double across); then μ, σ², the running statistics (as batch norm's) and
///   z = min(max(dw(x, a·w) + β − a·μ, 0), 6), written once.
///   Backward, given dz, x and the saved μ, 1/σ, with g = dz where 0 < z < 6 (else 0; z
///   recomputed from y, itself recomputed from x: the forward's z is not read):
/// \code{.unparsed}
///   dβ = Σ g,   dγ = Σ g·ŷ,   ŷ = (y − μ)/σ
///   dy = (a/M)·(M·g − dβ − ŷ·dγ)
///   dx = dw(dy, w flipped 180°)  (the depthwise backward-data at stride 1, padding 1)
///   dw[c,0,i,j] = Σ dy[n,c,h,v]·x[n,c,h+i−1,v+j−1]
/// \endcode
///   Pass 1 reads x and dz (dβ, dγ); pass 2 reads them again and, a band of rows of one
///   image at a time, forms dy in a per-thread buffer that stays in L2, then dx and the
///   weight sums from it: 5 activation-sized passes (unfused: 9), dy never in memory. The
///   price is compute: y made twice more, 36 multiply-adds per value in all.
/// Stride 2 stays on the unfused path (x is 4× y there; recomputing y pays less).
/// Not used by layers/mobilenet_v2.cpp yet: inside a training step it was no faster than the
/// unfused layers (docs/performance.md, "Tried in this round and not wired in").
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// What the backward needs from the forward: the batch statistics of y.
struct DwBnSaved {
  std::vector<double> mean;     ///< μ (C)
  std::vector<double> inv_std;  ///< 1/σ = 1/√(σ² + ε) (C)
};

/// Training forward: z (N,C,H,W) channels-last; running_mean/var (C) updated in place as
/// batch norm's (tensor/batch_norm.h), unless both undefined. x channels-last (N,C,H,W);
/// weight (C,1,3,3); gamma, beta (C); *saved (when given) filled for the backward.
Tensor dw_bn_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& gamma,
                           const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                           float momentum, float eps, DwBnSaved* saved);
/// Gradients given dz (N,C,H,W), the forward's inputs and *saved: dx (N,C,H,W)
/// channels-last, dweight (C,1,3,3), dgamma, dbeta (C); any may be null.
void dw_bn_relu6_backward(const Tensor& dz, const Tensor& x, const Tensor& weight,
                          const Tensor& gamma, const Tensor& beta, const DwBnSaved& saved,
                          Tensor* dx, Tensor* dweight, Tensor* dgamma, Tensor* dbeta);

}  // namespace kz
