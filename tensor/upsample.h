/// \file
/// upsample.h — 2-D resizing of (N,C,H,W) maps: nearest and bilinear, forward and backward.
/// PyTorch's F.interpolate(mode='nearest' | 'bilinear', align_corners=False), by output size
/// or by scale factor.
///
/// Shapes: x is (N,C,H,W) — any strides, contiguous NCHW or channels-last; y is
/// (N,C,OH,OW). Along each axis, with in → out pixels and r the source step:
/// \code{.unparsed}
///   r = 1/scale_factor when a scale factor is given (PyTorch passes it down), else in/out;
///   nearest:  src(d) = min(floor(d·r), in − 1)
///   bilinear: s(d) = max((d + 0.5)·r − 0.5, 0), i0 = floor(s), i1 = min(i0 + 1, in − 1),
///             λ = s − i0; y = (1−λh)·((1−λw)·x[i0,j0] + λw·x[i0,j1]) + λh·(…row i1…)
/// \endcode
/// computed in float, as PyTorch's CPU kernels. The backward scatters dy back with the same
/// indices and weights. Results: y, and dx, are in x's (dy's) memory format (channels-last
/// stays channels-last; other strides give contiguous NCHW). Downsampling works too, but
/// as PyTorch's, without antialiasing.
/// These loops are the reference too (no separate naive version): per axis a table of
/// indices and weights, then a loop along W (NCHW) or along C (channels-last).
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace kz {

/// How upsample2d interpolates: `nearest` (PyTorch's 'nearest') or `bilinear`
/// (align_corners=False).
enum class UpsampleMode { nearest, bilinear };
/// "nearest" or "bilinear"; anything else throws naming `what`.
UpsampleMode parse_upsample_mode(const std::string& text, const std::string& what);
std::string to_string(UpsampleMode mode);  ///< "nearest" or "bilinear"

/// The output size, the mode and PyTorch's scale factors.
struct Upsample2dParams {
  /// The output's height and width.
  ///@{
  int64_t out_h = 0, out_w = 0;
  ///@}
  UpsampleMode mode = UpsampleMode::nearest;  ///< the interpolation
  /// PyTorch's scale_factor per axis when the sizes came from one (out = floor(in·scale)):
  /// the source step is then 1/scale. 0 = by size (step in/out). They differ only where
  /// in·scale is not a whole number.
  ///@{
  double scale_h = 0, scale_w = 0;
  ///@}
};

/// Checks x (N,C,H,W) and p; returns (N,C,out_h,out_w).
Shape upsample2d_output_shape(const Shape& x, const Upsample2dParams& p);

/// x (N,C,H,W) -> y (N,C,out_h,out_w), in x's memory format.
Tensor upsample2d_forward(const Tensor& x, const Upsample2dParams& p);
/// dy (N,C,out_h,out_w) -> dx (N,C,H,W) with H, W from x_shape.
Tensor upsample2d_backward(const Tensor& dy, const Shape& x_shape, const Upsample2dParams& p);

}  // namespace kz
