/// \file
/// optimizer.h — Optimizer: the base of SGD and Adam. Parameter groups, freezing, the
/// per-parameter state, and the state_dict that lets training resume bit-exactly.
///
/// An optimizer updates a list of parameter groups. Each group has its own learning rate
/// (unset = the optimizer's) and can be frozen: a frozen group is skipped by step() and its
/// parameters get requires_grad = false, so backward does not even compute their gradients
/// (DOC freezes the early layers of its network this way). Unfreezing restores requires_grad.
///
/// step() follows torch.optim: parameters without a gradient are skipped; state (momentum
/// buffers, Adam moments) is created lazily on a parameter's first update, in the
/// parameter's own layout (contiguous or channels-last). Updates are in place on
/// Variable::data(); hyper-parameters are doubles, cast to float where PyTorch casts them.
///
/// state_dict() — a std::map<std::string, Tensor> that tensor/safetensors.h saves as is:
/// \code{.unparsed}
///   "step"                          number of step() calls
///   "param_groups.{g}.lr"           the group's current learning rate
///   "param_groups.{g}.num_params"   to catch a state loaded into another model
///   "state.{g}.{i}.step"            updates of parameter i of group g (Adam's bias correction)
///   "state.{g}.{i}.{buffer}"        its buffers, the parameter's shape ("momentum_buffer",
///                                   "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
/// \endcode
/// Scalars are stored exactly as float32 triples (see encode_f64), so a learning rate such as
/// 1e-4 survives the float32-only file format bit for bit. load_state_dict() validates every
/// key and shape before changing anything.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace kz {

/// Parameters that share a learning rate and can be frozen together.
struct ParamGroup {
  std::vector<Variable> params;  ///< each at most once across all groups
  std::optional<double> lr;   ///< unset: the optimizer's lr (always set once constructed)
  bool frozen = false;        ///< see set_frozen
  std::string name;           ///< for messages only (e.g. "features.0-6")
  double initial_lr = 0.0;    ///< set by the optimizer: lr at construction, the schedules' base
};

/// All parameters in one group with the optimizer's options.
std::vector<ParamGroup> one_group(std::vector<Variable> params);

/// A double as 3 float32s (hi, mid, lo) whose sum in double is exactly the value (for any
/// double whose magnitude is above ~1e-30; learning rates and step counts are).
Tensor encode_f64(double value);
/// The double of an encode_f64 tensor; anything else throws naming key_for_errors.
double decode_f64(const Tensor& t, const std::string& key_for_errors);

/// The base of SGD and Adam (see the file's description).
class Optimizer {
 public:
  virtual ~Optimizer() = default;  ///< optimizers are used through references
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient, in every unfrozen group.
  void step();
  /// Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  /// The groups, lr filled in.
  ///@{
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  ///@}
  void set_lr(double lr);  ///< every group
  /// Freezes (or unfreezes) a group: skipped by step(), requires_grad off (or back on).
  void set_frozen(size_t group, bool frozen);
  int64_t step_count() const { return steps_; }  ///< step() calls so far
  virtual std::string type_name() const = 0;     ///< "SGD", "Adam"

  /// The state, keyed as the file's description lists.
  std::map<std::string, Tensor> state_dict() const;
  /// Throws, naming the key, when the state does not fit these groups and options (another
  /// optimizer type, another model, wrong shapes, unknown keys); nothing changes then.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  /// One parameter's state.
  struct ParamState {
    int64_t step = 0;                      ///< updates so far; 0 = no state yet
    std::map<std::string, Tensor> buffers; ///< each of the parameter's shape and layout
  };

  /// Checks the groups (lrs ≥ 0, no parameter twice), sets unset lrs to default_lr and
  /// initial_lr, freezes frozen groups. op names the optimizer in errors.
  Optimizer(std::vector<ParamGroup> groups, double default_lr, const char* op);

  /// Update one parameter p (data updated in place) with gradient grad (same shape and
  /// layout as p). state.step has already been incremented for this update.
  virtual void update(const ParamGroup& group, Tensor& p, const Tensor& grad,
                      ParamState& state) = 0;
  /// The buffers a parameter with state must have (for load_state_dict's checks).
  virtual std::vector<std::string> buffer_names() const = 0;

  /// A zero tensor with p's shape and layout.
  static Tensor zeros_like_param(const Tensor& p);

 private:
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  ///< [group][param]
  int64_t steps_ = 0;
  std::string op_;  ///< "SGD" or "Adam", for messages
};

}  // namespace kz
