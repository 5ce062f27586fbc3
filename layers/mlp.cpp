// mlp.cpp — the multilayer perceptron of Linear – BatchNorm1d – ReLU stages, or GOAD's plain
// ones (see mlp.h).
#include "layers/mlp.h"

#include "layers/simple.h"

#include <cmath>

namespace kz {

Mlp::Mlp(const MlpOptions& options, Generator& gen) : options_(options) {
  KZ_CHECK(options.in_features >= 1 && !options.widths.empty(), "Mlp",
           "needs at least one input feature and one stage, got {} features and {} stages",
           options.in_features, options.widths.size());
  stages_ = register_module("stages", std::make_shared<Sequential>());
  int64_t in = options.in_features;
  for (const int64_t w : options.widths) {
    KZ_CHECK(w >= 1, "Mlp", "stage width {} (widths must be at least 1)", w);
    if (options.plain) {
      auto stage = std::make_shared<Sequential>();
      if (stages_->size() > 0) stage->add(std::make_shared<LeakyReLU>(0.2f));
      auto linear = stage->add(std::make_shared<Linear>(in, w, false, gen));
      // The authors' weights_init: Xavier-normal with gain √2, std √2·√(2 / (in + out)).
      linear->weight().data() = Tensor::normal(
          {w, in}, 0.0f, std::sqrt(4.0f / static_cast<float>(in + w)), gen);
      stages_->add(stage);
      in = w;
      continue;
    }
    stages_->add(std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
        std::make_shared<Linear>(in, w, true, gen),
        std::make_shared<BatchNorm1d>(w, options.bn_eps, options.bn_momentum),
        std::make_shared<ReLU>()}));
    in = w;
  }
}

Variable Mlp::forward(const Variable& x) {
  const bool table_rows = x.dim() == 4 && x.size(2) == 1 && x.size(3) == 1;
  KZ_CHECK((x.dim() == 2 || table_rows) && x.size(1) == options_.in_features, "Mlp",
           "expected input (N, {}) or (N, {}, 1, 1), got {}", options_.in_features,
           options_.in_features, shape_str(x.shape()));
  return stages_->forward(x.dim() == 2 ? x : reshape(x, {x.size(0), x.size(1)}));
}

}  // namespace kz
