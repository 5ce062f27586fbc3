/// \file
/// adam.h — Adam (Kingma & Ba 2015) with L2 weight decay and the AMSGrad variant (Reddi et
/// al.\ 2018), with torch.optim.Adam's exact update rule (PyTorch 1.13, single-tensor path).
/// Per element, with g the gradient, p the parameter, t this parameter's update count:
///
/// \code{.unparsed}
///   g = g + weight_decay·p                                   (when weight_decay ≠ 0)
///   m = β1·m + (1 − β1)·g
///   v = β2·v + (1 − β2)·g²
///   v̂ = max(v̂, v)  (AMSGrad; the denominator then uses v̂ instead of v)
///   denom = √v / √(1 − β2ᵗ) + eps
///   p = p − (lr / (1 − β1ᵗ)) · m / denom
/// \endcode
///
/// The bias corrections and step size are computed in double, as PyTorch does in Python,
/// and cast to float for the element-wise update. Weight decay is L2 (added to g), not
/// AdamW's decoupled decay.
#pragma once

#include "optim/optimizer.h"

namespace kz {

/// Adam's hyper-parameters; the defaults are torch.optim.Adam's.
struct AdamOptions {
  double lr = 1e-3;           ///< for groups without their own
  double beta1 = 0.9;         ///< β1, the first moment's decay
  double beta2 = 0.999;       ///< β2, the second moment's decay
  double eps = 1e-8;          ///< added to the denominator
  double weight_decay = 0.0;  ///< L2, added to the gradient
  bool amsgrad = false;       ///< the AMSGrad variant
};

/// Adam, with torch.optim.Adam's update (see the file's description).
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options);  ///< groups as given
  Adam(std::vector<Variable> params, const AdamOptions& options);    ///< one group
  const AdamOptions& options() const { return options_; }  ///< as constructed
  std::string type_name() const override { return "Adam"; }

 protected:
  void update(const ParamGroup& group, Tensor& p, const Tensor& grad,
              ParamState& state) override;
  std::vector<std::string> buffer_names() const override;

 private:
  AdamOptions options_;
};

}  // namespace kz
