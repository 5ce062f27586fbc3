// linear.cpp — Linear (see linear.h). The math is kz::linear (autograd/matmul.cpp).
#include "layers/linear.h"

#include <cmath>

namespace kz {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen)
    : in_features_(in_features), out_features_(out_features) {
  KZ_CHECK(in_features > 0 && out_features > 0, "Linear", "invalid sizes: in {}, out {}",
           in_features, out_features);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  weight_ = register_parameter("weight",
                               Tensor::uniform({out_features, in_features}, -bound, bound, gen));
  if (bias) bias_ = register_parameter("bias", Tensor::uniform({out_features}, -bound, bound, gen));
}

Variable Linear::forward(const Variable& x) {
  KZ_CHECK(x.dim() == 2 && x.size(1) == in_features_, "Linear", "expected input (N, {}), got {}",
           in_features_, shape_str(x.shape()));
  return linear(x, weight_, bias_);
}

}  // namespace kz
