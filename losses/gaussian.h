/// \file
/// gaussian.h — the pieces of a variational autoencoder's loss (Kingma & Welling 2014,
/// "Auto-Encoding Variational Bayes"), each per sample: the caller reduces.
///
/// Shapes: N samples; D latent dimensions; x any shape (N, ...) (an image batch (N,C,H,W), or
/// (N,F) rows). Variances are passed as log-variances, logvar = log σ², as VAEs output them.
///
/// \code{.unparsed}
///   gaussian_kl_standard(mu, logvar): mu, logvar (N,D) -> (N)
///       KL(N(μ, diag σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)
///       dKL/dμ = μ,  dKL/dlogvar = ½(σ² − 1).
///   gaussian_nll(x, mean, logvar): x, mean (N, ...) of one shape; logvar x's shape or one that
///       broadcasts to it (e.g. (C,1,1): one learned variance per channel) -> (N)
///       −log N(x; μ, σ²) = Σ over every dim but the first of ½(log 2π + log σ² + (x − μ)²/σ²),
///       with 1/σ² computed as e^−logvar (finite for logvar > −87). The same value as
///       torch.nn.functional.gaussian_nll_loss(mean, x, logvar.exp(), full=True,
///       reduction='none') summed per sample, except that PyTorch clamps σ² at eps (1e-6 by
///       default) and kizuki does not clamp. A 1-D x (N) gives the per-element values.
///   reparameterize(mu, logvar, gen): mu, logvar any shape (the same) -> z of that shape
///       z = μ + e^(½ logvar)·ε, ε ~ N(0, I) drawn from gen in row-major order
///       (Tensor::normal); dz/dμ = 1, dz/dlogvar = ½ e^(½ logvar)·ε. The overload taking ε
///       is the same op with ε given (tests, or a caller that draws ε itself).
/// \endcode
/// Composed of autograd ops (autograd/functions.h): their backwards give the gradients above.
#pragma once

#include "autograd/functions.h"
#include "tensor/generator.h"

namespace kz {

/// KL(N(μ, diag σ²) ‖ N(0, I)) per sample: mu, logvar (N,D) -> (N).
Variable gaussian_kl_standard(const Variable& mu, const Variable& logvar);
/// −log N(x; mean, e^logvar) per sample: x, mean (N, ...); logvar broadcasts -> (N).
Variable gaussian_nll(const Variable& x, const Variable& mean, const Variable& logvar);
/// z = μ + e^(½ logvar)·ε with ε ~ N(0, I) drawn from gen; z has mu's shape.
Variable reparameterize(const Variable& mu, const Variable& logvar, Generator& gen);
/// z = μ + e^(½ logvar)·ε with ε given (mu's shape).
Variable reparameterize(const Variable& mu, const Variable& logvar, const Tensor& eps);

}  // namespace kz
