/// \file
/// sequential.h — Sequential: child modules applied one after another.
///
/// Children are named "0", "1", ... in the order they are added, as PyTorch's
/// nn.Sequential, so their parameters are "0.weight", "1.running_mean", ...
#pragma once

#include <initializer_list>
#include <memory>

#include "layers/module.h"

namespace kz {

/// Child modules applied one after another, PyTorch's nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;  ///< no children
  /// The modules as children "0", "1", ... in order.
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);

  /// Appends a module as child "<size()>"; returns it.
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    register_module(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }

  Variable forward(const Variable& x) override;  ///< each child in order

  int64_t size() const { return static_cast<int64_t>(modules_.size()); }  ///< children
  const std::shared_ptr<Module>& at(int64_t i) const;  ///< throws when out of range
  std::string type_name() const override { return "Sequential"; }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace kz
