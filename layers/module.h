// module.h — Module: the base of every layer and network.
//
// A Module owns named parameters (Variables that require grad), named buffers (Tensors
// such as BatchNorm's running statistics) and named child modules. Names compose with dots
// exactly as PyTorch's, so `features.1.conv.0.0.weight` in kizuki is the same tensor as in
// torchvision, and a torchvision state_dict saved as safetensors loads as it is.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace kz {

using StateDict = std::map<std::string, Tensor>;

// What load_state_dict found; strict loading throws when either list is not empty.
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

class Module {
 public:
  virtual ~Module() = default;

  // The one-input forward of layers and networks. Modules with other signatures (loss
  // heads) add their own overloads; calling this on them throws.
  virtual Variable forward(const Variable& x);
  Variable operator()(const Variable& x) { return forward(x); }

  // Recursive, in registration order, with dotted names.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<Variable> parameters() const;
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();

  // Parameters and buffers by dotted name (copies of the values).
  StateDict state_dict() const;
  // Copies values in, checking each shape ("[load_state_dict] features.0.0.weight: expected
  // (32, 3, 3, 3), got ..."). strict: missing or unexpected keys throw, listing all of them.
  // All shapes are checked before any value is copied, so a failed load changes nothing.
  // Keys ending in "num_batches_tracked" (torchvision's BatchNorm counter, which kizuki
  // does not keep) are skipped, so a torchvision state_dict loads as it is.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  virtual std::string type_name() const { return "Module"; }

 protected:
  Variable& register_parameter(const std::string& name, Tensor init);
  Tensor& register_buffer(const std::string& name, Tensor init);
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

// Called around each child's forward by Sequential (the profiler, layers/profiler.h).
// Per thread; not set = no cost beyond a null check.
struct ForwardObserver {
  virtual ~ForwardObserver() = default;
  virtual void begin(const Module& module, const Variable& x) = 0;
  virtual void end(const Module& module, const Variable& y) = 0;
};
void set_forward_observer(ForwardObserver* observer);  // nullptr = off
ForwardObserver* forward_observer();

// A module's state_dict as a safetensors file (F32, atomic write), with optional
// "__metadata__" strings.
void save_state_dict(const Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {});
// Loads a safetensors file into the module as load_state_dict does; errors name the file.
LoadResult load_state_dict(Module& module, const std::string& path, bool strict = true);

}  // namespace kz
