// batch_norm.cpp — BatchNorm2d and BatchNorm1d (see batch_norm.h). The math is kz::batch_norm
// (autograd/batch_norm.cpp).
#include "layers/batch_norm.h"

namespace kz {

BatchNorm2d::BatchNorm2d(int64_t channels, float eps, float momentum)
    : channels_(channels), eps_(eps), momentum_(momentum) {
  KZ_CHECK(channels > 0 && eps > 0 && momentum >= 0 && momentum <= 1, "BatchNorm2d",
           "invalid options: channels {}, eps {}, momentum {}", channels, eps, momentum);
  weight_ = register_parameter("weight", Tensor::ones({channels}));
  bias_ = register_parameter("bias", Tensor::zeros({channels}));
  running_mean_ = &register_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = &register_buffer("running_var", Tensor::ones({channels}));
}

Variable BatchNorm2d::forward(const Variable& x) {
  KZ_CHECK(x.dim() == 4 && x.size(1) == channels_, "BatchNorm2d",
           "expected input (N, {}, H, W), got {}", channels_, shape_str(x.shape()));
  if (stat_sum_ && is_training())
    return sync_batch_norm(x, weight_, bias_, *running_mean_, *running_var_, momentum_, eps_,
                           stat_sum_);
  return batch_norm(x, weight_, bias_, *running_mean_, *running_var_, is_training(), momentum_,
                    eps_);
}

Variable BatchNorm1d::forward(const Variable& x) {
  KZ_CHECK(x.dim() == 2 && x.size(1) == channels(), "BatchNorm1d", "expected input (N, {}), got {}",
           channels(), shape_str(x.shape()));
  KZ_CHECK(!is_training() || x.size(0) > 1, "BatchNorm1d",
           "expected more than 1 value per channel when training, got input {}",
           shape_str(x.shape()));
  return reshape(BatchNorm2d::forward(reshape(x, {x.size(0), x.size(1), 1, 1})),
                 {x.size(0), x.size(1)});
}

}  // namespace kz
