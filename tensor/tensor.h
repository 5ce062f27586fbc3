/// \file
/// tensor.h — kizuki's Tensor: float32 values in shared storage, seen through a shape,
/// strides and an offset.
///
/// Conventions (the same as PyTorch):
///   * float32 only. Shapes and strides are counted in elements, outermost dimension first.
///   * Images are NCHW logically: (N, C, H, W) = (batch, channels, height, width).
///   * Convolution weights are OIHW: (out_channels, in_channels/groups, kH, kW); a depthwise
///     weight is (C, 1, kH, kW) with groups = C.
///   * The physical layout may differ from the logical one: a channels-last image is an
///     (N,C,H,W) tensor with strides (H*W*C, 1, W*C, C), as PyTorch's channels_last. There is
///     no second shape convention.
///   * Views (reshape of contiguous data, permute, transpose, narrow, squeeze, unsqueeze,
///     expand) share storage; contiguous() and clone() copy.
///   * Storage is 64-byte aligned and comes from a caching allocator (see storage.h).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/storage.h"

/// kizuki: every name of the library (tensors, autograd, layers, losses, optimizers, data,
/// anomaly detection).
namespace kz {

/// A shape or a list of strides, dimensions or indices: outermost dimension first.
using Shape = std::vector<int64_t>;

class Generator;

/// Number of elements of a shape (1 for a scalar shape {}).
int64_t numel_of(const Shape& shape);
/// Row-major (C order) strides of a shape.
Shape contiguous_strides(const Shape& shape);
/// Strides of an (N,C,H,W) tensor stored channels-last: (H*W*C, 1, W*C, C).
Shape channels_last_strides(const Shape& shape);

/// A float32 tensor: shared storage seen through a shape, strides and an offset (see the
/// file's description for the conventions). Copying a Tensor copies the view, not the data.
class Tensor {
 public:
  Tensor() = default;  ///< an undefined tensor: defined() is false

  // --- factories -------------------------------------------------------------------------
  static Tensor empty(const Shape& shape);  ///< uninitialised, contiguous
  static Tensor empty_channels_last(const Shape& shape);  ///< uninitialised (N,C,H,W), NHWC
  /// Uninitialised, t's shape, and t's memory format when t is dense (channels-last stays
  /// channels-last), else contiguous.
  static Tensor empty_like(const Tensor& t);
  static Tensor zeros(const Shape& shape);               ///< contiguous zeros
  static Tensor ones(const Shape& shape);                ///< contiguous ones
  static Tensor full(const Shape& shape, float value);   ///< contiguous, every element `value`
  static Tensor scalar(float value);  ///< shape {}
  static Tensor arange(float start, float end, float step = 1.0f);  ///< 1-D, [start, end)
  static Tensor from_data(const float* data, const Shape& shape);  ///< copies
  /// Copies `values`, whose size must be the shape's numel.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  /// Uniform in [low, high), drawn in row-major order from `gen`.
  static Tensor uniform(const Shape& shape, float low, float high, Generator& gen);
  /// Normal (Box–Muller), drawn in row-major order from `gen`.
  static Tensor normal(const Shape& shape, float mean, float stddev, Generator& gen);
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape()); }  ///< contiguous

  // --- metadata --------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }  ///< false for Tensor()
  const Shape& shape() const { return shape_; }         ///< sizes, outermost first
  const Shape& strides() const { return strides_; }     ///< in elements, outermost first
  int64_t offset() const { return offset_; }            ///< of element [0,...] in storage
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }  ///< number of dims
  int64_t size(int64_t d) const;    ///< negative d counts from the end
  int64_t stride(int64_t d) const;  ///< negative d counts from the end
  int64_t numel() const { return numel_of(shape_); }  ///< number of elements
  bool is_contiguous() const;       ///< row-major, no gaps
  bool is_channels_last() const;    ///< 4-D, strides as channels_last_strides
  /// Contiguous or channels-last: its numel() elements fill memory from data() on, so one
  /// flat loop covers them.
  bool is_dense() const { return is_contiguous() || is_channels_last(); }
  bool same_shape(const Tensor& other) const { return shape_ == other.shape_; }  ///< shapes ==
  const std::shared_ptr<Storage>& storage() const { return storage_; }  ///< shared by views

  /// Pointer to element [0,0,...]; index with the strides (or directly when contiguous).
  ///@{
  float* data() { return storage_->data() + offset_; }
  const float* data() const { return storage_->data() + offset_; }
  ///@}

  /// Element access by full index (slow; for tests and printing).
  ///@{
  float at(std::initializer_list<int64_t> index) const;
  float& at(std::initializer_list<int64_t> index);
  ///@}
  float item() const;  ///< the one value of a 1-element tensor
  std::vector<float> to_vector() const;  ///< values in logical row-major order

  // --- views (share storage) -------------------------------------------------------------
  Tensor view(const Shape& shape) const;     ///< needs contiguous data; one -1 allowed
  Tensor reshape(const Shape& shape) const;  ///< view when possible, else copies
  Tensor permute(const Shape& dims) const;  ///< dimension i of the view is dims[i] of this
  Tensor transpose(int64_t d0, int64_t d1) const;  ///< swaps two dimensions
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;  ///< [start, start+length)
  Tensor slice(int64_t dim, int64_t start, int64_t end) const;  ///< [start, end)
  Tensor select(int64_t dim, int64_t index) const;             ///< removes dim
  Tensor squeeze(int64_t dim) const;    ///< removes dim if its size is 1, else itself
  Tensor unsqueeze(int64_t dim) const;  ///< inserts a size-1 dimension at dim
  Tensor expand(const Shape& shape) const;  ///< size-1 dims broadcast with stride 0
  /// Dimensions start_dim..end_dim (inclusive) merged into one, as reshape.
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  /// Any view of the same storage, offset counted from the storage's start; fails when it
  /// reaches outside the storage.
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // --- copies ----------------------------------------------------------------------------
  Tensor contiguous() const;     ///< itself when already contiguous
  Tensor to_channels_last() const;  ///< itself when already channels-last
  Tensor clone() const;          ///< always a fresh contiguous copy
  void copy_(const Tensor& src); ///< elementwise copy into this (shapes must match; broadcasts src)
  void fill_(float value);       ///< every element of the view
  void zero_() { fill_(0.0f); }  ///< fill_(0)

  /// "tensor([[1, 2], [3, 4]], shape=(2, 2))": at most max_per_dim values per dimension,
  /// the middle ones elided as "...".
  std::string to_string(int64_t max_per_dim = 6) const;

 private:
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset);
  int64_t wrap_dim(int64_t d, const char* op) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
};

/// True when both have the same shape and |a-b| <= atol + rtol*|b| everywhere (NaN ≠ NaN).
bool allclose(const Tensor& a, const Tensor& b, float rtol = 1e-5f, float atol = 1e-8f);
/// Largest |a-b|, for test messages.
float max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace kz
