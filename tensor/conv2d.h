/// \file
/// conv2d.h — 2-D convolution kernels: oneDNN (tensor/dnnl.h) and the naive reference.
///
/// Shapes: x is (N,C,H,W) — any strides, contiguous NCHW or channels-last; weight is OIHW
/// (O, C/groups, kH, kW); bias is (O) or undefined; y is (N,O,OH,OW) in x's memory format.
/// OH = (H + pad_top + pad_bottom − kH) / stride + 1, likewise OW. Cross-correlation, as
/// PyTorch and TF. Depthwise: groups = C, weight (C,1,kH,kW).
/// Results: y is in x's memory format and dx in dy's (channels-last stays channels-last;
/// other strides give contiguous NCHW), dweight is contiguous OIHW. Channels-last is the fast
/// layout (oneDNN's brgconv / brdgmm_dw kernels); plain NCHW depthwise runs a GEMM path.
#pragma once

#include "tensor/tensor.h"

namespace kz {

/// Stride, padding per side and groups of a 2-D convolution (the kernel size is the weight's).
struct Conv2dParams {
  int64_t stride = 1;  ///< the same along H and W
  /// Zero rows/columns added on each side of x.
  ///@{
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  ///@}
  int64_t groups = 1;  ///< C and O split into groups; C for depthwise

  /// PyTorch's padding=p on every side.
  static Conv2dParams symmetric(int64_t stride, int64_t pad, int64_t groups = 1);
  /// TF/Keras "SAME": total pad max((ceil(n/s)−1)·s + k − n, 0) per axis, floor(total/2)
  /// before and the rest after (stride-2 3×3 on an even size: 0 top/left, 1 bottom/right).
  static Conv2dParams tf_same(int64_t in_h, int64_t in_w, int64_t kernel, int64_t stride,
                              int64_t groups = 1);
};

/// Checks x (N,C,H,W), weight (O,C/groups,kH,kW) and p; returns (N,O,OH,OW).
Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& p);

/// Fast path (oneDNN; a pointwise convolution on a channels-last 1×1 map is one sgemm):
/// y = conv(x, weight) + bias.
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& p);
/// dx (N,C,H,W) from dy (N,O,OH,OW); x_shape is the forward's x's.
Tensor conv2d_backward_data(const Tensor& dy, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& p);
/// Inference: min(max(conv2d_forward(x, weight, bias), 0), 6) in one primitive (oneDNN's
/// eltwise_clip post-op): with batch norm folded into weight and bias, MobileNetV2's whole
/// Conv-BN-ReLU6 in eval mode (layers/mobilenet_v2.cpp). No backward.
Tensor conv2d_relu6_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dParams& p);
/// Returns dweight (OIHW); writes dbias (O) when dbias is non-null.
Tensor conv2d_backward_weights(const Tensor& dy, const Tensor& x, const Shape& weight_shape,
                               const Conv2dParams& p, Tensor* dbias);

/// Reference loops with the same contracts.
///@{
Tensor conv2d_forward_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dParams& p);
Tensor conv2d_backward_data_naive(const Tensor& dy, const Tensor& weight,
                                  const Shape& x_shape, const Conv2dParams& p);
Tensor conv2d_backward_weights_naive(const Tensor& dy, const Tensor& x,
                                     const Shape& weight_shape, const Conv2dParams& p,
                                     Tensor* dbias);
///@}

}  // namespace kz
