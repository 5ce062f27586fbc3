/// \file
/// conv_transpose.h — ConvTranspose2d, the learned 2×-style upsampling of decoders
/// (PyTorch's nn.ConvTranspose2d).
///
/// Shapes: x is (N,C,H,W) in any memory format (the output keeps it), weight is
/// (C, O/groups, k, k) — input channels first, as PyTorch's — bias (O); the output is
/// (N,O,OH,OW) with OH = (H−1)·stride − 2·padding + k + output_padding.
#pragma once

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/generator.h"

namespace kz {

/// ConvTranspose2d's settings besides the channels and the kernel size.
struct ConvTranspose2dOptions {
  int64_t stride = 1;          ///< the upsampling factor, along H and W
  int64_t padding = 0;         ///< removed from each side of the full output
  int64_t output_padding = 0;  ///< added at the bottom/right, < stride
  int64_t groups = 1;          ///< C and O split into groups
  bool bias = true;            ///< whether the layer has a "bias" parameter
};

/// The transposed convolution layer, PyTorch's nn.ConvTranspose2d with square kernels.
class ConvTranspose2d : public Module {
 public:
  /// Parameters "weight" (C, O/groups, k, k) and, with opt.bias, "bias" (O), drawn as
  /// PyTorch's _ConvNd.reset_parameters: kaiming_uniform(a=√5) and the bias rule both come to
  /// U(−1/√fan_in, 1/√fan_in) with fan_in = weight.size(1)·k·k = O/groups·k·k (PyTorch
  /// computes fan_in from dim 1, which for a transposed conv holds the output channels).
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel,
                  ConvTranspose2dOptions opt, Generator& gen);

  Variable forward(const Variable& x) override;  ///< (N,C,H,W) -> (N,O,OH,OW)
  ConvTranspose2dParams params() const;  ///< the kernel's parameters (tensor/conv_transpose2d.h)

  Variable& weight() { return weight_; }  ///< (C, O/groups, k, k)
  Variable& bias() { return bias_; }  ///< undefined without bias
  int64_t in_channels() const { return in_channels_; }    ///< C
  int64_t out_channels() const { return out_channels_; }  ///< O
  int64_t kernel() const { return kernel_; }              ///< k
  const ConvTranspose2dOptions& options() const { return opt_; }  ///< as constructed
  std::string type_name() const override { return "ConvTranspose2d"; }

 private:
  int64_t in_channels_, out_channels_, kernel_;
  ConvTranspose2dOptions opt_;
  Variable weight_, bias_;
};

}  // namespace kz
