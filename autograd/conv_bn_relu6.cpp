// conv_bn_relu6.cpp — pointwise conv, training batch norm and ReLU6 as one differentiable op.
//   forward:  z = relu6(batch_norm(conv1x1(x, W))) with batch statistics, found from x's
//             moments and folded into the convolution: the conv's output is never made.
//   backward: dx, dW, dγ, dβ from dz, z and x (tensor/conv_bn_relu6.h).
// Equal to relu6(batch_norm(conv2d(x, W))) (autograd/conv2d.cpp, autograd/bn_relu6.cpp) up to
// float rounding; saves x, W, γ, z (which the next layer keeps anyway) and C×C statistics.
#include "autograd/conv_bn_relu6.h"
#include "tensor/conv_bn_relu6.h"

namespace kz {

Variable conv1x1_bn_relu6(const Variable& x, const Variable& weight, const Variable& gamma,
                          const Variable& beta, Tensor& running_mean, Tensor& running_var,
                          float momentum, float eps) {
  KZ_CHECK(x.defined() && weight.defined() && gamma.defined() && beta.defined(),
           "conv1x1_bn_relu6", "x, weight, gamma and beta must be defined");
  Conv1x1BnSaved saved;
  const bool grad = needs_grad({x, weight, gamma, beta});
  Tensor out = conv1x1_bn_relu6_forward(x.data(), weight.data(), gamma.data(), beta.data(),
                                        running_mean, running_var, momentum, eps,
                                        grad ? &saved : nullptr);
  if (!grad) return Variable(std::move(out));
  const bool dx_needed = x.requires_grad(), dw_needed = weight.requires_grad(),
             dg_needed = gamma.requires_grad(), db_needed = beta.requires_grad();
  const Tensor xd = x.data(), w = weight.data(), gd = gamma.data(), z = out;
  return make_result(
      std::move(out), "conv1x1_bn_relu6", {x, weight, gamma, beta},
      [xd, w, gd, z, saved, dx_needed, dw_needed, dg_needed, db_needed](const Tensor& dout) {
        Tensor dx, dweight, dgamma, dbeta;
        conv1x1_bn_relu6_backward(dout, z, xd, w, gd, saved,
                                  dx_needed ? &dx : nullptr, dw_needed ? &dweight : nullptr,
                                  dg_needed ? &dgamma : nullptr, db_needed ? &dbeta : nullptr);
        return std::vector<Tensor>{dx, dweight, dgamma, dbeta};
      });
}

}  // namespace kz
