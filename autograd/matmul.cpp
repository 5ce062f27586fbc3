// matmul.cpp — differentiable matrix products: matmul and linear.
//   y = a @ b:            da = dy @ bᵀ,  db = aᵀ @ dy   (summed over a broadcast batch)
//   y = x @ Wᵀ + bias:    dx = dy @ W,   dW = dyᵀ @ x,  dbias = Σ_rows dy
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

Variable matmul(const Variable& a, const Variable& b) {
  const Tensor x = a.data(), y = b.data();
  const bool da = a.requires_grad(), db = b.requires_grad();
  return make_result(matmul(x, y), "matmul", {a, b}, [x, y, da, db](const Tensor& dout) {
    Tensor dx, dy;
    if (da) dx = sum_to(matmul(dout, y.transpose(-1, -2)), x.shape());
    if (db) dy = sum_to(matmul(x.transpose(-1, -2), dout), y.shape());
    return std::vector<Tensor>{dx, dy};
  });
}

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  KZ_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1), "linear",
           "x {} and weight {} do not match (x is (N,in), weight (out,in))",
           shape_str(x.shape()), shape_str(weight.shape()));
  KZ_CHECK(!bias.defined() || bias.shape() == Shape{weight.size(0)}, "linear",
           "bias {} does not match weight {}", shape_str(bias.defined() ? bias.shape() : Shape{}),
           shape_str(weight.shape()));
  const Tensor xd = x.data(), w = weight.data();
  Tensor out = matmul(xd, w.transpose(0, 1));
  if (bias.defined()) add_(out, bias.data());
  const bool dx_needed = x.requires_grad(), dw_needed = weight.requires_grad();
  const bool has_bias = bias.defined();
  return make_result(out, "linear", {x, weight, bias},
                     [xd, w, dx_needed, dw_needed, has_bias](const Tensor& dout) {
                       return std::vector<Tensor>{
                           dx_needed ? matmul(dout, w) : Tensor(),
                           dw_needed ? matmul(dout.transpose(0, 1), xd) : Tensor(),
                           has_bias ? sum(dout, {0}) : Tensor()};
                     });
}

}  // namespace kz
