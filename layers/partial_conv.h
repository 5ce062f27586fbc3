/// \file
/// partial_conv.h — the partial convolution of Liu et al. (2018), "Image Inpainting for
/// Irregular Holes Using Partial Convolutions" (§3.1, eq. 1–2), as NVIDIA's reference
/// PartialConv2d: a convolution that sees only the valid pixels, rescaled by how many of its
/// window were valid, and a mask that grows by one window per layer.
///
/// With M the mask of valid pixels (1) and holes (0), k×k windows, C input channels; M is
/// (N,1,H,W) (one mask for every channel: NVIDIA's single-channel mode, K = 1) or (N,C,H,W)
/// (one per channel: its multi_channel mode, K = C — the U-Net's decoder concatenates the
/// masks of its two inputs, layers/partial_unet.h):
/// \code{.unparsed}
///   count  = conv(M, ones(1,K,k,k))                     valid values under each window
///   out    = (conv(X ⊙ M, W) · K·k²/count + b) where count > 0, else 0
///   M'     = 1 where count > 0, else 0                  the updated mask, (N,1,OH,OW)
/// \endcode
/// (NVIDIA's multi-channel mode gives M' as O equal channels; here it is kept as one.)
/// The building block of the inpainting U-Net of occlusion's `--inpaint unet`
/// (layers/partial_unet.h). tests/fixtures/make_partial_conv.py computes the same in PyTorch.
#pragma once

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/conv2d.h"
#include "tensor/generator.h"

namespace kz {

/// A partial convolution's output and its updated mask.
struct PartialConv {
  Variable out;  ///< (N,O,OH,OW)
  Tensor mask;   ///< (N,1,OH,OW), 0 or 1
};

/// The partial convolution of x (N,C,H,W) with holes where mask (N,1,H,W) or (N,C,H,W) is 0
/// (see the file's description): weight (O,C,k,k), bias (O) or undefined, groups 1.
/// Differentiable in x, weight and bias; the mask is data. A mask of another size or values
/// other than 0 and 1 throw.
PartialConv partial_conv2d(const Variable& x, const Tensor& mask, const Variable& weight,
                           const Variable& bias, const Conv2dParams& p);

/// The layer: parameters "weight" (O,C,k,k) and, with `bias`, "bias" (O), drawn as PyTorch's
/// nn.Conv2d default (U(−1/√fan_in, 1/√fan_in), fan_in = C·k·k); padding symmetric.
class PartialConv2d : public Module {
 public:
  /// in_channels C, out_channels O, kernel k, stride, padding per side.
  PartialConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                int64_t padding, bool bias, Generator& gen);
  /// x (N,C,H,W), mask (N,1,H,W) or (N,C,H,W) -> out (N,O,OH,OW) and mask (N,1,OH,OW).
  PartialConv forward(const Variable& x, const Tensor& mask);
  std::string type_name() const override { return "PartialConv2d"; }

 private:
  int64_t in_channels_;
  Conv2dParams params_;
  Variable weight_, bias_;
};

}  // namespace kz
