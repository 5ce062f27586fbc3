// transformations.cpp — the training loop and the scoring passes GEOM and GOAD share (see
// transformations.h).
#include "anomaly/methods/transformations.h"

#include "data/geometric.h"

namespace kz {

std::shared_ptr<MarginHead> TransformationMethod::make_head(int64_t features, int64_t classes,
                                                            Generator& gen) const {
  return std::make_shared<SoftmaxHead>(features, classes, gen);
}

std::vector<int64_t> TransformationMethod::transform_labels(int64_t n) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < kGeometricTransforms; ++t) labels.push_back(t);
  return labels;
}

void TransformationMethod::train(const BenchmarkSplit& split, uint64_t seed,
                                 const ProgressFn& progress) {
  KZ_CHECK(!split.normal_train.table, "method", "{} transforms images; a table has none to "
           "transform", name());
  build_backbone(seed, split.normal_train);
  Generator gen(derive_seed(seed, 2, 0));
  head_ = make_head(feature_dim(), kGeometricTransforms, gen);
  const std::vector<Variable> params = trainable();
  auto opt = make_optimizer(options_, params);
  start_parallel(params);
  MethodOptions per_step = options_;  // whole groups: images per step, not copies
  per_step.batch_size = std::max<int64_t>(1, options_.batch_size / kGeometricTransforms);
  const LoaderOptions lo = loader_options(per_step, seed, 0);
  DataLoader loader(split.normal_train, options_.preprocess, shard(lo));
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
    const Variable loss = batch_loss(features, transform_labels(n), n);
    const double value = loss.item();
    guard.loss(value, e, b, *opt);
    step(*opt, loss, *batch, guard, nets, e, b);
    return BatchResult{value, n};
  };
  run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
  after_training(split);
}

void TransformationMethod::for_each_group(
    const ImageDataset& data, const std::function<void(const Tensor&, int64_t)>& each) const {
  KZ_CHECK(backbone_ != nullptr && head_ != nullptr, "score",
           "the method '{}' has not been trained", name());
  NoGradGuard no_grad;
  backbone_->eval();
  head_->eval();
  // 4 images per forward pass: 288 transformed copies.
  for_each_chunk(data, 4, [&](const Tensor& x) {
    const Tensor copies = all_geometric(x).to_channels_last();
    each(backbone_->forward_features(Variable(copies)).data(), x.size(0));
  });
}

std::vector<Tensor> TransformationMethod::score(const ImageDataset& data) const {
  std::vector<float> scores;
  for_each_group(data, [&](const Tensor& features, int64_t n) {
    const std::vector<float> s = score_group(features, n);
    scores.insert(scores.end(), s.begin(), s.end());
  });
  return {Tensor::from_vector(scores, {data.size()})};
}

}  // namespace kz
