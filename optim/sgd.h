/// \file
/// sgd.h — stochastic gradient descent with momentum, dampening, Nesterov and weight decay,
/// with torch.optim.SGD's exact update rule (PyTorch 1.13, single-tensor path). Per element,
/// with g the gradient, p the parameter and b the momentum buffer:
///
/// \code{.unparsed}
///   g = g + weight_decay·p                         (when weight_decay ≠ 0)
///   b = g on the first update, else b = momentum·b + (1 − dampening)·g   (momentum ≠ 0)
///   g = g + momentum·b  (Nesterov)   or   g = b  (plain momentum)
///   p = p − lr·g
/// \endcode
///
/// Note PyTorch's convention (and so kizuki's): lr multiplies the velocity, not the gradient
/// inside it (Sutskever et al. put lr inside).
#pragma once

#include "optim/optimizer.h"

namespace kz {

/// SGD's hyper-parameters; the defaults are torch.optim.SGD's (but lr).
struct SgdOptions {
  double lr = 0.01;          ///< Keras's default; PyTorch has none
  double momentum = 0.0;     ///< 0 = no momentum buffer
  double dampening = 0.0;    ///< of the gradient's share in the momentum
  double weight_decay = 0.0; ///< L2, added to the gradient
  bool nesterov = false;     ///< needs momentum > 0 and dampening = 0
};

/// SGD, with torch.optim.SGD's update (see the file's description).
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SgdOptions& options);  ///< groups as given
  SGD(std::vector<Variable> params, const SgdOptions& options);    ///< one group
  const SgdOptions& options() const { return options_; }  ///< as constructed
  std::string type_name() const override { return "SGD"; }

 protected:
  void update(const ParamGroup& group, Tensor& p, const Tensor& grad,
              ParamState& state) override;
  std::vector<std::string> buffer_names() const override;

 private:
  SgdOptions options_;
};

}  // namespace kz
