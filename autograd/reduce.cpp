// reduce.cpp — differentiable reductions, forward and backward side by side.
// Backward broadcasts dout (keepdim shape) back over the reduced dimensions.
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

namespace {
// The keepdim shape of reducing `shape` over `dims` (empty = all).
Shape keepdim_shape(const Shape& shape, const Shape& dims) {
  Shape out = shape;
  const auto n = static_cast<int64_t>(shape.size());
  if (dims.empty()) return Shape(shape.size(), 1);
  for (int64_t d : dims) out[static_cast<size_t>(d < 0 ? d + n : d)] = 1;
  return out;
}

// dout of a reduction, spread back over x's shape.
Tensor spread(const Tensor& dout, const Shape& keep, const Shape& shape) {
  return dout.reshape(keep).expand(shape).contiguous();
}
}  // namespace

Variable sum(const Variable& a, const Shape& dims, bool keepdim) {
  const Shape shape = a.shape(), keep = keepdim_shape(shape, dims);
  return make_result(sum(a.data(), dims, keepdim), "sum", {a},
                     [shape, keep](const Tensor& dout) {
                       return std::vector<Tensor>{spread(dout, keep, shape)};
                     });
}

Variable mean(const Variable& a, const Shape& dims, bool keepdim) {
  const Shape shape = a.shape(), keep = keepdim_shape(shape, dims);
  const float count = static_cast<float>(numel_of(shape)) / std::max<float>(1, numel_of(keep));
  return make_result(mean(a.data(), dims, keepdim), "mean", {a},
                     [shape, keep, count](const Tensor& dout) {
                       return std::vector<Tensor>{mul(spread(dout, keep, shape), 1.0f / count)};
                     });
}

Variable var(const Variable& a, const Shape& dims, bool keepdim, int correction) {
  const Tensor x = a.data();
  const Shape keep = keepdim_shape(x.shape(), dims);
  const float count = static_cast<float>(x.numel()) / std::max<float>(1, numel_of(keep));
  return make_result(var(x, dims, keepdim, correction), "var", {a},
                     [x, dims, keep, count, correction](const Tensor& dout) {
                       // d var / dx = 2 (x − mean) / (M − correction)
                       const Tensor centred = sub(x, mean(x, dims, true));
                       const float scale = 2.0f / std::max(count - correction, 0.0f);
                       return std::vector<Tensor>{
                           mul(mul(centred, spread(dout, keep, x.shape())), scale)};
                     });
}

namespace {
Variable extremum_along(const Variable& a, int64_t dim, bool keepdim, bool is_max) {
  const Tensor idx = is_max ? argmax(a.data(), dim, true) : argmin(a.data(), dim, true);
  const Shape shape = a.shape();
  const int64_t d = dim < 0 ? dim + a.dim() : dim;
  Tensor out = is_max ? max(a.data(), dim, keepdim) : min(a.data(), dim, keepdim);
  return make_result(out, is_max ? "max" : "min", {a}, [idx, shape, d](const Tensor& dout) {
    // The gradient goes to the selected element of each reduced row.
    const Tensor positions = Tensor::arange(0.0f, static_cast<float>(shape[size_t(d)]));
    Shape view(shape.size(), 1);
    view[static_cast<size_t>(d)] = shape[static_cast<size_t>(d)];
    const Tensor one_hot = eq(positions.reshape(view), idx);  // broadcasts to x's shape
    return std::vector<Tensor>{mul(one_hot, dout.reshape(idx.shape()))};
  });
}
}  // namespace

Variable max(const Variable& a, int64_t dim, bool keepdim) {
  return extremum_along(a, dim, keepdim, true);
}
Variable min(const Variable& a, int64_t dim, bool keepdim) {
  return extremum_along(a, dim, keepdim, false);
}

}  // namespace kz
