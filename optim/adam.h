// adam.h — Adam (Kingma & Ba 2015) with L2 weight decay and the AMSGrad variant (Reddi et
// al. 2018), with torch.optim.Adam's exact update rule (PyTorch 1.13, single-tensor path).
// Per element, with g the gradient, p the parameter, t this parameter's update count:
//
//   g = g + weight_decay·p                                   (when weight_decay ≠ 0)
//   m = β1·m + (1 − β1)·g
//   v = β2·v + (1 − β2)·g²
//   v̂ = max(v̂, v)  (AMSGrad; the denominator then uses v̂ instead of v)
//   denom = √v / √(1 − β2ᵗ) + eps
//   p = p − (lr / (1 − β1ᵗ)) · m / denom
//
// The bias corrections and step size are computed in double, as PyTorch does in Python,
// and cast to float for the element-wise update. Weight decay is L2 (added to g), not
// AdamW's decoupled decay.
#pragma once

#include "optim/optimizer.h"

namespace kz {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options);
  Adam(std::vector<Variable> params, const AdamOptions& options);
  const AdamOptions& options() const { return options_; }
  std::string type_name() const override { return "Adam"; }

 protected:
  void update(const ParamGroup& group, Tensor& p, const Tensor& grad,
              ParamState& state) override;
  std::vector<std::string> buffer_names() const override;

 private:
  AdamOptions options_;
};

}  // namespace kz
