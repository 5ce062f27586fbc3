// conv.cpp — Conv2d (see conv.h). The math is kz::conv2d (autograd/conv2d.cpp).
#include "layers/conv.h"

#include <cmath>

namespace kz {

PaddingMode parse_padding_mode(const std::string& text, const std::string& what) {
  if (text == "symmetric") return PaddingMode::symmetric;
  if (text == "tf_same") return PaddingMode::tf_same;
  fail("padding", fmt::format("{}: '{}' is not a padding mode (symmetric or tf_same)", what,
                              text));
}

std::string to_string(PaddingMode mode) {
  return mode == PaddingMode::tf_same ? "tf_same" : "symmetric";
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Conv2dOptions opt,
               Generator& gen)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), opt_(opt) {
  KZ_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && opt.stride > 0 &&
               opt.padding >= 0 && opt.groups > 0,
           "Conv2d", "invalid sizes: in {}, out {}, kernel {}, stride {}, padding {}, groups {}",
           in_channels, out_channels, kernel, opt.stride, opt.padding, opt.groups);
  KZ_CHECK(in_channels % opt.groups == 0 && out_channels % opt.groups == 0, "Conv2d",
           "groups {} must divide in_channels {} and out_channels {}", opt.groups, in_channels,
           out_channels);
  const int64_t fan_in = in_channels / opt.groups * kernel * kernel;
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  weight_ = register_parameter(
      "weight", Tensor::uniform({out_channels, in_channels / opt.groups, kernel, kernel},
                                -bound, bound, gen));
  if (opt.bias) bias_ = register_parameter("bias", Tensor::uniform({out_channels}, -bound, bound, gen));
}

Conv2dParams Conv2d::params_for(int64_t height, int64_t width) const {
  if (opt_.mode == PaddingMode::tf_same)
    return Conv2dParams::tf_same(height, width, kernel_, opt_.stride, opt_.groups);
  return Conv2dParams::symmetric(opt_.stride, opt_.padding, opt_.groups);
}

Variable Conv2d::forward(const Variable& x) {
  KZ_CHECK(x.dim() == 4 && x.size(1) == in_channels_, "Conv2d",
           "expected input (N, {}, H, W), got {}", in_channels_, shape_str(x.shape()));
  return conv2d(x, weight_, bias_, params_for(x.size(2), x.size(3)));
}

}  // namespace kz
