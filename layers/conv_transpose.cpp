// conv_transpose.cpp — ConvTranspose2d (see conv_transpose.h). The math is
// kz::conv_transpose2d (autograd/conv_transpose2d.cpp).
#include "layers/conv_transpose.h"

#include <cmath>

namespace kz {

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel,
                                 ConvTranspose2dOptions opt, Generator& gen)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), opt_(opt) {
  KZ_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && opt.stride > 0 &&
               opt.padding >= 0 && opt.groups > 0,
           "ConvTranspose2d",
           "invalid sizes: in {}, out {}, kernel {}, stride {}, padding {}, groups {}",
           in_channels, out_channels, kernel, opt.stride, opt.padding, opt.groups);
  KZ_CHECK(opt.output_padding >= 0 && opt.output_padding < opt.stride, "ConvTranspose2d",
           "output_padding must be in [0, stride {}), got {}", opt.stride, opt.output_padding);
  KZ_CHECK(in_channels % opt.groups == 0 && out_channels % opt.groups == 0, "ConvTranspose2d",
           "groups {} must divide in_channels {} and out_channels {}", opt.groups, in_channels,
           out_channels);
  const int64_t fan_in = out_channels / opt.groups * kernel * kernel;
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  weight_ = register_parameter(
      "weight", Tensor::uniform({in_channels, out_channels / opt.groups, kernel, kernel},
                                -bound, bound, gen));
  if (opt.bias)
    bias_ = register_parameter("bias", Tensor::uniform({out_channels}, -bound, bound, gen));
}

ConvTranspose2dParams ConvTranspose2d::params() const {
  return {opt_.stride, opt_.padding, opt_.output_padding, opt_.groups};
}

Variable ConvTranspose2d::forward(const Variable& x) {
  KZ_CHECK(x.dim() == 4 && x.size(1) == in_channels_, "ConvTranspose2d",
           "expected input (N, {}, H, W), got {}", in_channels_, shape_str(x.shape()));
  return conv_transpose2d(x, weight_, bias_, params());
}

}  // namespace kz
