// sequential.cpp — Sequential (see sequential.h).
#include "layers/sequential.h"

namespace kz {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) add(m);
}

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (const auto& m : modules_) h = observed_forward(*m, h);
  return h;
}

const std::shared_ptr<Module>& Sequential::at(int64_t i) const {
  KZ_CHECK(i >= 0 && i < size(), "Sequential", "index {} out of range for {} modules", i, size());
  return modules_[static_cast<size_t>(i)];
}

}  // namespace kz
