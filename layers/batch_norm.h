/// \file
/// batch_norm.h — BatchNorm2d: batch normalisation over (N,C,H,W), per channel C; and
/// BatchNorm1d, the same over (N,C) (the rows of a table, layers/mlp.h).
///
/// Training: normalise with the batch's mean and biased variance over N,H,W, then update
/// running_mean/running_var with momentum as PyTorch (r = (1−momentum)·r + momentum·stat,
/// the unbiased variance for running_var). Eval: use the running statistics.
/// y = weight·(x − mean)/sqrt(var + eps) + bias. The output keeps x's memory format.
/// With set_stat_sum (data-parallel training, --sync-bn) the training statistics are those of
/// the global batch over all processes.
#pragma once

#include "autograd/functions.h"
#include "layers/module.h"

namespace kz {

/// Batch normalisation over (N,C,H,W), PyTorch's nn.BatchNorm2d.
class BatchNorm2d : public Module {
 public:
  /// Parameters "weight" = 1, "bias" = 0; buffers "running_mean" = 0, "running_var" = 1
  /// (PyTorch's init). torchvision's num_batches_tracked is not kept.
  explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f);

  Variable forward(const Variable& x) override;  ///< (N,C,H,W) -> (N,C,H,W)

  Variable& weight() { return weight_; }              ///< gamma (C)
  Variable& bias() { return bias_; }                  ///< beta (C)
  Tensor& running_mean() { return *running_mean_; }  ///< (C)
  Tensor& running_var() { return *running_var_; }    ///< (C), unbiased
  int64_t channels() const { return channels_; }      ///< C
  float eps() const { return eps_; }                  ///< added to the variance
  float momentum() const { return momentum_; }        ///< of the running statistics' update
  /// Synchronised statistics in training (data-parallel --sync-bn): the batch statistics and
  /// their backward sums go through `sum` over the processes (autograd/functions.h
  /// sync_batch_norm). nullptr (the default): this process's batch alone.
  void set_stat_sum(StatSum sum) { stat_sum_ = std::move(sum); }
  bool synchronised() const { return stat_sum_ != nullptr; }  ///< set_stat_sum was given one
  std::string type_name() const override { return "BatchNorm2d"; }

 private:
  int64_t channels_;
  float eps_, momentum_;
  Variable weight_, bias_;
  Tensor* running_mean_;  ///< owned by Module's buffer list
  Tensor* running_var_;
  StatSum stat_sum_;
};

/// Batch normalisation over (N,C), PyTorch's nn.BatchNorm1d: BatchNorm2d on (N,C,1,1), whose
/// statistics over N·1·1 are those over N. The same parameters, buffers and options.
/// Training on N = 1 is refused, as PyTorch does (the variance of one value is 0 and the
/// running variance's unbiased factor N/(N−1) infinite).
class BatchNorm1d : public BatchNorm2d {
 public:
  using BatchNorm2d::BatchNorm2d;
  Variable forward(const Variable& x) override;  ///< (N,C) -> (N,C)
  std::string type_name() const override { return "BatchNorm1d"; }
};

}  // namespace kz
