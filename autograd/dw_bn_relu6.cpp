// dw_bn_relu6.cpp — 3×3 depthwise conv (stride 1, padding 1), training batch norm and ReLU6
// as one differentiable op.
//   forward:  z = relu6(batch_norm(dwconv(x, W))) with batch statistics; the conv's output
//             is never stored (tensor/dw_bn_relu6.h).
//   backward: dx, dW, dγ, dβ from dz and x, the conv's output recomputed from x.
// Equal to relu6(batch_norm(conv2d(x, W, groups = C))) (autograd/conv2d.cpp,
// autograd/bn_relu6.cpp) up to float rounding; saves x, W, γ, β and per-channel statistics (not z).
#include "autograd/dw_bn_relu6.h"
#include "tensor/dw_bn_relu6.h"

namespace kz {

Variable dw_bn_relu6(const Variable& x, const Variable& weight, const Variable& gamma,
                     const Variable& beta, Tensor& running_mean, Tensor& running_var,
                     float momentum, float eps) {
  KZ_CHECK(x.defined() && weight.defined() && gamma.defined() && beta.defined(),
           "dw_bn_relu6", "x, weight, gamma and beta must be defined");
  DwBnSaved saved;
  const bool grad = needs_grad({x, weight, gamma, beta});
  Tensor out = dw_bn_relu6_forward(x.data(), weight.data(), gamma.data(), beta.data(),
                                   running_mean, running_var, momentum, eps,
                                   grad ? &saved : nullptr);
  if (!grad) return Variable(std::move(out));
  const bool dx_needed = x.requires_grad(), dw_needed = weight.requires_grad(),
             dg_needed = gamma.requires_grad(), db_needed = beta.requires_grad();
  const Tensor xd = x.data(), w = weight.data(), gd = gamma.data(), bd = beta.data();
  return make_result(
      std::move(out), "dw_bn_relu6", {x, weight, gamma, beta},
      [xd, w, gd, bd, saved, dx_needed, dw_needed, dg_needed, db_needed](const Tensor& dout) {
        Tensor dx, dweight, dgamma, dbeta;
        dw_bn_relu6_backward(dout, xd, w, gd, bd, saved, dx_needed ? &dx : nullptr,
                             dw_needed ? &dweight : nullptr, dg_needed ? &dgamma : nullptr,
                             db_needed ? &dbeta : nullptr);
        return std::vector<Tensor>{dx, dweight, dgamma, dbeta};
      });
}

}  // namespace kz
