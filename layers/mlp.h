/// \file
/// mlp.h — Mlp: the multilayer perceptron that is the backbone of the metric-learning
/// methods on tables (anomaly/methods/backbone.h), stages of Linear – BatchNorm1d – ReLU.
///
/// Shape letters: N rows, F input features, W_i the width of stage i, D = W_last the
/// feature dimension.
///
/// \code{.unparsed}
///   input       x (N,F), or (N,F,1,1) as a table's rows come from the data loader
///               (data/dataset.h), flattened to (N,F)
///   stage i     Linear(W_{i−1}, W_i) – BatchNorm1d(W_i) – ReLU      (W_{−1} = F)
///   output      features (N, D), D = widths.back()
/// \endcode
/// With `plain` (GOAD's tabular network, Bergman & Hoshen's netC5 written with Linear for
/// their kernel-1 Conv1d): stage 0 Linear(F, W_0) without bias, stage i > 0 LeakyReLU(0.2) –
/// Linear(W_{i−1}, W_i) without bias; no batch norm and no activation after the last stage,
/// so the features are the last linear map's outputs, and their init, Xavier-normal with gain
/// √2 (std 2/√(in + out)). Names "stages.0.0.weight", "stages.<i>.1.weight".
///
/// Parameter names are those of PyTorch's `nn.Sequential(*[nn.Sequential(nn.Linear,
/// nn.BatchNorm1d, nn.ReLU) for each stage])` held as the attribute `stages`:
/// "stages.<i>.0.weight" (W_i, W_{i−1}), "stages.<i>.0.bias", "stages.<i>.1.weight",
/// "stages.<i>.1.bias", "stages.<i>.1.running_mean", "stages.<i>.1.running_var", so that
/// tests/fixtures/make_mlp.py loads the same weights. Initialisation is PyTorch's
/// (Linear U(−1/√in, 1/√in), BatchNorm weight 1 and bias 0).
#pragma once

#include <memory>
#include <vector>

#include "layers/batch_norm.h"
#include "layers/linear.h"
#include "layers/sequential.h"

namespace kz {

/// The shape of an Mlp.
struct MlpOptions {
  int64_t in_features = 0;               ///< F
  std::vector<int64_t> widths{64, 64};   ///< W_0 … W_last, one stage each
  float bn_eps = 1e-5f;                  ///< BatchNorm1d's eps
  float bn_momentum = 0.1f;              ///< BatchNorm1d's momentum
  bool plain = false;                    ///< GOAD's stages (see the file's description)
};

/// Linear – BatchNorm1d – ReLU stages (see the file's description).
class Mlp : public Module {
 public:
  /// Random weights from gen, as PyTorch initialises them.
  Mlp(const MlpOptions& options, Generator& gen);
  Variable forward(const Variable& x) override;  ///< (N,F) or (N,F,1,1) -> (N,D)
  int64_t feature_dim() const { return options_.widths.back(); }  ///< D
  const MlpOptions& options() const { return options_; }           ///< as built
  std::string type_name() const override { return "Mlp"; }

 private:
  MlpOptions options_;
  std::shared_ptr<Sequential> stages_;
};

}  // namespace kz
