// ae.cpp — the convolutional autoencoder scored by its reconstruction error, a scoring
// method: the oldest deep anomaly detector the seed's survey names (e.g. Sakurada & Yairi
// 2014; Zhou & Paffenroth 2017 for the convolutional form).
//
// Network: ConvAutoencoder (layers/conv_autoencoder.h), x̂ = sigmoid(dec(enc(x))), trained
// on normal images with the mean squared error (1/(N·C·H·W)) Σ (x − x̂)² (losses/
// reconstruction.h). The idea: what the network never saw it reconstructs badly.
//   score "mse"  ‖x − x̂‖² = Σ over channels and pixels of (x − x̂)², per image
//   map          (1/C) Σ_c (x − x̂)², per pixel
//
// On a table (Sakurada & Yairi's own setting): the MlpAutoencoder (layers/
// mlp_autoencoder.h) of options.mlp_widths (the table preset's 32, 16, 8: Deep SAD's tabular
// autoencoder), x̂ = dec(enc(x)) with no output activation on the standardised rows, the same
// loss (1/(N·F)) Σ (x − x̂)², and score "mse" ‖x − x̂‖² = Σ_f (x_f − x̂_f)² per row (F times
// the row's mean squared error: the same ranking); no maps.
#include "anomaly/methods/reconstruction.h"
#include "losses/reconstruction.h"

namespace kz {

namespace {

class AutoencoderMethod final : public ReconstructionMethod {
 public:
  explicit AutoencoderMethod(const MethodOptions& o) : ReconstructionMethod(o) {}
  std::vector<std::string> score_names() const override { return {"mse"}; }

 protected:
  bool takes_tables() const override { return true; }
  std::shared_ptr<Module> make_network(const ConvAutoencoderOptions& o,
                                       Generator& gen) const override {
    return std::make_shared<ConvAutoencoder>(o, gen);
  }
  Variable batch_loss(const Tensor& x, Generator&) const override {
    return mse_loss(net_->forward(Variable(x)), Variable(x));
  }
  std::vector<Tensor> batch_scores(const Tensor& x, int64_t) const override {
    const Variable error = mse_loss(net_->forward(Variable(x)), Variable(x), Reduction::none);
    return {sum(error, {1, 2, 3}).data()};
  }
  AnomalyMaps batch_maps(const Tensor& x) const override {
    const Variable xh = net_->forward(Variable(x));
    return {mean(mse_loss(xh, Variable(x), Reduction::none), {1}).data(), xh.data()};
  }
};

}  // namespace

std::unique_ptr<Method> make_ae(const MethodOptions& o) {
  return std::make_unique<AutoencoderMethod>(o);
}

}  // namespace kz
