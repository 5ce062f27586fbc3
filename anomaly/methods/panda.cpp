// panda.cpp — PANDA (Reiss et al. 2021, "PANDA: Adapting Pretrained Features for Anomaly
// Detection and Segmentation"), an embedding method that fine-tunes pretrained features on
// the normal images alone without letting them collapse.
//
// c = the mean pretrained feature of the normal training set, computed once before training.
// Loss on a batch of normal images (losses/panda.h):
//   L = (1/N) Σ_n ‖φ(x_n) − c‖²  +  (λ/2) Σ_i F_i (θ_i − θ0_i)²
// θ0 the pretrained weights; F_i = 1 (L2-SP, the default) or, with panda_fisher, a diagonal
// Fisher estimated on the reference set: F_i = the mean over reference batches (data order,
// batch_size) of (∂ℓ_b/∂θ_i)², ℓ_b = (1/B) Σ ‖φ(x) − c_ref‖², c_ref the mean pretrained
// reference feature, then scaled so that the mean F_i over all trained weights is 1 (so λ
// means the same with either). λ = panda_lambda (1e4, PANDA-EWC's).
// Batch norm in eval mode throughout (running statistics never updated); features.0 …
// features.{freeze_blocks−1} frozen. With no augmentation, the frozen blocks' outputs are
// computed once and cached: training runs only the trainable blocks. SGD (the preset: lr
// 1e-2, momentum 0.9, weight decay 5e-5, batch 32) with the total gradient norm clipped to
// max_grad_norm (1e-3). Score: the pooled features through the k-NN scorer (PANDA uses k = 2:
// --knn-k 2).
#include <cmath>

#include "anomaly/methods/backbone.h"
#include "losses/panda.h"
#include "tensor/ops.h"

namespace kz {

namespace {

// Blocks [from, to) of the backbone's features on x (N,C,H,W).
Variable run_blocks(MobileNetV2& net, Variable x, int64_t from, int64_t to) {
  for (int64_t b = from; b < to; ++b) x = net.features().at(b)->forward(x);
  return x;
}

class PandaMethod final : public BackboneMethod {
 public:
  explicit PandaMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "knn"; }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    KZ_CHECK(!split.normal_train.table, "method",
             "{} trains a MobileNetV2's later blocks; a table has none (use doc, l2softmax, "
             "arcface or deepsad, which take an MLP)", name());
    build_backbone(seed, split.normal_train);
    backbone_->eval();  // batch norm in eval mode throughout
    const int64_t blocks = backbone_->features().size(), frozen = options_.freeze_blocks;
    KZ_CHECK(frozen >= 0 && frozen < blocks, "panda",
             "freeze_blocks must be in [0, {}] (the backbone has {} blocks and one at least "
             "must train), got {}", blocks - 1, blocks, frozen);
    KZ_CHECK(options_.panda_lambda >= 0.0, "panda", "panda_lambda must be >= 0, got {}",
             options_.panda_lambda);
    const std::vector<Variable> params = trainable();
    std::vector<Tensor> anchors;
    for (const Variable& p : params) anchors.push_back(p.data().clone());
    const Tensor cached = frozen_outputs(split.normal_train, frozen);
    const Tensor center = mean_feature(cached, frozen);
    const std::vector<Tensor> fisher =
        options_.panda_fisher ? estimate_fisher(split.reference, params, frozen) : std::vector<Tensor>{};

