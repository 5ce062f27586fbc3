/// \file
/// reduction.h — how a loss reduces its per-element values ℓ_i, as PyTorch's `reduction=`:
/// \code{.unparsed}
///   none: ℓ itself, the input's shape;  sum: Σ_i ℓ_i;  mean: (1/n) Σ_i ℓ_i  (scalars, shape ()).
/// \endcode
/// The losses take the enum; parse_reduction reads PyTorch's names ("mean", "sum", "none"),
/// e.g. from a command line or a config.
#pragma once

#include <string>
#include <string_view>

#include "autograd/functions.h"

namespace kz {

/// PyTorch's `reduction=`: none, mean or sum (see the file's description).
enum class Reduction { none, mean, sum };

/// "mean" | "sum" | "none" -> Reduction; anything else throws "[op] unknown reduction ...".
inline Reduction parse_reduction(std::string_view name, const std::string& op) {
  if (name == "mean") return Reduction::mean;
  if (name == "sum") return Reduction::sum;
  if (name == "none") return Reduction::none;
  fail(op, fmt::format("unknown reduction '{}' (expected 'mean', 'sum' or 'none')", name));
}

/// "none", "mean" or "sum" ("unknown" for a value outside the enum).
inline const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
  }
  return "unknown";
}

/// The per-element losses `loss` reduced by r; a value outside the enum throws naming op.
inline Variable reduce_loss(const Variable& loss, Reduction r, const std::string& op) {
  switch (r) {
    case Reduction::none: return loss;
    case Reduction::mean: return mean(loss);
    case Reduction::sum: return sum(loss);
  }
  fail(op, fmt::format("unknown reduction {} (expected mean, sum or none)", static_cast<int>(r)));
}

}  // namespace kz
