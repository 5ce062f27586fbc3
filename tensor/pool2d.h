/// \file
/// pool2d.h — 2-D max pooling: kizuki's own loops (the fast one runs along C on channels-last
/// maps) and the naive reference. PyTorch's nn.MaxPool2d semantics, floor mode.
///
/// Shapes: x is (N,C,H,W) — any strides, contiguous NCHW or channels-last; y is (N,C,OH,OW)
/// with OH = (H + 2·padding − kernel) / stride + 1 (floor), likewise OW. Square windows;
/// padding counts as −∞ (never the maximum); padding ≤ kernel / 2, as PyTorch requires.
/// \code{.unparsed}
///   y[n,c,oh,ow] = max over the window's taps inside x of x[n,c,oh·s−p+kh,ow·s−p+kw]
/// \endcode
/// The forward remembers which tap won each window (ties: the first in row-major window
/// order; a NaN wins over numbers and a later NaN over an earlier one — PyTorch's rule), and
/// the backward sends each dy to that tap: dx[argmax] += dy.
/// Results: y, and dx, are in x's memory format (channels-last stays channels-last; other
/// strides give contiguous NCHW).
#pragma once

#include <cstdint>
#include <memory>

#include "tensor/storage.h"
#include "tensor/tensor.h"

namespace kz {

/// A square max-pooling window.
struct MaxPool2dParams {
  int64_t kernel = 2;   ///< the window's side
  int64_t stride = 2;   ///< PyTorch's default is the kernel size (layers/simple.h does that)
  int64_t padding = 0;  ///< on every side, at most kernel / 2
};

/// Checks x (N,C,H,W) and p; returns (N,C,OH,OW).
Shape max_pool2d_output_shape(const Shape& x, const MaxPool2dParams& p);

/// Which tap won each window: for every element of y, in y's memory order, kh·kernel + kw
/// (so kernel·kernel ≤ 256). What max_pool2d_backward needs; 1 byte per output, kept in a
/// tensor buffer (the caching allocator of tensor/storage.h: no page faults every step).
struct MaxPool2dIndices {
  std::shared_ptr<Storage> storage;  ///< numel(y) bytes
  /// (N,C,H,W), (N,C,OH,OW)
  ///@{
  Shape x_shape, y_shape;
  ///@}
  bool channels_last = false;        ///< the memory order of y, dx and the taps
  /// The winning tap of every output, numel(y) bytes in y's memory order.
  const uint8_t* taps() const { return reinterpret_cast<const uint8_t*>(storage->data()); }
};

/// Fast path: channels-last maps run along C (vectorised), NCHW along each plane; threads
/// over the batch (and rows). indices may be null (inference).
Tensor max_pool2d_forward(const Tensor& x, const MaxPool2dParams& p, MaxPool2dIndices* indices);
/// dy (N,C,OH,OW) in any layout -> dx (N,C,H,W) in the forward's layout.
Tensor max_pool2d_backward(const Tensor& dy, const MaxPool2dIndices& indices,
                           const MaxPool2dParams& p);

/// Reference loops with the same contracts (and the same indices: each works with the other).
///@{
Tensor max_pool2d_forward_naive(const Tensor& x, const MaxPool2dParams& p,
                                MaxPool2dIndices* indices);
Tensor max_pool2d_backward_naive(const Tensor& dy, const MaxPool2dIndices& indices,
                                 const MaxPool2dParams& p);
///@}

/// PyTorch's return_indices: ih·W + iw of each window's maximum, as an (N,C,OH,OW) tensor
/// (float holds these exactly for maps up to 2²⁴ pixels). For tests and inspection.
Tensor max_pool2d_flat_indices(const MaxPool2dIndices& indices, const MaxPool2dParams& p);

}  // namespace kz
