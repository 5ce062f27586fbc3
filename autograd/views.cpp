// views.cpp — differentiable views and concatenation. A view's backward undoes the view
// on dout (reshape back, inverse permutation, pad the narrowed part with zeros, sum the
// expanded dims).
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

Variable reshape(const Variable& a, const Shape& shape) {
  const Shape in = a.shape();
  return make_result(a.data().reshape(shape), "reshape", {a}, [in](const Tensor& dout) {
    return std::vector<Tensor>{dout.reshape(in)};
  });
}

Variable flatten(const Variable& a, int64_t start_dim, int64_t end_dim) {
  return reshape(a, a.data().flatten(start_dim, end_dim).shape());
}

Variable permute(const Variable& a, const Shape& dims) {
  Tensor out = a.data().permute(dims);  // validates dims
  Shape inverse(dims.size());
  const auto n = static_cast<int64_t>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    inverse[static_cast<size_t>(dims[i] < 0 ? dims[i] + n : dims[i])] = static_cast<int64_t>(i);
  return make_result(out, "permute", {a}, [inverse](const Tensor& dout) {
    return std::vector<Tensor>{dout.permute(inverse)};
  });
}

Variable transpose(const Variable& a, int64_t d0, int64_t d1) {
  return make_result(a.data().transpose(d0, d1), "transpose", {a}, [d0, d1](const Tensor& dout) {
    return std::vector<Tensor>{dout.transpose(d0, d1)};
  });
}

Variable narrow(const Variable& a, int64_t dim, int64_t start, int64_t length) {
  const Shape in = a.shape();
  return make_result(a.data().narrow(dim, start, length), "narrow", {a},
                     [in, dim, start, length](const Tensor& dout) {
                       Tensor dx = Tensor::zeros(in);
                       dx.narrow(dim, start, length).copy_(dout);
                       return std::vector<Tensor>{dx};
                     });
}

Variable squeeze(const Variable& a, int64_t dim) {
  const Shape in = a.shape();
  return make_result(a.data().squeeze(dim), "squeeze", {a}, [in](const Tensor& dout) {
    return std::vector<Tensor>{dout.reshape(in)};
  });
}

Variable unsqueeze(const Variable& a, int64_t dim) {
  const Shape in = a.shape();
  return make_result(a.data().unsqueeze(dim), "unsqueeze", {a}, [in](const Tensor& dout) {
    return std::vector<Tensor>{dout.reshape(in)};
  });
}

Variable expand(const Variable& a, const Shape& shape) {
  const Shape in = a.shape();
  return make_result(a.data().expand(shape), "expand", {a}, [in](const Tensor& dout) {
    return std::vector<Tensor>{sum_to(dout, in)};
  });
}

Variable cat(const std::vector<Variable>& parts, int64_t dim) {
  std::vector<Tensor> data;
  std::vector<int64_t> sizes;
  for (const Variable& p : parts) {
    data.push_back(p.data());
    sizes.push_back(p.size(dim));
  }
  return make_result(cat(data, dim), "cat", parts, [sizes, dim](const Tensor& dout) {
    std::vector<Tensor> d;
    int64_t at = 0;
    for (int64_t s : sizes) {
      d.push_back(dout.narrow(dim, at, s).contiguous());
      at += s;
    }
    return d;
  });
}

}  // namespace kz
