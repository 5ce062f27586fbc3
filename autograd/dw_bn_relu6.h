/// \file
/// dw_bn_relu6.h — relu6(batch_norm(depthwise_conv3x3(x))) in training mode, stride 1 and
/// padding 1, as one differentiable op (autograd/dw_bn_relu6.cpp; kernels and formulas in
/// tensor/dw_bn_relu6.h). x (N,C,H,W) channels-last; weight (C,1,3,3); gamma, beta (C);
/// running stats (C) updated in place. Returns z (N,C,H,W) channels-last.
#pragma once

#include "autograd/functions.h"

namespace kz {

/// relu6(batch_norm(conv2d(x, weight, groups = C, stride 1, padding 1))), fused (see the
/// file's description).
Variable dw_bn_relu6(const Variable& x, const Variable& weight, const Variable& gamma,
                     const Variable& beta, Tensor& running_mean, Tensor& running_var,
                     float momentum, float eps);

}  // namespace kz
