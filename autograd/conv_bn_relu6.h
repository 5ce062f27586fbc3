/// \file
/// conv_bn_relu6.h — relu6(batch_norm(conv1x1(x))) in training mode as one differentiable op
/// (autograd/conv_bn_relu6.cpp; kernels and formulas in tensor/conv_bn_relu6.h).
/// x (N,C,H,W) channels-last; weight (O,C,1,1); gamma, beta (O); running stats (O) updated in
/// place. Returns z (N,O,H,W) channels-last.
#pragma once

#include "autograd/functions.h"

namespace kz {

/// relu6(batch_norm(conv1x1(x))), fused (see the file's description).
Variable conv1x1_bn_relu6(const Variable& x, const Variable& weight, const Variable& gamma,
                          const Variable& beta, Tensor& running_mean, Tensor& running_var,
                          float momentum, float eps);

}  // namespace kz
