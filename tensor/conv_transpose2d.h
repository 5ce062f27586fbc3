/// \file
/// conv_transpose2d.h — 2-D transposed convolution ("deconvolution") kernels: oneDNN
/// (tensor/dnnl.h) and the naive reference. PyTorch's nn.ConvTranspose2d semantics.
///
/// Shapes: x is (N,C,H,W) — any strides, contiguous NCHW or channels-last; weight is
/// (C, O/groups, kH, kW) exactly as PyTorch's ConvTranspose2d (input channels first);
/// bias is (O) or undefined; y is (N,O,OH,OW) with
/// \code{.unparsed}
///   OH = (H − 1)·stride − 2·padding + kH + output_padding, likewise OW.
/// \endcode
/// Each input pixel scatters its kernel-sized patch into y:
/// \code{.unparsed}
///   y[n, o, ih·s − p + kh, iw·s − p + kw] += x[n, c, ih, iw] · weight[c, o − g·O/G, kh, kw]
/// \endcode
/// for c in o's group g; output_padding adds rows/columns at the bottom/right only (they get
/// bias, plus whatever taps reach them). It is the data gradient of conv2d with the same
/// weight, stride and padding, which is how decoders upsample.
/// Results: y is in x's memory format and dx in dy's (channels-last stays channels-last;
/// other strides give contiguous NCHW), dweight is contiguous (C, O/groups, kH, kW).
#pragma once

#include "tensor/tensor.h"

namespace kz {

/// Stride, padding and groups of a transposed convolution (the kernel size is the weight's).
struct ConvTranspose2dParams {
  int64_t stride = 1;          ///< the same along H and W
  int64_t padding = 0;         ///< removed from each side of the full output
  int64_t output_padding = 0;  ///< added at the bottom/right; 0 ≤ output_padding < stride
  int64_t groups = 1;          ///< C and O split into groups
};

/// Checks x (N,C,H,W), weight (C,O/groups,kH,kW) and p; returns (N,O,OH,OW).
Shape conv_transpose2d_output_shape(const Shape& x, const Shape& weight,
                                    const ConvTranspose2dParams& p);

/// Fast path (oneDNN's deconvolution primitives): y (N,O,OH,OW).
Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const ConvTranspose2dParams& p);
/// dx (N,C,H,W) from dy (N,O,OH,OW); x_shape is the forward's x's.
Tensor conv_transpose2d_backward_data(const Tensor& dy, const Tensor& weight,
                                      const Shape& x_shape, const ConvTranspose2dParams& p);
/// Returns dweight (C,O/groups,kH,kW); writes dbias (O) when dbias is non-null.
Tensor conv_transpose2d_backward_weights(const Tensor& dy, const Tensor& x,
                                         const Shape& weight_shape,
                                         const ConvTranspose2dParams& p, Tensor* dbias);

/// Reference loops with the same contracts.
///@{
Tensor conv_transpose2d_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      const ConvTranspose2dParams& p);
Tensor conv_transpose2d_backward_data_naive(const Tensor& dy, const Tensor& weight,
                                            const Shape& x_shape,
                                            const ConvTranspose2dParams& p);
Tensor conv_transpose2d_backward_weights_naive(const Tensor& dy, const Tensor& x,
                                               const Shape& weight_shape,
                                               const ConvTranspose2dParams& p, Tensor* dbias);
///@}

}  // namespace kz
