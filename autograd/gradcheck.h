/// \file
/// gradcheck.h — finite-difference check of an op's backward, shared by every op test.
///
/// f maps input Variables to an output Variable. gradcheck reduces the output to a scalar
/// L = Σ out·w with fixed random weights w, takes analytic dL/dx by backward(), and compares
/// each entry with the central difference (L(x+ε) − L(x−ε)) / 2ε computed in float64 from
/// float32 forwards. Passes when |analytic − numeric| ≤ atol + rtol·|numeric| everywhere.
/// Float32 forwards make ε = 1e-3 and tolerances ~1e-2 the right scale. Inputs keep their
/// memory format: a channels-last input is checked channels-last.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace kz {

/// gradcheck's verdict.
struct GradcheckResult {
  bool ok = true;       ///< every entry within tolerance
  std::string message;  ///< the first failing input/element, analytic vs numeric
};

/// Checks f's backward at `inputs` (each one a leaf requiring grad), as the file describes.
GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, float eps = 1e-3f,
                          float atol = 1e-2f, float rtol = 1e-2f);

}  // namespace kz
