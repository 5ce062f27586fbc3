// batch_norm.h — batch normalisation kernels over (N,C,H,W): oneDNN and naive reference.
//
// x is (N,C,H,W) in any memory format; weight (gamma), bias (beta), running_mean,
// running_var are (C). Training: statistics over N,H,W with the biased variance for
// normalising, running stats updated as PyTorch: r = (1−momentum)·r + momentum·stat, the
// running variance taking the unbiased variance (·M/(M−1), M = N·H·W).
// Inference: y = gamma·(x − running_mean)/sqrt(running_var + eps) + beta.
// weight/bias may be undefined (no affine transform: gamma 1, beta 0), running stats may be
// undefined in training (not tracked). y and dx are in x's memory format.
#pragma once

#include "tensor/tensor.h"

namespace kz {

struct BatchNormSaved {  // what backward needs from a training forward
  Tensor mean;     // (C)
  Tensor inv_std;  // (C) 1/sqrt(var + eps), or the variance — as the kernel prefers
  Tensor var;      // (C) biased batch variance
};

// training: uses batch statistics, fills *saved, updates running stats in place.
Tensor batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          Tensor& running_mean, Tensor& running_var, bool training,
                          float momentum, float eps, BatchNormSaved* saved);
// Gradients of a training-mode forward: dx (N,C,H,W), dweight (C), dbias (C).
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                         const BatchNormSaved& saved, float eps, Tensor* dx, Tensor* dweight,
                         Tensor* dbias);

// Gradients of an inference-mode forward, the running statistics being constants:
// dx = dy·gamma/sqrt(running_var + eps), dweight = Σ dy·x̂, dbias = Σ dy (x̂ normalised
// with the running statistics). Used when BN layers stay in eval mode while training.
void batch_norm_backward_inference(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   const Tensor& running_mean, const Tensor& running_var,
                                   float eps, Tensor* dx, Tensor* dweight, Tensor* dbias);

// Reference loops with the same contracts (statistics summed in double).
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

}  // namespace kz
