/// \file
/// reconstruction.h — the reconstruction losses of autoencoders, as PyTorch's functions.
///
/// input (or logits) x and target y have the same shape, any shape; i runs over elements.
/// \code{.unparsed}
///   mse_loss:  ℓ_i = (x_i − y_i)²;  dℓ/dx = 2(x − y), dℓ/dy = −2(x − y).
///   l1_loss:   ℓ_i = |x_i − y_i|;   dℓ/dx = sign(x − y) (0 where x = y, as PyTorch),
///              dℓ/dy = −dℓ/dx.
///   binary_cross_entropy_with_logits, y ∈ [0, 1] (soft targets allowed):
///              ℓ_i = −[y log σ(x) + (1 − y) log(1 − σ(x))]
///                  = max(x, 0) − x·y + log(1 + e^−|x|)    (computed so: finite for any x);
///              dℓ/dx = σ(x) − y,  dℓ/dy = −x.
/// \endcode
/// Then the reduction (losses/reduction.h): none keeps x's shape (and its memory format when x
/// is dense), mean and sum give a scalar. Gradients reach input and target, as in PyTorch.
/// x and y of different shapes throw, naming the op and both shapes (PyTorch would broadcast
/// with a warning; for a reconstruction that is always a bug).
#pragma once

#include "autograd/functions.h"
#include "losses/reduction.h"

namespace kz {

/// Squared error (x − y)², reduced.
Variable mse_loss(const Variable& input, const Variable& target,
                  Reduction reduction = Reduction::mean);
/// Absolute error |x − y|, reduced.
Variable l1_loss(const Variable& input, const Variable& target,
                 Reduction reduction = Reduction::mean);
/// Binary cross-entropy of sigmoid(logits) against targets in [0, 1], reduced.
Variable binary_cross_entropy_with_logits(const Variable& logits, const Variable& target,
                                          Reduction reduction = Reduction::mean);

}  // namespace kz