    auto opt = make_optimizer(options_, params);
    LoaderOptions lo = loader_options(options_, seed, 0);
    lo.prefetch = false;  // only its order is used: the images come from the cache
    DataLoader loader(split.normal_train, options_.preprocess, lo);
    const std::vector<uint64_t> seeds{lo.seed};
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(*opt, loader, seeds, fp);
    const std::vector<NamedNetwork> nets = networks();
    const auto lambda = static_cast<float>(options_.panda_lambda);
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> batch = loader.next();
      if (!batch) return std::nullopt;
      const Tensor x = index_select0(cached, batch->indices).to_channels_last();
      const Variable features = global_avg_pool2d(run_blocks(*backbone_, Variable(x), frozen, blocks));
      const Variable loss = add(panda_compactness_loss(features, center),
                                weight_pull_loss(params, anchors, fisher, lambda));
      const double value = loss.item();
      guard.loss(value, e, b, *opt);
      optimizer_step(*opt, loss, guard, nets, e, b, options_.max_grad_norm);
      return BatchResult{value, x.size(0)};
    };
    run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
  }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t, int64_t, Generator&) const override {
    return nullptr;
  }

 private:
  // The outputs of features.0 … features.{frozen−1} for every image of `data` (N,C,H,W),
  // contiguous; the preprocessed images themselves when nothing is frozen.
  Tensor frozen_outputs(const ImageDataset& data, int64_t frozen) const {
    NoGradGuard no_grad;
    std::vector<Tensor> parts;
    for_each_chunk(data, 256, [&](const Tensor& x) {
      parts.push_back(run_blocks(*backbone_, Variable(x), 0, frozen).data().contiguous());
    });
    return cat(parts, 0).contiguous();
  }

  // The mean pooled feature (F) of the cached frozen outputs, no gradients.
  Tensor mean_feature(const Tensor& cached, int64_t frozen) const {
    NoGradGuard no_grad;
    const int64_t blocks = backbone_->features().size(), n = cached.size(0);
    constexpr int64_t kChunk = 256;
    Tensor total;
    for (int64_t start = 0; start < n; start += kChunk) {
      const Tensor x = cached.narrow(0, start, std::min(kChunk, n - start)).to_channels_last();
      const Tensor s = kz::sum(global_avg_pool2d(run_blocks(*backbone_, Variable(x), frozen, blocks)).data(), {0});
      total = total.defined() ? add(total, s) : s;
    }
    return mul(total, 1.0f / static_cast<float>(n));
  }

  // The diagonal Fisher of the file's description, one tensor per parameter.
  std::vector<Tensor> estimate_fisher(const ImageDataset& reference,
                                      const std::vector<Variable>& params, int64_t frozen) const {
    KZ_CHECK(reference.size() > 0, "panda",
             "panda_fisher estimates the Fisher on the reference set, but it is empty "
             "(give reference images, or use the L2-SP pull)");
    const int64_t blocks = backbone_->features().size();
    const Tensor cached = frozen_outputs(reference, frozen);
    const Tensor c_ref = mean_feature(cached, frozen);
    std::vector<Tensor> fisher;
    for (const Variable& p : params) fisher.push_back(Tensor::zeros(p.shape()));
    const int64_t n = cached.size(0), bs = options_.batch_size;
    for (int64_t start = 0; start < n; start += bs) {
      const Tensor x = cached.narrow(0, start, std::min(bs, n - start)).to_channels_last();
      for (Variable p : params) p.zero_grad();
      panda_compactness_loss(global_avg_pool2d(run_blocks(*backbone_, Variable(x), frozen, blocks)), c_ref)
          .backward();
      for (size_t i = 0; i < params.size(); ++i)
        if (params[i].grad().defined())
          fisher[i] = add(fisher[i], mul(params[i].grad().contiguous(), params[i].grad().contiguous()));
    }
    for (Variable p : params) p.zero_grad();
    double total = 0.0;
    int64_t count = 0;
    for (const Tensor& f : fisher) {
      total += static_cast<double>(kz::sum(f).item());
      count += f.numel();
    }
    KZ_CHECK(total > 0.0 && std::isfinite(total), "panda",
             "the Fisher estimate on the reference set is {} everywhere: the features do not "
             "depend on the trained weights", total);
    const auto scale = static_cast<float>(static_cast<double>(count) / total);
    for (Tensor& f : fisher) f = mul(f, scale);
    return fisher;
  }
};

}  // namespace

std::unique_ptr<Method> make_panda(const MethodOptions& o) {
  return std::make_unique<PandaMethod>(o);
}

}  // namespace kz
