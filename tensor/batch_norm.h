/// \file
/// batch_norm.h — batch normalisation kernels over (N,C,H,W): oneDNN and naive reference.
///
/// x is (N,C,H,W) in any memory format; weight (gamma), bias (beta), running_mean,
/// running_var are (C). Training: statistics over N,H,W with the biased variance for
/// normalising, running stats updated as PyTorch: r = (1−momentum)·r + momentum·stat, the
/// running variance taking the unbiased variance (·M/(M−1), M = N·H·W).
/// Inference: y = gamma·(x − running_mean)/sqrt(running_var + eps) + beta.
/// weight/bias may be undefined (no affine transform: gamma 1, beta 0), running stats may be
/// undefined in training (not tracked). y and dx are in x's memory format.
#pragma once

#include "tensor/tensor.h"

namespace kz {

/// What backward needs from a training forward.
struct BatchNormSaved {
  Tensor mean;     ///< (C)
  Tensor inv_std;  ///< (C) 1/sqrt(var + eps), or the variance — as the kernel prefers
  Tensor var;      ///< (C) biased batch variance
};

/// y (N,C,H,W) in x's memory format. Training (`training`): uses batch statistics, fills
/// *saved, updates running stats in place; else normalises with the running stats.
Tensor batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          Tensor& running_mean, Tensor& running_var, bool training,
                          float momentum, float eps, BatchNormSaved* saved);
/// Checks the settings every training-mode batch norm takes (also the fused ops of
/// tensor/conv_bn_relu6.h and tensor/dw_bn_relu6.h): eps ≥ 0, momentum in [0, 1], and
/// running_mean and running_var both given or both undefined. Errors name `op`.
void check_batch_norm_settings(const Tensor& running_mean, const Tensor& running_var,
                               float momentum, float eps, const char* op);
/// The running statistics' update after a training forward over `count` values per channel:
/// r = (1−momentum)·r + momentum·stat, the variance taking the unbiased ·count/(count−1).
void batch_norm_update_running(Tensor& running_mean, Tensor& running_var, const Tensor& mean,
                               const Tensor& var, float momentum, int64_t count);

/// Batch norm with statistics (mean, var) folded into the convolution before it: per output
/// channel o, a = gamma/sqrt(var + eps), weight' = weight·a, bias' = (bias − mean)·a + beta
/// (an undefined bias counts as 0). weight (O, …), any shape with O first; the rest (O).
/// Inference folds the running statistics (layers/mobilenet_v2.cpp), the fused training
/// expansion the batch statistics (tensor/conv_bn_relu6.cpp).
struct FoldedConv {
  /// weight's shape, (O)
  ///@{
  Tensor weight, bias;
  ///@}
};
/// Folds batch norm (gamma, beta, mean, var, eps) into a convolution's weight and bias.
FoldedConv batch_norm_fold(const Tensor& weight, const Tensor& bias, const Tensor& gamma,
                           const Tensor& beta, const Tensor& mean, const Tensor& var, float eps);

/// Gradients of a training-mode forward: dx (N,C,H,W), dweight (C), dbias (C).
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                         const BatchNormSaved& saved, float eps, Tensor* dx, Tensor* dweight,
                         Tensor* dbias);

/// Gradients of an inference-mode forward, the running statistics being constants:
/// dx = dy·gamma/sqrt(running_var + eps), dweight = Σ dy·x̂, dbias = Σ dy (x̂ normalised
/// with the running statistics). Used when BN layers stay in eval mode while training.
void batch_norm_backward_inference(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   const Tensor& running_mean, const Tensor& running_var,
                                   float eps, Tensor* dx, Tensor* dweight, Tensor* dbias);

/// Reference loops with the same contracts (statistics summed in double).
///@{
Tensor batch_norm_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                Tensor& running_mean, Tensor& running_var, bool training,
                                float momentum, float eps, BatchNormSaved* saved);
void batch_norm_backward_naive(const Tensor& dy, const Tensor& x, const Tensor& weight,
                               const BatchNormSaved& saved, float eps, Tensor* dx,
                               Tensor* dweight, Tensor* dbias);
void batch_norm_backward_inference_naive(const Tensor& dy, const Tensor& x,
                                         const Tensor& weight, const Tensor& running_mean,
                                         const Tensor& running_var, float eps, Tensor* dx,
                                         Tensor* dweight, Tensor* dbias);
///@}

// --- batch norm then ReLU6, fused (MobileNetV2's Conv-BN-ReLU6) ---------------------------
/// y = min(max(z, 0), 6) with z = batch_norm(x) as above (training or inference). On
/// channels-last x (the fast path) one kernel of kizuki's own: forward two passes over x
/// (shifted per-channel moments, then y), backward two passes over x and dy (the ReLU6 mask
/// recomputed from x: dz = dy where 0 < z < 6, then batch norm's backward of dz). z itself is
/// never stored. Other layouts run the oneDNN batch norm with the clamp after it.
/// *saved (when given) is filled in both modes: the batch statistics in training, copies of
/// the running statistics in inference. weight and bias must be defined (affine).
Tensor batch_norm_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                Tensor& running_mean, Tensor& running_var, bool training,
                                float momentum, float eps, BatchNormSaved* saved);
/// Gradients of that forward: dx (N,C,H,W, x's layout), dweight (C), dbias (C); any of the
/// three may be null. `training` as in the forward (batch statistics or constants).
/// In place: when *dx comes in as dy itself (same buffer, channels-last), dx is written over
/// dy, which the caller must need no more.
void batch_norm_relu6_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                               const Tensor& bias, const BatchNormSaved& saved, bool training,
                               float eps, Tensor* dx, Tensor* dweight, Tensor* dbias);
/// References: the naive batch norm above, then the clamp / the mask.
///@{
Tensor batch_norm_relu6_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      Tensor& running_mean, Tensor& running_var, bool training,
                                      float momentum, float eps, BatchNormSaved* saved);
void batch_norm_relu6_backward_naive(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                     const Tensor& bias, const BatchNormSaved& saved,
                                     bool training, float eps, Tensor* dx, Tensor* dweight,
                                     Tensor* dbias);
///@}

}  // namespace kz
