/// \file
/// mlp_autoencoder.h — MlpAutoencoder: the autoencoder of `ae` on a table, an encoder of
/// Linear – BatchNorm1d – ReLU stages down to a linear bottleneck and the mirrored decoder.
///
/// Shape letters: N rows, F input features, W_0 … W_{k−1} the widths (options.widths,
/// --mlp-widths), the last one the bottleneck B = W_{k−1} (1 ≤ B ≤ F).
///
/// \code{.unparsed}
///   input       x (N,F), or (N,F,1,1) as a table's rows come from the data loader
///   encoder     i = 0 … k−2: Linear(W_{i−1}, W_i) – BatchNorm1d(W_i) – ReLU   (W_{−1} = F)
///               then the code Linear(W_{k−2}, B), no batch norm, no activation  → z (N,B)
///   decoder     j = 0 … k−2: Linear(·, W_{k−2−j}) – BatchNorm1d – ReLU         (B → … → W_0)
///               then Linear(W_0, F), no activation                             → x̂ (N,F)
///   output      x̂ in the input's shape, (N,F) or (N,F,1,1)
/// \endcode
/// With one width (k = 1) it is Linear(F, B) then Linear(B, F): a linear autoencoder. The
/// shape is that of Deep SAD's tabular autoencoder (Ruff et al. 2020, networks/mlp.py:
/// Linear_BN_leakyReLU stages to a linear code layer and back), with ReLU for its leaky
/// ReLU, biases and affine batch norms (kizuki's Mlp stages), and no sigmoid at the end: the
/// rows are standardised (data/table_split.h), not scaled to [0, 1].
///
/// Parameter names are PyTorch's for a module with two nn.Sequential attributes `encoder`
/// and `decoder`, stage i an nn.Sequential(nn.Linear, nn.BatchNorm1d, nn.ReLU) and the last
/// entry a bare nn.Linear: "encoder.<i>.0.weight", "encoder.<i>.1.running_mean", …,
/// "encoder.<k−1>.weight", "decoder.<j>.0.bias", …, "decoder.<k−1>.weight". Initialisation
/// is PyTorch's (Linear U(−1/√in, 1/√in) for weight and bias, BatchNorm weight 1, bias 0),
/// drawn in the order of the names; tests/fixtures/make_mlp_autoencoder.py builds the same
/// network.
#pragma once

#include <memory>
#include <vector>

#include "layers/module.h"
#include "layers/sequential.h"
#include "tensor/generator.h"

namespace kz {

/// The shape of an MlpAutoencoder.
struct MlpAutoencoderOptions {
  int64_t in_features = 0;               ///< F
  std::vector<int64_t> widths{32, 16, 8};  ///< W_0 … W_{k−1}; the last is the bottleneck B
  float bn_eps = 1e-5f;                  ///< BatchNorm1d's eps
  float bn_momentum = 0.1f;              ///< BatchNorm1d's momentum
};

/// The encoder–decoder of the file's description: x (N,F) → x̂ (N,F).
class MlpAutoencoder : public Module {
 public:
  /// Random weights from gen, as PyTorch initialises them. Fails unless F ≥ 1, every width
  /// is at least 1 and the bottleneck at most F.
  MlpAutoencoder(const MlpAutoencoderOptions& options, Generator& gen);
  Variable forward(const Variable& x) override;  ///< (N,F) or (N,F,1,1) -> the same shape
  Variable encode(const Variable& x);            ///< (N,F) or (N,F,1,1) -> z (N,B)
  const MlpAutoencoderOptions& options() const { return options_; }  ///< as built
  std::string type_name() const override { return "MlpAutoencoder"; }

 private:
  MlpAutoencoderOptions options_;
  std::shared_ptr<Sequential> encoder_, decoder_;
};

}  // namespace kz
