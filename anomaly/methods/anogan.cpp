// anogan.cpp — AnoGAN (Schlegl et al. 2017, "Unsupervised Anomaly Detection with Generative
// Adversarial Networks to Guide Marker Discovery"), a scoring method that gives maps.
//
// Networks: a DCGAN (layers/dcgan.h), the generator G and the discriminator D, saved as
// "generator" and "discriminator"; images in [−1, 1] (the presets' "symmetric" scaling, G's
// tanh). Trained on normal images alone with the non-saturating GAN loss (Goodfellow et al.
// 2014; BCE with logits, losses/reconstruction.h), every batch: z ~ N(0, I) (N,d);
//   D's step:  BCE(D(x), 1) + BCE(D(G(z)), 0), G fixed (G(z) detached)
//   G's step:  BCE(D(G(z)), 1), D fixed, on the same G(z)
// One Adam with two parameter groups (G, D): Adam's state is per parameter, so these are the
// paper's two optimisers (β1 0.5 always, as DCGAN's; lr 2e-4 in the presets), and a
// checkpoint holds both.
// The progress loss is L_D + L_G.
//
// Scoring (§2.2 of the paper, "Mapping new images to the latent space"): for each chunk of
// test images, z starts from N(0, I) (seeded by the chunk's first index: the same scores on
// every call) and takes Γ = anogan_steps Adam steps (lr 0.05) on the sum over the chunk of
//   L(z) = (1 − λ)·Σ|x − G(z)| + λ·Σ|f(x) − f(G(z))|     (losses/gan.h, λ = anogan_lambda)
// f = D's last feature map, G and D in eval mode and fixed. Then
//   score "anogan"  L(z_Γ) per image;   map  (1/C) Σ_c |x − G(z_Γ)| per pixel;
//   reconstruction G(z_Γ) (in the network's [−1, 1] scaling).
//
// The GAN's known failures are checked after the last epoch (gan_training_warnings,
// anomaly/report_gan.h) and reported in training_warnings(), which kizuki benchmark and
// kizuki train print and results.json keeps (a resumed run judges the epochs it ran):
//   mode collapse      G's images of 64 fixed z whose mean pairwise distance falls below a
//                      quarter of that of 64 normal training images;
//   the discriminator  its mean loss of the last epoch below 0.05 while G's loss grew over
//   wins               the run: G then learns nothing and its images are noise.
// training_samples() holds G's images of 16 fixed z after every epoch (in [0, 1]).
#include <algorithm>
#include <cmath>

#include "anomaly/report_gan.h"
#include "anomaly/training.h"
#include "layers/dcgan.h"
#include "losses/gan.h"
#include "losses/reconstruction.h"
#include "optim/adam.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr int64_t kChunk = 64;         // test images searched together
constexpr double kSearchLr = 0.05;     // Adam's lr on z
constexpr int64_t kSpreadImages = 64;  // images of the mode-collapse measure
constexpr int64_t kGridImages = 16;    // G's images shown per epoch

// Mean Euclidean distance between the rows of x (n,…) over pairs i < j.
double mean_pairwise_distance(const Tensor& x) {
  const Tensor flat = x.contiguous().reshape({x.size(0), -1});
  const int64_t n = flat.size(0), m = flat.size(1);
  const float* p = flat.data();
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      double d = 0.0;
      for (int64_t k = 0; k < m; ++k) {
        const double v = static_cast<double>(p[i * m + k]) - p[j * m + k];
        d += v * v;
      }
      total += std::sqrt(d);
    }
  return n < 2 ? 0.0 : total / static_cast<double>(n * (n - 1) / 2);
}

// Sets requires_grad of every parameter of the networks for its lifetime, then restores it.
class FixParameters {
 public:
  explicit FixParameters(std::vector<Variable> params) : params_(std::move(params)) {
    for (Variable& p : params_) {
      was_.push_back(p.requires_grad());
      p.set_requires_grad(false);
    }
  }
  ~FixParameters() {
    for (size_t i = 0; i < params_.size(); ++i) params_[i].set_requires_grad(was_[i]);
  }
  FixParameters(const FixParameters&) = delete;
  FixParameters& operator=(const FixParameters&) = delete;

 private:
  std::vector<Variable> params_;
  std::vector<bool> was_;
};

