/// \file
/// conv_bn_relu6.h — a pointwise convolution, training-mode batch norm and ReLU6 as one op:
/// MobileNetV2's expansion layers (1×1 conv from C to O > C channels, BN, ReLU6) while training.
///
/// \code{.unparsed}
///   y = W·x          x (N,C,H,W) channels-last = X (M,C), M = N·H·W; W (O,C,1,1); y (M,O)
///   z = min(max(γ·(y − μ)/σ + β, 0), 6)     μ, σ² = the batch mean and variance of y, σ² + ε
///                                            under the root; γ, β (O); z (N,O,H,W)
/// \endcode
///
/// y is never made. Its statistics follow from x's, because y is linear in x:
/// \code{.unparsed}
///   μ = W·μx,   σ²_o = w_oᵀ·Σx·w_o        (μx (C) the mean of x, Σx (C,C) its covariance)
/// \endcode
/// and Σx costs C²·M multiply-adds where y costs C·O·M: a sixth at expansion 6. With μ and σ
/// known before the convolution runs, batch norm folds into it,
/// \code{.unparsed}
///   z = min(max(W'·x + b', 0), 6),   W' = diag(a)·W,  b' = β − a·μ,  a = γ/σ,
/// \endcode
/// one pass writing z once (the unfused path writes y, reads it twice for the statistics and
/// the normalisation, writes z).
///
/// The backward needs no ŷ (the normalised y) either; with g = dz where 0 < z < 6 (else 0):
/// \code{.unparsed}
///   dβ = Σ_m g,   dγ_o = (1/σ_o)·Σ_c W_oc·Gc_oc,   Gc = gᵀ·X − dβ·μxᵀ   (O,C)
///   dW = diag(a)·(Gc − diag(dγ/σ)·W·Σx)
///   dx = g·W' − (X − μx)·K − 1·vᵀ,   K = Wᵀ·diag(a·dγ/(σ·M))·W (C,C),  v = Wᵀ·(a·dβ)/M (C)
/// \endcode
/// (batch norm's backward dy = a·(g − dβ/M − ŷ·dγ/M) pushed through y = W·x, using
/// ŷ = W·(x − μx)/σ and Σ_m ŷ_m·(x_m − μx)ᵀ = M·W·Σx/σ). So the backward is one pass over z
/// and dz, block by block: g, then the convolution's two backward GEMMs on the block (gᵀ·X
/// and g·W') while it is in L2, then a C×C correction of dx. The unfused path's passes over
/// (M,O) data (batch norm's five, the convolution's two reads of dy) become two reads.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// Where the fused op pays (layers/mobilenet_v2.cpp): C < O input and output channels and
/// M ≥ kMinRowsPerOutput·O rows, where the passes it saves over (M,O) data outweigh the C×C
/// work (measured: docs/performance.md, change 9).
inline constexpr int64_t kMinRowsPerOutput = 12;
/// Whether the fused op pays for a layer of `rows` = N·H·W, C = in_channels, O = out_channels.
bool conv1x1_bn_relu6_pays(int64_t rows, int64_t in_channels, int64_t out_channels);

/// What the backward needs from the forward.
struct Conv1x1BnSaved {
  Tensor folded_weight;         ///< W' (O,C,1,1)
  Tensor weight_cov;            ///< W·Σx (O,C)
  std::vector<double> x_mean;   ///< μx (C)
  std::vector<double> inv_std;  ///< 1/σ (O)
};

/// Training forward: z (N,O,H,W) channels-last; running_mean/var (O) updated in place as
/// batch norm's (tensor/batch_norm.h), unless undefined. x channels-last (N,C,H,W); weight
/// (O,C,1,1); gamma, beta (O).
Tensor conv1x1_bn_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& gamma,
                                const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                float momentum, float eps, Conv1x1BnSaved* saved);
/// Gradients given dz (N,O,H,W) and the forward's z: dx (N,C,H,W) channels-last, dweight
/// (O,C,1,1), dgamma, dbeta (O); any may be null.
void conv1x1_bn_relu6_backward(const Tensor& dz, const Tensor& z, const Tensor& x,
                               const Tensor& weight, const Tensor& gamma,
                               const Conv1x1BnSaved& saved, Tensor* dx, Tensor* dweight,
                               Tensor* dgamma, Tensor* dbeta);

}  // namespace kz
