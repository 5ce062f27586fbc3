/// \file
/// module.h — Module: the base of every layer and network.
///
/// A Module owns named parameters (Variables that require grad), named buffers (Tensors
/// such as BatchNorm's running statistics) and named child modules. Names compose with dots
/// exactly as PyTorch's, so `features.1.conv.0.0.weight` in kizuki is the same tensor as in
/// torchvision, and a torchvision state_dict saved as safetensors loads as it is.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace kz {

/// Tensors by dotted name, as PyTorch's state_dict.
using StateDict = std::map<std::string, Tensor>;

/// What load_state_dict found; strict loading throws when either list is not empty.
struct LoadResult {
  std::vector<std::string> missing_keys;     ///< the module's, absent from the state
  std::vector<std::string> unexpected_keys;  ///< the state's, unknown to the module
};

/// The base of every layer and network (see the file's description).
class Module {
 public:
  virtual ~Module() = default;  ///< modules are held by shared_ptr

  /// The one-input forward of layers and networks. Modules with other signatures (loss
  /// heads) add their own overloads; calling this on them throws.
  virtual Variable forward(const Variable& x);
  Variable operator()(const Variable& x) { return forward(x); }  ///< forward(x)

  /// Recursive, in registration order, with dotted names.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<Variable> parameters() const;  ///< named_parameters() without the names
  /// Recursive, in registration order, with dotted names; pointers into the modules.
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  /// The direct children, in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }

  void train(bool on = true);  ///< training mode (or eval), for this module and its children
  void eval() { train(false); }  ///< train(false)
  bool is_training() const { return training_; }  ///< true unless eval() was called
  void zero_grad();  ///< every parameter's grad undefined (PyTorch's set_to_none)

  /// Parameters and buffers by dotted name (copies of the values).
  StateDict state_dict() const;
  /// Copies values in, checking each shape
  /// ("[load_state_dict] features.0.0.weight: expected (32, 3, 3, 3), got ...").
  /// strict: missing or unexpected keys throw, listing all of them.
  /// All shapes are checked before any value is copied, so a failed load changes nothing.
  /// Keys ending in "num_batches_tracked" (torchvision's BatchNorm counter, which kizuki
  /// does not keep) are skipped, so a torchvision state_dict loads as it is.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  /// The class's name ("Linear", "Conv2d", ...), for printing and errors.
  virtual std::string type_name() const { return "Module"; }

 protected:
  /// Adds a parameter (a Variable requiring grad) holding `init`; names are unique per module.
  Variable& register_parameter(const std::string& name, Tensor init);
  /// Adds a buffer holding `init` (the returned reference stays valid); names are unique.
  Tensor& register_buffer(const std::string& name, Tensor init);
  /// Adds a child module under `name`; returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  std::vector<std::pair<std::string, Variable>> parameters_;
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Called around each child's forward by Sequential and the autoencoders (observed_forward;
/// the profiler, profile/profiler.h).
/// Per thread; not set = no cost beyond a null check.
struct ForwardObserver {
  virtual ~ForwardObserver() = default;
  virtual void begin(const Module& module, const Variable& x) = 0;  ///< before its forward(x)
  virtual void end(const Module& module, const Variable& y) = 0;    ///< after, with y
};
void set_forward_observer(ForwardObserver* observer);  ///< nullptr = off
ForwardObserver* forward_observer();  ///< this thread's, or nullptr
/// m.forward(x) with this thread's ForwardObserver around it: how a container calls a child
/// so that the profiler gives the child a row of its own (Sequential, the autoencoders).
Variable observed_forward(Module& m, const Variable& x);

/// A module's state_dict as a safetensors file (F32, atomic write), with optional
/// "__metadata__" strings.
void save_state_dict(const Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {});
/// Loads a safetensors file into the module as load_state_dict does; errors name the file.
LoadResult load_state_dict(Module& module, const std::string& path, bool strict = true);

}  // namespace kz
