/// \file
/// conv.h — Conv2d, the 2-D convolution layer, and how it pads.
///
/// Shapes: x is (N,C,H,W) in any memory format (the output keeps it), weight is OIHW
/// (O, C/groups, k, k), bias (O). Square kernels, one stride for both axes.
#pragma once

#include <string>

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/generator.h"

namespace kz {

/// symmetric: PyTorch's `padding=p` on every side.
/// tf_same:   TF/Keras "SAME", computed from each input's size at forward time
///            (Conv2dParams::tf_same): a stride-2 3×3 conv on an even size pads 0 top/left
///            and 1 bottom/right. The `padding` option is then ignored.
enum class PaddingMode { symmetric, tf_same };

/// "symmetric" or "tf_same"; anything else throws naming `what` (a flag or a file).
PaddingMode parse_padding_mode(const std::string& text, const std::string& what);
std::string to_string(PaddingMode mode);  ///< "symmetric" or "tf_same"

/// Conv2d's settings besides the channels and the kernel size.
struct Conv2dOptions {
  int64_t stride = 1;   ///< the same along H and W
  int64_t padding = 0;  ///< per side, when mode is symmetric
  int64_t groups = 1;   ///< in_channels for depthwise
  bool bias = true;     ///< whether the layer has a "bias" parameter
  PaddingMode mode = PaddingMode::symmetric;  ///< how the padding is chosen
};

/// The 2-D convolution layer, PyTorch's nn.Conv2d with square kernels.
class Conv2d : public Module {
 public:
  /// Parameters "weight" (O, C/groups, k, k) and, with opt.bias, "bias" (O), both drawn as
  /// PyTorch's default: U(−1/√fan_in, 1/√fan_in), fan_in = C/groups·k·k.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Conv2dOptions opt,
         Generator& gen);

  Variable forward(const Variable& x) override;  ///< (N,C,H,W) -> (N,O,OH,OW)
  /// The padding used for an input of this height and width.
  Conv2dParams params_for(int64_t height, int64_t width) const;

  Variable& weight() { return weight_; }  ///< (O, C/groups, k, k)
  Variable& bias() { return bias_; }  ///< undefined without bias
  int64_t in_channels() const { return in_channels_; }    ///< C
  int64_t out_channels() const { return out_channels_; }  ///< O
  int64_t kernel() const { return kernel_; }              ///< k
  const Conv2dOptions& options() const { return opt_; }   ///< as constructed
  std::string type_name() const override { return "Conv2d"; }

 private:
  int64_t in_channels_, out_channels_, kernel_;
  Conv2dOptions opt_;
  Variable weight_, bias_;
};

}  // namespace kz
