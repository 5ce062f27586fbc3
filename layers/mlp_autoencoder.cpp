// mlp_autoencoder.cpp — the MLP autoencoder of `ae` on a table (see mlp_autoencoder.h).
#include "layers/mlp_autoencoder.h"

#include "layers/batch_norm.h"
#include "layers/linear.h"
#include "layers/simple.h"

namespace kz {

namespace {

// Linear(in, out) – BatchNorm1d(out) – ReLU.
std::shared_ptr<Sequential> stage(int64_t in, int64_t out, const MlpAutoencoderOptions& o,
                                  Generator& gen) {
  return std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      std::make_shared<Linear>(in, out, true, gen),
      std::make_shared<BatchNorm1d>(out, o.bn_eps, o.bn_momentum), std::make_shared<ReLU>()});
}

}  // namespace

MlpAutoencoder::MlpAutoencoder(const MlpAutoencoderOptions& o, Generator& gen) : options_(o) {
  KZ_CHECK(o.in_features >= 1 && !o.widths.empty(), "MlpAutoencoder",
           "needs at least one input feature and one width, got {} features and {} widths",
           o.in_features, o.widths.size());
  for (const int64_t w : o.widths)
    KZ_CHECK(w >= 1, "MlpAutoencoder", "width {} in --mlp-widths (widths must be at least 1)",
             w);
  const int64_t bottleneck = o.widths.back();
  KZ_CHECK(bottleneck <= o.in_features, "MlpAutoencoder",
           "the bottleneck (the last of --mlp-widths) is {}, more than the {} input features: "
           "the autoencoder could copy its input (give a smaller last width)", bottleneck, o.in_features);
  const auto k = static_cast<int64_t>(o.widths.size());
  encoder_ = register_module("encoder", std::make_shared<Sequential>());
  decoder_ = register_module("decoder", std::make_shared<Sequential>());
  int64_t in = o.in_features;
  for (int64_t i = 0; i + 1 < k; ++i) {
    encoder_->add(stage(in, o.widths[static_cast<size_t>(i)], o, gen));
    in = o.widths[static_cast<size_t>(i)];
  }
  encoder_->add(std::make_shared<Linear>(in, bottleneck, true, gen));
  in = bottleneck;
  for (int64_t j = k - 2; j >= 0; --j) {
    decoder_->add(stage(in, o.widths[static_cast<size_t>(j)], o, gen));
    in = o.widths[static_cast<size_t>(j)];
  }
  decoder_->add(std::make_shared<Linear>(in, o.in_features, true, gen));
}

Variable MlpAutoencoder::encode(const Variable& x) {
  const bool table_rows = x.dim() == 4 && x.size(2) == 1 && x.size(3) == 1;
  KZ_CHECK((x.dim() == 2 || table_rows) && x.size(1) == options_.in_features, "MlpAutoencoder",
           "expected input (N, {}) or (N, {}, 1, 1), got {}", options_.in_features,
           options_.in_features, shape_str(x.shape()));
  return observed_forward(*encoder_, x.dim() == 2 ? x : reshape(x, {x.size(0), x.size(1)}));
}

Variable MlpAutoencoder::forward(const Variable& x) {
  const Variable xh = observed_forward(*decoder_, encode(x));  // (N,F)
  return x.dim() == 2 ? xh : reshape(xh, x.shape());
}

}  // namespace kz
