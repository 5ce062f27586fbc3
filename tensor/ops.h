/// \file
/// ops.h — element-wise, reduction and matrix kernels on Tensors (no autograd).
///
/// Element-wise binary ops broadcast as NumPy/PyTorch do: shapes are aligned from the last
/// dimension; a dimension of size 1 stretches. Results are fresh tensors: channels-last when
/// every operand is channels-last with the same shape (as PyTorch keeps it), else contiguous.
/// Comparisons return masks: 1.0f where true, 0.0f where false.
/// Reductions take a list of dimensions (empty = all) and keepdim.
#pragma once

#include <functional>

#include "tensor/tensor.h"

namespace kz {

/// The broadcast shape of a and b, or a kz::Error naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// --- element-wise, binary (broadcasting) ---------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);      ///< a + b
Tensor sub(const Tensor& a, const Tensor& b);      ///< a − b
Tensor mul(const Tensor& a, const Tensor& b);      ///< a · b
Tensor div(const Tensor& a, const Tensor& b);      ///< a / b
Tensor maximum(const Tensor& a, const Tensor& b);  ///< max(a, b)
Tensor minimum(const Tensor& a, const Tensor& b);  ///< min(a, b)
Tensor pow(const Tensor& a, const Tensor& b);      ///< a to the power b
Tensor eq(const Tensor& a, const Tensor& b);       ///< mask of a == b
Tensor ne(const Tensor& a, const Tensor& b);       ///< mask of a != b
Tensor lt(const Tensor& a, const Tensor& b);       ///< mask of a < b
Tensor le(const Tensor& a, const Tensor& b);       ///< mask of a <= b
Tensor gt(const Tensor& a, const Tensor& b);       ///< mask of a > b
Tensor ge(const Tensor& a, const Tensor& b);       ///< mask of a >= b
/// f(a, b) for any binary float function, broadcasting.
Tensor binary_map(const Tensor& a, const Tensor& b, const char* op,
                  const std::function<float(float, float)>& f);

// --- element-wise, with a scalar -----------------------------------------------------------
Tensor add(const Tensor& a, float s);                 ///< a + s
Tensor mul(const Tensor& a, float s);                 ///< a · s
Tensor pow(const Tensor& a, float exponent);          ///< a to the power `exponent`
Tensor clamp(const Tensor& a, float low, float high); ///< min(max(a, low), high)

// --- element-wise, unary -------------------------------------------------------------------
Tensor neg(const Tensor& a);   ///< −a
Tensor exp(const Tensor& a);   ///< e to the power a
Tensor log(const Tensor& a);   ///< natural logarithm
Tensor sqrt(const Tensor& a);  ///< square root
Tensor abs(const Tensor& a);   ///< |a|
/// f(a) for any float function.
Tensor unary_map(const Tensor& a, const std::function<float(float)>& f);

/// In place: a += b (b broadcast to a's shape), and a += alpha * b.
void add_(Tensor& a, const Tensor& b, float alpha = 1.0f);

// --- reductions ----------------------------------------------------------------------------
/// Sum over dims (empty = all dimensions); keepdim keeps them with size 1.
Tensor sum(const Tensor& a, const Shape& dims = {}, bool keepdim = false);
/// Mean over dims (empty = all dimensions); keepdim keeps them with size 1.
Tensor mean(const Tensor& a, const Shape& dims = {}, bool keepdim = false);
/// Variance; correction 1 = unbiased (PyTorch's default), 0 = population.
Tensor var(const Tensor& a, const Shape& dims = {}, bool keepdim = false, int correction = 1);
/// Max / min / argmax / argmin along one dimension (ties: the first index, as PyTorch).
///@{
Tensor max(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& a, int64_t dim, bool keepdim = false);
///@}
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);  ///< indices as floats
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);  ///< indices as floats
float max_all(const Tensor& a);  ///< the largest element; fails on an empty tensor
float min_all(const Tensor& a);  ///< the smallest element; fails on an empty tensor
/// Sum `grad` down to `shape` (the reverse of broadcasting `shape` up to grad's shape).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// --- matrices ------------------------------------------------------------------------------
/// a is (M,K), b is (K,N) -> (M,N); or batched: a (B,M,K), b (B,K,N) -> (B,M,N), with B
/// broadcast when one side is 2-D. Through sgemm (tensor/blas.h).
Tensor matmul(const Tensor& a, const Tensor& b);
/// The naive triple loop, the test oracle for matmul.
Tensor matmul_naive(const Tensor& a, const Tensor& b);

/// Concatenate along dim (all other sizes equal).
Tensor cat(const std::vector<Tensor>& parts, int64_t dim);
/// Gather rows: out[i] = a[index[i]] along dim 0.
Tensor index_select0(const Tensor& a, const std::vector<int64_t>& index);

}  // namespace kz
