/// \file
/// doc.h — Deep One-Class classification losses (Perera & Patel 2018,
/// "Learning Deep Features for One-Class Classification").
///
/// Shapes: a batch of n target outputs of dimension k, (n,k); a reference batch of B
/// samples over C reference classes, logits (B,C).
///
/// Compactness, with m the batch mean:
/// \code{.unparsed}
///   l_C = 1/(n·k) · Σ_i (n²/(n−1)²) · ‖x_i − m‖²
/// \endcode
/// (n/(n−1)·(x_i − m) is x_i minus the mean of the *other* samples, the paper's z_i.)
/// Batch of one: there are no other samples, and the formula divides 0 by 0. kizuki defines
/// l_C = 0 for n = 1, with a zero gradient (the batch contributes nothing to compactness),
/// so a short last batch does not stop training. In the paper k is the output dimension of
/// the network evaluated on the target batch (the classification layer's C); any (n,k)
/// works.
///
/// Descriptiveness: l_D = softmax cross-entropy of the reference batch's logits (through a
/// classification head, e.g. SoftmaxHead). Total: L = l_D + λ·l_C, λ = 0.1 in the paper.
/// The seed alternated the two updates per batch instead of summing: backpropagate
/// `descriptiveness` and `compactness` separately for that, or `total` for the sum.
#pragma once

#include <vector>

#include "autograd/functions.h"

namespace kz {

/// outputs (n,k) -> scalar l_C.
Variable doc_compactness_loss(const Variable& outputs);

/// doc_loss's parts, each a scalar.
struct DocLoss {
  Variable descriptiveness;  ///< l_D
  Variable compactness;      ///< l_C
  Variable total;            ///< l_D + λ·l_C
};

/// reference_logits (B,C) with reference_labels (B ints in [0,C)); target_outputs (n,k).
DocLoss doc_loss(const Variable& reference_logits, const std::vector<int64_t>& reference_labels,
                 const Variable& target_outputs, float lambda = 0.1f);

}  // namespace kz
