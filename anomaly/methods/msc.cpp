// msc.cpp — Mean-Shifted Contrastive learning (Reiss & Hoshen 2023, "Mean-Shifted
// Contrastive Loss for Anomaly Detection"), an embedding method that fine-tunes pretrained
// features on the normal images alone.
//
// z = φ(x)/‖φ(x)‖; c = the normalised mean of z over the normal training set with the
// pretrained weights, computed once before training. Each batch of B normal images is
// augmented twice, as SimCLR (data/transforms.h, per image): RandomResizedCrop to the same
// size with scale (0.2, 1), ColorJitter (0.4, 0.4, 0.4, 0.1) with p 0.8, RandomGrayscale
// p 0.2, horizontal flip p 0.5; the views' generator is seeded from (seed, epoch, batch), so
// a resumed run sees the same views. Loss (losses/msc.h): the contrastive loss over the 2B
// mean-shifted views u = (z1 − c)/‖z1 − c‖, v = (z2 − c)/‖z2 − c‖ with temperature τ
// (msc_tau, 0.25) plus the angular centre term ‖z1 − c‖² + ‖z2 − c‖² = 2(1 − cos(z, c)) per
// view. Batch norm in eval mode throughout; features.0 … features.{freeze_blocks−1} frozen;
// the preset: SGD lr 1e-5, weight decay 5e-5, batch 64 (the authors' code). Score: the
// normalised features z (embed() gives z) through the k-NN scorer (the paper: k = 2).
#include <cmath>

#include "anomaly/methods/backbone.h"
#include "losses/margin_head.h"
#include "losses/msc.h"
#include "tensor/ops.h"

namespace kz {

namespace {

class MscMethod final : public BackboneMethod {
 public:
  explicit MscMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "knn"; }

  // z = φ(x)/‖φ(x)‖ (N,F).
  Tensor embed(const ImageDataset& data) const override {
    const Tensor f = BackboneMethod::embed(data);
    NoGradGuard no_grad;
    return l2_normalize(Variable(f)).data();
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    KZ_CHECK(!split.normal_train.table, "method",
             "{} trains a MobileNetV2's later blocks; a table has none (use doc, l2softmax, "
             "arcface or deepsad, which take an MLP)", name());
    build_backbone(seed, split.normal_train);
    backbone_->eval();  // batch norm in eval mode throughout
    const int64_t blocks = backbone_->features().size();
    KZ_CHECK(options_.freeze_blocks >= 0 && options_.freeze_blocks < blocks, "msc",
             "freeze_blocks must be in [0, {}] (the backbone has {} blocks and one at least "
             "must train), got {}", blocks - 1, blocks, options_.freeze_blocks);
    KZ_CHECK(options_.batch_size >= 2, "msc",
             "batch_size must be at least 2 (the other images are the negatives), got {}",
             options_.batch_size);
    const std::vector<Variable> params = trainable();
    const Tensor center = normalized_mean(embed(split.normal_train));

    Preprocess raw = options_.preprocess;  // pixels 0..255: the augmentations expect them
    raw.scaling = Scaling::none;
    LoaderOptions lo = loader_options(options_, split.normal_train, seed, 0);  // no batch of one
    lo.augment = Augment{};
    lo.channels_last = false;
    DataLoader loader(split.normal_train, raw, lo);
    const std::vector<uint64_t> seeds{lo.seed};
    auto opt = make_optimizer(options_, params);
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(*opt, loader, seeds, fp);
    const std::vector<NamedNetwork> nets = networks();
    const uint64_t view_seed = derive_seed(seed, 3, 0);
    const auto tau = static_cast<float>(options_.msc_tau);
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> batch = loader.next();
      if (!batch) return std::nullopt;
      Generator gen(derive_seed(view_seed, static_cast<uint64_t>(e), static_cast<uint64_t>(b)));
      const Tensor x1 = view(batch->images, gen), x2 = view(batch->images, gen);
      const MscLoss loss = msc_loss(backbone_->forward_features(Variable(x1)),
                                    backbone_->forward_features(Variable(x2)), center, tau);
      const double value = loss.total.item();
      guard.loss(value, e, b, *opt);
      optimizer_step(*opt, loss.total, guard, nets, e, b, options_.max_grad_norm);
      return BatchResult{value, x1.size(0)};
    };
    run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
  }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t, int64_t, Generator&) const override {
    return nullptr;
  }

 private:
  // One augmented view of images (B,C,H,W) 0..255, scaled for the network, channels-last.
  Tensor view(const Tensor& images, Generator& gen) const {
    const int64_t h = images.size(2), w = images.size(3);
    Tensor x = random_resized_crop(images, h, w, gen, 0.2f, 1.0f);
    x = random_color_jitter(x, ColorJitterOptions{}, gen, 0.8f);
    x = random_grayscale(x, gen, 0.2f);
    x = random_horizontal_flip(x, gen, 0.5f);
    scale_pixels_(x, options_.preprocess.scaling);
    return x.to_channels_last();
  }

  // The mean of the rows of z (N,F), normalised to unit length (F).
  static Tensor normalized_mean(const Tensor& z) {
    const Tensor m = kz::mean(z, {0}).contiguous();
    double sq = 0.0;
    for (float v : m.to_vector()) sq += static_cast<double>(v) * v;
    KZ_CHECK(sq > 0.0, "msc", "the mean normal feature is zero: no centre to shift by");
    return mul(m, static_cast<float>(1.0 / std::sqrt(sq)));
  }
};

}  // namespace

std::unique_ptr<Method> make_msc(const MethodOptions& o) { return std::make_unique<MscMethod>(o); }

}  // namespace kz
