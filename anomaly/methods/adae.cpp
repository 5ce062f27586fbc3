// adae.cpp — Adversarial Dual Autoencoders (Vu et al. 2019, "Anomaly Detection with
// Adversarial Dual Autoencoders", arXiv 1902.06924), a scoring method that gives maps.
//
// Networks: two ConvAutoencoders (layers/conv_autoencoder.h) of the same architecture, the
// generator G and the discriminator D, pixels in [0, 1]; saved as "generator" and
// "discriminator". Trained on normal images alone, adversarially (§3 of the paper; the
// losses in losses/gan.h, ‖·‖₁ the mean absolute error):
//   L_D = ‖x − D(x)‖₁ − ‖G(x) − D(G(x))‖₁   D reconstructs real images, fails on G's
//   L_G = ‖x − G(x)‖₁ + ‖G(x) − D(G(x))‖₁   G reconstructs x so that D reconstructs it too
// Alternating updates on every batch as the paper's training: first D on L_D (G's parameters
// frozen), then G on L_G (D's frozen). One Adam with two parameter groups (G, D): Adam's
// state is per parameter, so this is the paper's two optimisers, and the checkpoint holds
// both states. The progress loss is L_G + L_D = ‖x − G(x)‖₁ + ‖x − D(x)‖₁, the sum of the
// two reconstruction errors (the adversarial terms cancel).
//   score "g-dg"  ‖G(x) − D(G(x))‖², per image (sum over channels and pixels): the issue's;
//   score "x-dg"  ‖x − D(G(x))‖², the paper's "discriminator reconstruction error" of x;
//   map           (1/C) Σ_c (G(x) − D(G(x)))², per pixel; the reconstruction is D(G(x)).
// Eval mode (batch-norm running statistics) for scores and maps.
#include "anomaly/methods/reconstruction.h"

#include "losses/gan.h"
#include "losses/reconstruction.h"
#include "optim/adam.h"
#include "tensor/ops.h"

namespace kz {

namespace {

class AdaeMethod final : public ReconstructionMethod {
 public:
  explicit AdaeMethod(const MethodOptions& o) : ReconstructionMethod(o) {}
  std::vector<std::string> score_names() const override { return {"g-dg", "x-dg"}; }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    const ImageDataset& normal = split.normal_train;
    net_options_ = ConvAutoencoderOptions{};
    net_options_.channels = options_.preprocess.rgb ? 3 : normal.channels;
    net_options_.image_size = square_side(options_, normal, name());
    net_options_.latent_dim = options_.latent_dim;
    net_options_.widths = default_widths(net_options_.image_size);
    Generator init(derive_seed(seed, 1, 0));
    net_ = std::make_shared<ConvAutoencoder>(net_options_, init);  // G first, then D
    disc_ = std::make_shared<ConvAutoencoder>(net_options_, init);

    const std::unique_ptr<Adam> adam =
        two_network_adam(net_->parameters(), disc_->parameters(), AdamOptions{}.beta1);
    Adam& opt = *adam;
    const LoaderOptions lo = loader_options(options_, normal, seed, 0);
    DataLoader loader(normal, options_.preprocess, lo);
    const std::vector<uint64_t> seeds{lo.seed};
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(opt, loader, seeds, fp);
    const std::vector<NamedNetwork> nets = networks();
    net_->train();
    disc_->train();
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> batch = loader.next();
      if (!batch) return std::nullopt;
      const Variable x(batch->images);
      // D's step on L_D, G frozen (G(x) then carries no graph into G).
      opt.set_frozen(0, true);
      opt.set_frozen(1, false);
      const Variable g_fixed = net_->forward(x);
      const Variable loss_d = adae_discriminator_loss(x, disc_->forward(x), g_fixed,
                                                      disc_->forward(g_fixed));
      const double ld = loss_d.item();
      guard.loss(ld, e, b, opt);
      optimizer_step(opt, loss_d, guard, nets, e, b);
      // G's step on L_G, D frozen (its gradient passes through D to G).
      opt.set_frozen(0, false);
      opt.set_frozen(1, true);
      const Variable g = net_->forward(x);
      const Variable loss_g = adae_generator_loss(x, g, disc_->forward(g));
      const double lg = loss_g.item();
      guard.loss(lg, e, b, opt);
      optimizer_step(opt, loss_g, guard, nets, e, b);
      opt.set_frozen(1, false);
      return BatchResult{lg + ld, batch->images.size(0)};
    };
    run_epochs(guard, opt, loader, seeds, fp, progress, train_batch);
  }

  std::vector<NamedNetwork> networks() const override {
    if (!net_ || !disc_) return {};
    return {{"generator", net_.get()}, {"discriminator", disc_.get()}};
  }

  void build_untrained(const nlohmann::json& architecture) override {
    ReconstructionMethod::build_untrained(architecture);  // G, checked
    Generator gen(0);  // the values are overwritten by the loaded state
    disc_ = std::make_shared<ConvAutoencoder>(net_options_, gen);
  }

 protected:
  std::shared_ptr<Module> make_network(const ConvAutoencoderOptions& o,
                                       Generator& gen) const override {
    return std::make_shared<ConvAutoencoder>(o, gen);
  }
  // Not used: train() above runs the two alternating steps itself. L_G, for completeness.
  Variable batch_loss(const Tensor& x, Generator&) const override {
    const Variable g = net_->forward(Variable(x));
    return adae_generator_loss(Variable(x), g, disc_->forward(g));
  }
  std::vector<Tensor> batch_scores(const Tensor& x, int64_t) const override {
    disc_->eval();
    const Variable g = net_->forward(Variable(x));
    const Variable dg = disc_->forward(g);
    return {sum(mse_loss(dg, g, Reduction::none), {1, 2, 3}).data(),
            sum(mse_loss(dg, Variable(x), Reduction::none), {1, 2, 3}).data()};
  }
  AnomalyMaps batch_maps(const Tensor& x) const override {
    disc_->eval();
    const Variable g = net_->forward(Variable(x));
    const Variable dg = disc_->forward(g);
    return {mean(mse_loss(dg, g, Reduction::none), {1}).data(), dg.data()};
  }

 private:
  std::shared_ptr<Module> disc_;  ///< D, "discriminator"; net_ is G
};

}  // namespace

std::unique_ptr<Method> make_adae(const MethodOptions& o) {
  return std::make_unique<AdaeMethod>(o);
}

}  // namespace kz
