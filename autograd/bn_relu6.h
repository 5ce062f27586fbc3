/// \file
/// bn_relu6.h — relu6(batch_norm(...)) as one fused differentiable op (autograd/bn_relu6.cpp;
/// kernels in tensor/batch_norm.h). Arguments as kz::batch_norm (autograd/functions.h):
/// x (N,C,H,W); weight, bias (C), both required; running stats (C) updated in place when
/// training. Returns y (N,C,H,W) in x's layout.
#pragma once

#include "autograd/functions.h"

namespace kz {

/// min(max(batch_norm(x), 0), 6), fused (see the file's description).
Variable batch_norm_relu6(const Variable& x, const Variable& weight, const Variable& bias,
                          Tensor& running_mean, Tensor& running_var, bool training,
                          float momentum, float eps);

}  // namespace kz
