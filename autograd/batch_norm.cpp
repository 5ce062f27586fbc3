// batch_norm.cpp — the differentiable batch normalisation (kernels in tensor/batch_norm.h).
//   training:  y = γ·(x − μ_B)/sqrt(σ²_B + ε) + β with the batch statistics μ_B, σ²_B (which
//              depend on x, so dx has terms through them); running stats updated in place.
//   inference: y = γ·(x − μ_run)/sqrt(σ²_run + ε) + β, an affine map of x per channel.
// Backward of either: dx (N,C,H,W), dγ = Σ dy·x̂, dβ = Σ dy; saves x, γ and the statistics.
#include "autograd/functions.h"
#include "tensor/batch_norm.h"

namespace kz {

Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                    float eps) {
  KZ_CHECK(x.defined(), "batch_norm", "x must be defined");
  const Tensor w = weight.defined() ? weight.data() : Tensor();
  BatchNormSaved saved;
  Tensor out = batch_norm_forward(x.data(), w, bias.defined() ? bias.data() : Tensor(),
                                  running_mean, running_var, training, momentum, eps, &saved);
  const bool dx_needed = x.requires_grad();
  const bool dw_needed = weight.defined() && weight.requires_grad();
  const bool db_needed = bias.defined() && bias.requires_grad();
  if (!needs_grad({x, weight, bias})) return Variable(std::move(out));
  if (!training) {  // the statistics are constants: keep this call's copy of them
    saved.mean = running_mean.clone();
    saved.var = running_var.clone();
  }
  const Tensor xd = x.data();
  return make_result(
      std::move(out), "batch_norm", {x, weight, bias},
      [xd, w, saved, training, eps, dx_needed, dw_needed, db_needed](const Tensor& dout) {
        Tensor dx, dweight, dbias;
        Tensor* dxp = dx_needed ? &dx : nullptr;
        Tensor* dwp = dw_needed ? &dweight : nullptr;
        Tensor* dbp = db_needed ? &dbias : nullptr;
        if (training)
          batch_norm_backward(dout, xd, w, saved, eps, dxp, dwp, dbp);
        else
          batch_norm_backward_inference(dout, xd, w, saved.mean, saved.var, eps, dxp, dwp, dbp);
        return std::vector<Tensor>{dx, dweight, dbias};
      });
}

}  // namespace kz
