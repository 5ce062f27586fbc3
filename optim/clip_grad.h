/// \file
/// clip_grad.h — clipping the total gradient norm of a set of parameters, as PyTorch's
/// torch.nn.utils.clip_grad_norm_ (norm type 2, PyTorch 1.13):
///
/// \code{.unparsed}
///   total = √(Σ_p ‖g_p‖²)          over the parameters that have a gradient
///   coef  = max_norm / (total + 1e-6)
///   g_p ← g_p · coef               only when coef < 1
/// \endcode
#pragma once

#include <vector>

#include "autograd/variable.h"

namespace kz {

/// Scales every gradient of `params` in place so that their total norm is at most max_norm
/// (> 0); parameters without a gradient are skipped. Returns the total norm before clipping.
double clip_grad_norm(const std::vector<Variable>& params, double max_norm);

}  // namespace kz
