/// \file
/// linear.h — Linear: the fully connected layer, y = x·weightᵀ + bias.
///
/// Shapes: x is (N, in), weight (out, in), bias (out), y (N, out).
#pragma once

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/generator.h"

namespace kz {

/// The fully connected layer, PyTorch's nn.Linear.
class Linear : public Module {
 public:
  /// Parameters "weight" (out, in) and, with bias, "bias" (out), drawn as PyTorch's
  /// default: U(−1/√in, 1/√in).
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen);

  Variable forward(const Variable& x) override;  ///< (N, in) -> (N, out)

  Variable& weight() { return weight_; }  ///< (out, in)
  Variable& bias() { return bias_; }  ///< undefined without bias
  int64_t in_features() const { return in_features_; }    ///< in
  int64_t out_features() const { return out_features_; }  ///< out
  std::string type_name() const override { return "Linear"; }

 private:
  int64_t in_features_, out_features_;
  Variable weight_, bias_;
};

}  // namespace kz
