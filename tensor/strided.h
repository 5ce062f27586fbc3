/// \file
/// strided.h — walking K same-shaped strided tensors together (internal to tensor/).
///
/// strided_rows(shape, {strides...}, {offsets...}, row) calls
/// \code{.unparsed}
///   row(offsets, n, inner_strides)
/// \endcode
/// once per innermost row: `offsets` are each tensor's element offset of the row's first
/// element, `n` is the row length and `inner_strides` each tensor's stride along it. Kernels
/// write their tight loop over one row; this file does the index bookkeeping.
/// At4 reads element (n,c,h,w) of a 4-D tensor with any strides (the naive reference loops).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// Calls row(offsets, n, inner_strides) once per innermost row of `shape`, for K tensors
/// with the given strides and base offsets (see the file's description); nothing when the
/// shape has a zero. A 0-D shape is one row of length 1.
template <size_t K, class Row>
void strided_rows(const Shape& shape, const std::array<const Shape*, K>& strides,
                  const std::array<int64_t, K>& base, Row&& row) {
  const int64_t d = static_cast<int64_t>(shape.size());
  for (int64_t s : shape)
    if (s == 0) return;
  if (d == 0) {
    std::array<int64_t, K> zero{};
    row(base, int64_t{1}, zero);
    return;
  }
  const int64_t n = shape[d - 1];
  std::array<int64_t, K> inner{};
  for (size_t k = 0; k < K; ++k) inner[k] = (*strides[k])[d - 1];
  std::vector<int64_t> counter(static_cast<size_t>(d - 1), 0);
  std::array<int64_t, K> off = base;
  for (;;) {
    row(off, n, inner);
    int64_t i = d - 2;
    for (; i >= 0; --i) {
      const auto ui = static_cast<size_t>(i);
      if (++counter[ui] < shape[ui]) {
        for (size_t k = 0; k < K; ++k) off[k] += (*strides[k])[ui];
        break;
      }
      for (size_t k = 0; k < K; ++k) off[k] -= (*strides[k])[ui] * (shape[ui] - 1);
      counter[ui] = 0;
    }
    if (i < 0) return;
  }
}

/// Element (n,c,h,w) of a 4-D strided tensor.
struct At4 {
  const float* p;  ///< t.data()
  /// t's strides.
  ///@{
  int64_t s0, s1, s2, s3;
  ///@}
  /// Reads t's data pointer and strides (t must stay alive).
  explicit At4(const Tensor& t)
      : p(t.data()), s0(t.stride(0)), s1(t.stride(1)), s2(t.stride(2)), s3(t.stride(3)) {}
  /// The offset of (n,c,h,w) from p.
  int64_t index(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return n * s0 + c * s1 + h * s2 + w * s3;
  }
  /// The value at (n,c,h,w).
  float operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return p[index(n, c, h, w)];
  }
};

}  // namespace kz