class AnoganMethod final : public TrainedMethod {
 public:
  explicit AnoganMethod(const MethodOptions& o) : TrainedMethod(o) {}
  MethodKind kind() const override { return MethodKind::scoring; }
  bool gives_maps() const override { return true; }
  std::vector<std::string> score_names() const override { return {"anogan"}; }
  std::vector<std::string> training_warnings() const override { return warnings_; }
  std::vector<std::pair<int64_t, Tensor>> training_samples() const override {
    return samples_;
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    check_search_options();
    const ImageDataset& normal = split.normal_train;
    net_options_ = DcganOptions{};
    net_options_.channels = options_.preprocess.rgb ? 3 : normal.channels;
    net_options_.image_size = square_side(options_, normal, name());
    net_options_.latent_dim = options_.latent_dim;
    Generator init(derive_seed(seed, 1, 0));
    gen_ = std::make_shared<DcganGenerator>(net_options_, init);  // G first, then D
    disc_ = std::make_shared<DcganDiscriminator>(net_options_, init);

    const std::unique_ptr<Adam> adam =
        two_network_adam(gen_->parameters(), disc_->parameters(), 0.5);  // DCGAN's β1
    Adam& opt = *adam;
    const LoaderOptions lo = loader_options(options_, normal, seed, 0);
    DataLoader loader(normal, options_.preprocess, lo);
    const std::vector<uint64_t> seeds{lo.seed};
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(opt, loader, seeds, fp);

    // What the failure checks compare against: fixed z, and the spread of real images.
    Generator fixed(derive_seed(seed, 5, 0));
    const Tensor z_fixed = Tensor::normal({kSpreadImages, net_options_.latent_dim}, 0, 1, fixed);
    std::vector<int64_t> first;
    for (int64_t i = 0; i < std::min(kSpreadImages, normal.size()); ++i) first.push_back(i);
    const double real_spread =
        mean_pairwise_distance(preprocess(normal.subset(first), options_.preprocess));
    warnings_.clear();
    samples_.clear();
    d_losses_.clear();
    g_losses_.clear();
    double d_sum = 0.0, g_sum = 0.0;
    int64_t batches = 0;

    const std::vector<NamedNetwork> nets = networks();
    gen_->train();
    disc_->train();
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> batch = loader.next();
      if (!batch) return std::nullopt;
      const Variable x(batch->images);
      const int64_t n = x.shape()[0];
      Generator gen(derive_seed(derive_seed(seed, 3, static_cast<uint64_t>(e)),
                                static_cast<uint64_t>(b), 0));
      const Variable z(Tensor::normal({n, net_options_.latent_dim}, 0, 1, gen));
      const Variable ones(Tensor::full({n}, 1.0f)), zeros(Tensor::zeros({n}));
      const Variable fake = gen_->forward(z);
      // D's step, G fixed.
      const Variable loss_d =
          add(binary_cross_entropy_with_logits(disc_->forward(x), ones),
              binary_cross_entropy_with_logits(disc_->forward(fake.detach()), zeros));
      const double ld = loss_d.item();
      guard.loss(ld, e, b, opt);
      optimizer_step(opt, loss_d, guard, nets, e, b);  // G gets no gradient: fake detached
      // G's step, D fixed: the gradient passes through D into G.
      opt.set_frozen(1, true);
      const Variable loss_g = binary_cross_entropy_with_logits(disc_->forward(fake), ones);
      const double lg = loss_g.item();
      guard.loss(lg, e, b, opt);
      optimizer_step(opt, loss_g, guard, nets, e, b);
      opt.set_frozen(1, false);
      d_sum += ld;
      g_sum += lg;
      ++batches;
      if (b + 1 == loader.num_batches())
        end_epoch(e, d_sum, g_sum, batches, z_fixed, real_spread);
      return BatchResult{ld + lg, n};
    };
    run_epochs(guard, opt, loader, seeds, fp, progress, train_batch);
  }

  std::vector<Tensor> score(const ImageDataset& data) const override {
    std::vector<Tensor> parts;
    for_chunks(data, [&](const Tensor& x, int64_t first) { parts.push_back(search(x, first).score); });
    return {cat(parts, 0)};
  }

  AnomalyMaps maps(const ImageDataset& data) const override {
    std::vector<Tensor> maps, images;
    for_chunks(data, [&](const Tensor& x, int64_t first) {
      Searched s = search(x, first);
      maps.push_back(s.map.contiguous());
      images.push_back(s.image.contiguous());
    });
    return {cat(maps, 0), cat(images, 0)};
  }

  std::vector<NamedNetwork> networks() const override {
    if (!gen_ || !disc_) return {};
    return {{"generator", gen_.get()}, {"discriminator", disc_.get()}};
  }

  /// {"channels", "image_size", "latent_dim", "width"}
  nlohmann::json architecture() const override {
    return {{"channels", net_options_.channels},
            {"image_size", net_options_.image_size},
            {"latent_dim", net_options_.latent_dim},
            {"width", net_options_.width}};
  }

  void build_untrained(const nlohmann::json& a) override {
    DcganOptions o;
    o.channels = a.at("channels").get<int64_t>();
    o.image_size = a.at("image_size").get<int64_t>();
    o.latent_dim = a.at("latent_dim").get<int64_t>();
    o.width = a.at("width").get<int64_t>();
    // Bounds that keep a damaged file from asking for gigabytes before its weights are read.
    KZ_CHECK(o.channels >= 1 && o.channels <= 4 && o.image_size >= 8 && o.image_size <= 1024 &&
                 o.latent_dim >= 1 && o.latent_dim <= 4096 && o.width >= 1 && o.width <= 1024,
             "method", "architecture {} is out of range", a.dump());
    KZ_CHECK(o.image_size == options_.preprocess.height, "method",
             "the network takes {} px images but the preprocessing gives {} px", o.image_size,
             options_.preprocess.height);
    check_search_options();
    Generator gen(0);  // the values are overwritten by the loaded state
    net_options_ = o;
    gen_ = std::make_shared<DcganGenerator>(o, gen);
    disc_ = std::make_shared<DcganDiscriminator>(o, gen);
  }

 private:
  struct Searched {
    Tensor score;  // (N)
    Tensor map;    // (N,H,W)
    Tensor image;  // G(z_Γ) (N,C,H,W)
  };

  void check_search_options() const {
    KZ_CHECK(options_.anogan_steps >= 0, "method", "--anogan-steps {} must not be negative",
             options_.anogan_steps);
    KZ_CHECK(options_.anogan_lambda >= 0.0 && options_.anogan_lambda <= 1.0, "method",
             "--anogan-lambda {} must be in [0, 1]", options_.anogan_lambda);
  }

  // The failure checks and the sample images at the end of epoch e.
  void end_epoch(int64_t e, double& d_sum, double& g_sum, int64_t& batches, const Tensor& z_fixed,
                 double real_spread) {
    d_losses_.push_back(d_sum / static_cast<double>(batches));
    g_losses_.push_back(g_sum / static_cast<double>(batches));
    d_sum = g_sum = 0.0;
    batches = 0;
    Tensor images;
    {
      NoGradGuard no_grad;
      gen_->eval();
      images = gen_->forward(Variable(z_fixed)).data().contiguous();
      gen_->train();
    }
    samples_.emplace_back(e + 1, add(mul(images.narrow(0, 0, kGridImages), 0.5f), 0.5f));
    if (e + 1 == options_.epochs)
      warnings_ = gan_training_warnings(name(), d_losses_, g_losses_,
                                        mean_pairwise_distance(images), real_spread);
  }

  template <class F>
  void for_chunks(const ImageDataset& data, F&& f) const {
    KZ_CHECK(gen_ != nullptr, "method", "the method '{}' has not been trained", name());
    KZ_CHECK(data.size() > 0, "method", "{}: no images", data.source);
    KZ_CHECK(grad_enabled(), "method", "{} searches z by gradient steps: score it where "
             "gradients are on (not inside a NoGradGuard)", name());
    gen_->eval();
    disc_->eval();
    for (int64_t start = 0; start < data.size(); start += kChunk) {
      std::vector<int64_t> idx;
      for (int64_t i = start; i < std::min(data.size(), start + kChunk); ++i) idx.push_back(i);
      f(preprocess(data.subset(idx), options_.preprocess).to_channels_last(), start);
    }
  }

  // The latent search of a chunk x (N,C,H,W) whose first image is image `first`.
  Searched search(const Tensor& x, int64_t first) const {
    std::vector<Variable> params = gen_->parameters();
    for (const Variable& p : disc_->parameters()) params.push_back(p);
    FixParameters fixed(params);
    const int64_t n = x.size(0);
    Generator g(derive_seed(0x616e6f67616eULL, static_cast<uint64_t>(first), 0));
    Variable z(Tensor::normal({n, net_options_.latent_dim}, 0, 1, g), true);
    AdamOptions a;
    a.lr = kSearchLr;
    Adam opt(std::vector<Variable>{z}, a);
    const Variable xv(x);
    Variable fx;
    {
      NoGradGuard no_grad;
      fx = disc_->features(xv);
    }
    const double lambda = options_.anogan_lambda;
    for (int64_t step = 0; step < options_.anogan_steps; ++step) {
      const Variable gz = gen_->forward(z);
      const Variable loss = sum(anogan_search_loss(xv, gz, fx, disc_->features(gz), lambda));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    NoGradGuard no_grad;
    const Variable gz = gen_->forward(z);
    const Variable loss = anogan_search_loss(xv, gz, fx, disc_->features(gz), lambda);
    return {loss.data(), mean(l1_loss(gz, xv, Reduction::none), {1}).data(), gz.data()};
  }

  DcganOptions net_options_;
  std::shared_ptr<DcganGenerator> gen_;
  std::shared_ptr<DcganDiscriminator> disc_;
  std::vector<std::string> warnings_;
  std::vector<std::pair<int64_t, Tensor>> samples_;
  std::vector<double> d_losses_, g_losses_;  // mean per epoch of this train()
};

}  // namespace

std::unique_ptr<Method> make_anogan(const MethodOptions& o) {
  return std::make_unique<AnoganMethod>(o);
}

}  // namespace kz
