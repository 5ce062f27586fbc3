// partial_conv.cpp — Liu et al.'s partial convolution from the autograd ops (see
// partial_conv.h).
#include "layers/partial_conv.h"

#include <cmath>

#include "tensor/ops.h"

namespace kz {

PartialConv partial_conv2d(const Variable& x, const Tensor& mask, const Variable& weight,
                           const Variable& bias, const Conv2dParams& p) {
  KZ_CHECK(x.dim() == 4 && mask.dim() == 4 && mask.size(0) == x.size(0) &&
               (mask.size(1) == 1 || mask.size(1) == x.size(1)) && mask.size(2) == x.size(2) &&
               mask.size(3) == x.size(3),
           "partial_conv2d", "x {} and mask {}: expected (N,C,H,W) and (N,1,H,W) or (N,C,H,W)",
           shape_str(x.shape()), shape_str(mask.shape()));
  KZ_CHECK(weight.dim() == 4 && weight.size(1) == x.size(1) && weight.size(2) == weight.size(3) &&
               p.groups == 1,
           "partial_conv2d", "weight {} for x {}: expected (O,C,k,k), groups 1",
           shape_str(weight.shape()), shape_str(x.shape()));
  const Tensor m = mask.contiguous();
  for (const float v : m.to_vector())
    KZ_CHECK(v == 0.0f || v == 1.0f, "partial_conv2d", "mask value {}: expected 0 or 1", v);
  const int64_t k = weight.size(2), channels = m.size(1);
  Tensor count;
  {
    NoGradGuard no_grad;
    count = conv2d(Variable(m), Variable(Tensor::ones({1, channels, k, k})), Variable(), p).data();
  }
  const Tensor updated = clamp(count, 0.0f, 1.0f).contiguous();  // counts are whole numbers
  // K·k²/count where a window saw a valid value, 0 elsewhere.
  const Tensor ratio = mul(div(Tensor::full(count.shape(), static_cast<float>(channels * k * k)),
                               add(count, 1e-8f)),
                           updated);
  const Variable raw = conv2d(mul(x, Variable(m)), weight, Variable(), p);
  Variable out = mul(raw, Variable(ratio));
  if (bias.defined()) out = add(out, reshape(bias, {1, bias.size(0), 1, 1}));
  PartialConv r;
  r.out = mul(out, Variable(updated));
  r.mask = updated;
  return r;
}

PartialConv2d::PartialConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel,
                             int64_t stride, int64_t padding, bool bias, Generator& gen)
    : in_channels_(in_channels), params_(Conv2dParams::symmetric(stride, padding)) {
  KZ_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && stride > 0 && padding >= 0,
           "PartialConv2d", "invalid sizes: in {}, out {}, kernel {}, stride {}, padding {}",
           in_channels, out_channels, kernel, stride, padding);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_channels * kernel * kernel));
  weight_ = register_parameter(
      "weight", Tensor::uniform({out_channels, in_channels, kernel, kernel}, -bound, bound, gen));
  if (bias) bias_ = register_parameter("bias", Tensor::uniform({out_channels}, -bound, bound, gen));
}

PartialConv PartialConv2d::forward(const Variable& x, const Tensor& mask) {
  KZ_CHECK(x.dim() == 4 && x.size(1) == in_channels_, "PartialConv2d",
           "expected input (N, {}, H, W), got {}", in_channels_, shape_str(x.shape()));
  return partial_conv2d(x, mask, weight_, bias_, params_);
}

}  // namespace kz
