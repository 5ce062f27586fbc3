// geom.cpp — GEOM (Golan & El-Yaniv 2018, "Deep Anomaly Detection Using Geometric
// Transformations"), a scoring method.
//
// Each normal training image is shown in all 72 geometric transformations of
// data/geometric.h (flip × row shift × column shift × quarter turns); a MobileNetV2 with a
// 72-way softmax head (Linear, losses/margin_head.h SoftmaxHead) learns which transformation
// it sees. A network that has learnt the normal class's geometry recognises the
// transformations of normal images and fails on anomalies. Batches hold whole groups: a step
// takes max(1, batch_size / 72) images and all 72 copies of each. Score "nll" (higher = more
// anomalous): −Σ_t log softmax(head(backbone(T_t x)))[t], the negative log-likelihood of the
// right transformation summed over the 72 copies — the paper's simplified score (its
// Dirichlet normality score is the refinement this leaves out). Eval mode, no gradients.
#include "anomaly/methods/backbone.h"
#include "autograd/functions.h"
#include "data/geometric.h"
#include "tensor/ops.h"

namespace kz {

namespace {

class GeomMethod final : public BackboneMethod {
 public:
  explicit GeomMethod(const MethodOptions& o) : BackboneMethod(o) {}
  MethodKind kind() const override { return MethodKind::scoring; }
  std::vector<std::string> score_names() const override { return {"nll"}; }
  std::vector<Tensor> score(const ImageDataset& data) const override;
  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<SoftmaxHead>(features, classes, gen);
  }

 private:
  // Images per step: whole groups of 72 copies.
  int64_t images_per_step() const {
    return std::max<int64_t>(1, options_.batch_size / kGeometricTransforms);
  }
};

// Labels of all_geometric's rows for n images: 0 … 71, n times.
std::vector<int64_t> transform_labels(int64_t n) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < kGeometricTransforms; ++t) labels.push_back(t);
  return labels;
}

void GeomMethod::train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) {
  build_backbone(seed);
  Generator gen(derive_seed(seed, 2, 0));
  head_ = make_head(backbone_->feature_dim(), kGeometricTransforms, gen);
  auto opt = make_optimizer(options_, trainable());
  MethodOptions per_step = options_;
  per_step.batch_size = images_per_step();
  const LoaderOptions lo = loader_options(per_step, seed, 0);
  DataLoader loader(split.normal_train, options_.preprocess, lo);
  const std::vector<uint64_t> seeds{lo.seed};
  const nlohmann::json fp = fingerprint(seed, split);
  Guard guard{options_, checkpoint_};
  guard.saved_epochs = resume(*opt, loader, seeds, fp);
  const std::vector<NamedNetwork> nets = networks();
  backbone_->train();
  head_->train();
  auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
    const std::optional<Batch> batch = loader.next();
    if (!batch) return std::nullopt;
    const int64_t n = batch->images.size(0);
    const Tensor copies = all_geometric(batch->images).to_channels_last();  // (n·72,C,H,H)
    const Variable features = backbone_->forward_features(Variable(copies));
    const Variable loss = head_->loss(features, transform_labels(n));
    const double value = loss.item();
    guard.loss(value, e, b, *opt);
    optimizer_step(*opt, loss, guard, nets, e, b);
    return BatchResult{value, n};
  };
  run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
}

// data (N images) -> {nll (N)}.
std::vector<Tensor> GeomMethod::score(const ImageDataset& data) const {
  KZ_CHECK(backbone_ != nullptr && head_ != nullptr, "score", "the method '{}' has not been trained",
           name());
  NoGradGuard no_grad;
  backbone_->eval();
  head_->eval();
  constexpr int64_t kChunk = 4;  // images per forward pass: 288 transformed copies
  std::vector<float> scores;
  for (int64_t start = 0; start < data.size(); start += kChunk) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(data.size(), start + kChunk); ++i) idx.push_back(i);
    const Tensor x = preprocess(data.subset(idx), options_.preprocess);
    const Tensor copies = all_geometric(x).to_channels_last();
    const Tensor logits = head_->forward(backbone_->forward_features(Variable(copies))).data();
    const Tensor logp = log_softmax(Variable(logits), 1).data().contiguous();  // (n·72, 72)
    for (size_t i = 0; i < idx.size(); ++i) {
      double nll = 0.0;
      for (int64_t t = 0; t < kGeometricTransforms; ++t)
        nll -= logp.data()[(static_cast<int64_t>(i) * kGeometricTransforms + t) *
                               kGeometricTransforms + t];
      scores.push_back(static_cast<float>(nll));
    }
  }
  return {Tensor::from_vector(scores, {data.size()})};
}

}  // namespace

std::unique_ptr<Method> make_geom(const MethodOptions& o) {
  return std::make_unique<GeomMethod>(o);
}

}  // namespace kz
