// bn_relu6.cpp — batch normalisation followed by ReLU6 as one differentiable op
// (MobileNetV2's Conv-BN-ReLU6; kernels in tensor/batch_norm.h).
//   forward:  y = min(max(z, 0), 6), z = γ·(x − μ)/sqrt(σ² + ε) + β, with the batch
//             statistics (training; running stats updated in place) or the running ones.
//   backward: dz = dy where 0 < z < 6 (z recomputed from x, never stored), then batch
//             norm's backward of dz: dx (N,C,H,W), dγ = Σ dz·x̂, dβ = Σ dz; dx over dout's
//             buffer when nothing else holds dout.
// Equal to relu6(batch_norm(x, ...)) (autograd/batch_norm.cpp, autograd/activations.cpp)
// up to float rounding; saves x, γ, β and the statistics, not the BN output.
#include "autograd/bn_relu6.h"
#include "tensor/batch_norm.h"

namespace kz {

Variable batch_norm_relu6(const Variable& x, const Variable& weight, const Variable& bias,
                          Tensor& running_mean, Tensor& running_var, bool training,
                          float momentum, float eps) {
  KZ_CHECK(x.defined() && weight.defined() && bias.defined(), "batch_norm_relu6",
           "x, weight and bias must be defined");
  BatchNormSaved saved;
  const bool grad = needs_grad({x, weight, bias});
  Tensor out = batch_norm_relu6_forward(x.data(), weight.data(), bias.data(), running_mean,
                                        running_var, training, momentum, eps,
                                        grad ? &saved : nullptr);
  if (!grad) return Variable(std::move(out));
  const bool dx_needed = x.requires_grad(), dw_needed = weight.requires_grad(),
             db_needed = bias.requires_grad();
  const Tensor xd = x.data(), w = weight.data(), b = bias.data();
  return make_result(
      std::move(out), "batch_norm_relu6", {x, weight, bias},
      [xd, w, b, saved, training, eps, dx_needed, dw_needed, db_needed](const Tensor& dout) {
        Tensor dx, dweight, dbias;
        // The engine holding the only reference to dout: dx is computed over it, in place.
        if (dx_needed && dout.storage().use_count() == 1) dx = dout;
        batch_norm_relu6_backward(dout, xd, w, b, saved, training, eps,
                                  dx_needed ? &dx : nullptr, dw_needed ? &dweight : nullptr,
                                  db_needed ? &dbias : nullptr);
        return std::vector<Tensor>{dx, dweight, dbias};
      });
}

}  // namespace kz
