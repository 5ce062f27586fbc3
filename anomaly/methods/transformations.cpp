// transformations.cpp — the training loop and the scoring passes GEOM and GOAD share (see
// transformations.h).
#include "anomaly/methods/transformations.h"

#include "data/affine_maps.h"
#include "data/geometric.h"

namespace kz {

// A table's random maps as a network with one buffer, so that checkpoints and model files
// keep them beside the weights that learnt them.
class TransformationMethod::AffineMaps final : public Module {
 public:
  explicit AffineMaps(const Tensor& maps) : value_(register_buffer("maps", maps)) {}
  const Tensor& value() const { return value_; }  ///< (M,D,d)
  std::string type_name() const override { return "AffineMaps"; }

 private:
  Tensor& value_;
};

std::shared_ptr<MarginHead> TransformationMethod::make_head(int64_t features, int64_t classes,
                                                            Generator& gen) const {
  return std::make_shared<SoftmaxHead>(features, classes, gen);
}

int64_t TransformationMethod::transforms() const {
  if (maps_) return maps_->value().size(0);
  return backbone_ ? kGeometricTransforms : 0;
}

std::vector<int64_t> TransformationMethod::transform_labels(int64_t n) const {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < transforms(); ++t) labels.push_back(t);
  return labels;
}

Tensor TransformationMethod::transformed(const Tensor& x) const {
  return maps_ ? affine_copies(x, maps_->value()) : all_geometric(x).to_channels_last();
}

std::vector<NamedNetwork> TransformationMethod::networks() const {
  std::vector<NamedNetwork> out = BackboneMethod::networks();
  if (maps_) out.emplace_back("affine", maps_.get());  // not "maps.": model files keep map data there
  return out;
}

nlohmann::json TransformationMethod::architecture() const {
  nlohmann::json a = BackboneMethod::architecture();
  if (maps_) a["affine_maps"] = maps_->value().shape();
  return a;
}

void TransformationMethod::build_untrained(const nlohmann::json& architecture) {
  maps_ = nullptr;
  if (architecture.contains("affine_maps")) {
    const auto shape = architecture.at("affine_maps").get<std::vector<int64_t>>();
    KZ_CHECK(shape.size() == 3 && shape[0] >= 2 && shape[0] <= 65536 && shape[1] >= 1 &&
                 shape[1] <= (int64_t{1} << 24) && shape[2] >= 1 && shape[2] <= 65536 &&
                 shape[0] * shape[1] * shape[2] <= (int64_t{1} << 30),
             "method", "affine maps of shape {} are out of range",
             architecture.at("affine_maps").dump());
    maps_ = std::make_shared<AffineMaps>(Tensor::zeros(shape));  // the loaded state fills it
  }
  BackboneMethod::build_untrained(architecture);
}

void TransformationMethod::train(const BenchmarkSplit& split, uint64_t seed,
                                 const ProgressFn& progress) {
  const bool table = split.normal_train.table;
  KZ_CHECK(!table || takes_tables(), "method", "{} transforms images; a table has none to "
           "transform (goad takes tables, with random affine maps)", name());
  maps_ = nullptr;
  if (table) {
    KZ_CHECK(options_.pretrained.empty(), "method",
             "{}: a table's MLP has no pretrained weights ({} given)", split.normal_train.source,
             options_.pretrained);
    KZ_CHECK(options_.goad_maps >= 2 && options_.goad_dims >= 1, "method",
             "goad on a table needs at least 2 maps of at least 1 dimension (got {} maps to {} "
             "dimensions)", options_.goad_maps, options_.goad_dims);
    Generator maps_gen(derive_seed(seed, 3, 0));
    maps_ = std::make_shared<AffineMaps>(random_affine_maps(
        options_.goad_maps, split.normal_train.channels, options_.goad_dims, maps_gen));
    build_mlp(seed, options_.goad_dims, /*plain=*/true);
  } else {
    build_backbone(seed, split.normal_train);
  }
  Generator gen(derive_seed(seed, 2, 0));
  head_ = make_head(feature_dim(), transforms(), gen);
  const std::vector<Variable> params = trainable();
  auto opt = make_optimizer(options_, params);
  start_parallel(params);
  MethodOptions per_step = options_;  // whole groups: images per step, not copies
  if (!table) per_step.batch_size = std::max<int64_t>(1, options_.batch_size / kGeometricTransforms);
  const LoaderOptions lo = loader_options(per_step, seed, 0);
  DataLoader loader(split.normal_train, options_.preprocess, shard(lo));
  const std::vector<uint64_t> seeds{lo.seed};
  const nlohmann::json fp = fingerprint(seed, split);
  Guard guard{options_, checkpoint_};
  guard.saved_epochs = resume(*opt, loader, seeds, fp);
  const std::vector<NamedNetwork> nets = networks();
  network().train();
  head_->train();
  auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
    const std::optional<Batch> batch = loader.next();
    if (!batch) return std::nullopt;
    const int64_t n = batch->images.size(0);
    const Variable features = forward_features(Variable(transformed(batch->images)));
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
  KZ_CHECK((backbone_ != nullptr || mlp_ != nullptr) && head_ != nullptr, "score",
           "the method '{}' has not been trained", name());
  KZ_CHECK(data.table == (maps_ != nullptr), "score", "{} was trained on {}; {} holds {}",
           name(), maps_ ? "a table" : "images", data.source, data.table ? "a table" : "images");
  NoGradGuard no_grad;
  network().eval();
  head_->eval();
  // 4 images per forward pass (288 transformed copies); 64 rows of a table (M copies each).
  for_each_chunk(data, maps_ ? 64 : 4, [&](const Tensor& x) {
    each(forward_features(Variable(transformed(x))).data(), x.size(0));
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
