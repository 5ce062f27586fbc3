/// \file
/// partial_conv.h — the partial convolution of Liu et al. (2018), "Image Inpainting for
/// Irregular Holes Using Partial Convolutions" (§3.1, eq. 1–2), as NVIDIA's reference
/// PartialConv2d (single-channel mask): a convolution that sees only the valid pixels, rescaled
/// by how many of its window were valid, and a mask that grows by one window per layer.
///
/// With M the mask (N,1,H,W) of valid pixels (1) and holes (0), k×k windows:
/// \code{.unparsed}
///   count  = conv(M, ones(1,1,k,k))                     valid pixels under each window
///   out    = (conv(X ⊙ M, W) · k²/count + b) where count > 0, else 0
///   M'     = 1 where count > 0, else 0                  the updated mask
/// \endcode
/// The building block of the inpainting U-Net of occlusion's `--inpaint unet` (not built yet:
/// anomaly/occlusion.h). tests/fixtures/make_partial_conv.py computes the same in PyTorch.
#pragma once

#include "autograd/functions.h"
#include "tensor/conv2d.h"

namespace kz {

/// A partial convolution's output and its updated mask.
struct PartialConv {
  Variable out;  ///< (N,O,OH,OW)
  Tensor mask;   ///< (N,1,OH,OW), 0 or 1
};

/// The partial convolution of x (N,C,H,W) with holes where mask (N,1,H,W) is 0 (see the
/// file's description): weight (O,C,k,k), bias (O) or undefined, groups 1. Differentiable in
/// x, weight and bias; the mask is data. A mask of another size or values other than 0 and 1
/// throw.
PartialConv partial_conv2d(const Variable& x, const Tensor& mask, const Variable& weight,
                           const Variable& bias, const Conv2dParams& p);

}  // namespace kz
