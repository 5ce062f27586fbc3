// backbone.cpp — the MobileNetV2 backbone and head the metric-learning methods share, and
// the classifier training of L2-Softmax and ArcFace (see backbone.h).
#include "anomaly/methods/backbone.h"

#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

void BackboneMethod::build_backbone(uint64_t seed, const ImageDataset& data) {
  if (data.table) {
    KZ_CHECK(options_.pretrained.empty(), "method",
             "{}: a table's MLP has no pretrained weights ({} given)", data.source,
             options_.pretrained);
    build_mlp(seed, data.channels);
    return;
  }
  Generator gen(derive_seed(seed, 1, 0));
  backbone_ = nullptr;
  mlp_ = nullptr;
  if (!options_.pretrained.empty()) {
    backbone_ = load_mobilenet_v2(options_.pretrained, options_.width, gen);
    KZ_CHECK(backbone_->options().num_classes == 0, "method",
             "{}: expected backbone-only weights (no classifier)", options_.pretrained);
  } else {
    MobileNetV2Options o;
    o.width = options_.width;
    o.num_classes = 0;
    backbone_ = std::make_shared<MobileNetV2>(o, gen);
  }
}

void BackboneMethod::build_mlp(uint64_t seed, int64_t in_features, bool plain) {
  Generator gen(derive_seed(seed, 1, 0));
  backbone_ = nullptr;
  MlpOptions o;
  o.in_features = in_features;
  o.widths = options_.mlp_widths;
  o.plain = plain;
  mlp_ = std::make_shared<Mlp>(o, gen);
}

int64_t BackboneMethod::feature_dim() const {
  KZ_CHECK(backbone_ != nullptr || mlp_ != nullptr, "method",
           "the method '{}' has not been trained", name());
  return mlp_ ? mlp_->feature_dim() : backbone_->feature_dim();
}

MobileNetV2& BackboneMethod::backbone() const {
  KZ_CHECK(backbone_ != nullptr, "method", "the method '{}' has no MobileNetV2 backbone{}",
           name(), mlp_ ? " (its backbone is an MLP: a table)" : "");
  return *backbone_;
}

Module& BackboneMethod::network() const {
  KZ_CHECK(backbone_ != nullptr || mlp_ != nullptr, "method",
           "the method '{}' has not been trained", name());
  return mlp_ ? static_cast<Module&>(*mlp_) : static_cast<Module&>(*backbone_);
}

Variable BackboneMethod::forward_features(const Variable& x) const {
  return mlp_ ? mlp_->forward(x) : backbone_->forward_features(x);
}

std::vector<Variable> BackboneMethod::trainable() const {
  std::vector<Variable> params;
  for (auto& [name, p] : network().named_parameters()) {
    bool frozen = false;
    for (int64_t b = 0; b < options_.freeze_blocks; ++b)
      if (name.rfind(fmt::format("features.{}.", b), 0) == 0) frozen = true;
    p.set_requires_grad(!frozen);
    if (!frozen) params.push_back(p);
  }
  if (head_)
    for (const Variable& p : head_->parameters()) params.push_back(p);
  return params;
}

Tensor BackboneMethod::embed(const ImageDataset& data) const {
  KZ_CHECK(backbone_ != nullptr || mlp_ != nullptr, "embed",
           "the method '{}' has not been trained", name());
  NoGradGuard no_grad;
  network().eval();
  std::vector<Tensor> parts;
  for_each_chunk(data, 256, [&](const Tensor& x) {
    parts.push_back(forward_features(Variable(x)).data());
  });
  return cat(parts, 0);
}

void BackboneMethod::for_each_chunk(const ImageDataset& data, int64_t chunk,
                                    const std::function<void(const Tensor&)>& each) const {
  for (int64_t start = 0; start < data.size(); start += chunk) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(data.size(), start + chunk); ++i) idx.push_back(i);
    each(preprocess(data.subset(idx), options_.preprocess).to_channels_last());
  }
}

Variable BackboneMethod::feature_score(const Variable&) const {
  fail("method", fmt::format("the method '{}' has no differentiable score of its features", name()));
}

Tensor BackboneMethod::class_logits(const Tensor& features) const {
  if (!head_) return {};
  NoGradGuard no_grad;
  head_->eval();
  return head_->forward(Variable(features)).data();
}

std::vector<NamedNetwork> BackboneMethod::networks() const {
  std::vector<NamedNetwork> out;
  if (backbone_ || mlp_) out.emplace_back("backbone", &network());
  if (head_) out.emplace_back("head", head_.get());
  return out;
}

nlohmann::json BackboneMethod::architecture() const {
  KZ_CHECK(backbone_ != nullptr || mlp_ != nullptr, "method",
           "the method '{}' has not been trained", name());
  if (mlp_) {
    nlohmann::json a = {{"backbone", "mlp"},
                        {"in_features", mlp_->options().in_features},
                        {"widths", mlp_->options().widths},
                        {"bn_eps", mlp_->options().bn_eps},
                        {"head_classes", head_ ? head_->num_classes() : 0}};
    if (mlp_->options().plain) a["plain"] = true;  // absent: the earlier files' MLP
    return a;
  }
  const MobileNetV2Options& b = backbone_->options();
  return {{"width", b.width},
          {"bn_eps", b.bn_eps},
          {"padding", to_string(b.padding)},
          {"head_classes", head_ ? head_->num_classes() : 0}};
}

void BackboneMethod::build_untrained(const nlohmann::json& a) {
  backbone_ = nullptr;
  mlp_ = nullptr;
  if (a.value("backbone", std::string("mobilenet_v2")) == "mlp") {
    MlpOptions m;
    m.in_features = a.at("in_features").get<int64_t>();
    m.widths = a.at("widths").get<std::vector<int64_t>>();
    m.bn_eps = a.at("bn_eps").get<float>();
    m.plain = a.value("plain", false);
    KZ_CHECK(m.in_features >= 1 && m.in_features <= (int64_t{1} << 24) && !m.widths.empty() &&
                 m.widths.size() <= 64,
             "method", "MLP architecture {} is out of range", a.dump());
    for (const int64_t w : m.widths)
      KZ_CHECK(w >= 1 && w <= (int64_t{1} << 20), "method", "MLP width {} is out of range", w);
    Generator gen(0);  // the values are overwritten by the loaded state
    mlp_ = std::make_shared<Mlp>(m, gen);
    const auto classes = a.at("head_classes").get<int64_t>();
    KZ_CHECK(classes >= 0 && classes <= 1000000, "method", "{} head classes", classes);
    head_ = classes > 0 ? make_head(mlp_->feature_dim(), classes, gen) : nullptr;
    return;
  }
  MobileNetV2Options b;
  b.width = a.at("width").get<double>();
  b.bn_eps = a.at("bn_eps").get<float>();
  b.padding = parse_padding_mode(a.at("padding").get<std::string>(), "architecture");
  b.num_classes = 0;
  KZ_CHECK(b.width > 0.0 && b.width <= 4.0, "method", "width {} is outside (0, 4]", b.width);
  Generator gen(0);  // the values are overwritten by the loaded state
  backbone_ = std::make_shared<MobileNetV2>(b, gen);
  const auto classes = a.at("head_classes").get<int64_t>();
  KZ_CHECK(classes >= 0 && classes <= 1000000, "method", "{} head classes", classes);
  head_ = classes > 0 ? make_head(backbone_->feature_dim(), classes, gen) : nullptr;
}

std::vector<std::string> ClassifierMethod::head_classes(const BenchmarkSplit& split) const {
  return classifier_training_set(split).class_names;
}

ImageDataset classifier_training_set(const BenchmarkSplit& split) {
  ImageDataset data = concat(split.reference, split.normal_train);
  if (split.known_anomalies.size() == 0) return data;
  ImageDataset known = split.known_anomalies;
  known.labels.assign(known.labels.size(), data.num_classes());
  data.class_names.push_back(split.known_anomalies.class_names.front());
  known.class_names = data.class_names;
  return concat(data, known);
}

void BackboneMethod::train_head(const BenchmarkSplit& split, const ImageDataset& data,
                                const LoaderOptions& lo, int64_t classes, uint64_t seed,
                                const ProgressFn& progress, const HeadBatchFn& make_rows) {
  Generator gen(derive_seed(seed, 2, 0));
  head_ = make_head(feature_dim(), classes, gen);
  const std::vector<Variable> params = trainable();
  auto opt = make_optimizer(options_, params);
  start_parallel(params);
  DataLoader loader(data, options_.preprocess, shard(lo));
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
    Generator draw(derive_seed(derive_seed(seed, 3, static_cast<uint64_t>(e)),
                               static_cast<uint64_t>(b), 0));
    const HeadBatch rows = make_rows ? make_rows(*batch, draw)
                                     : HeadBatch{batch->images, batch->labels};
    const Variable loss = head_->loss(forward_features(Variable(rows.rows)), rows.labels);
    const double value = loss.item();
    guard.loss(value, e, b, *opt);
    step(*opt, loss, *batch, guard, nets, e, b);
    return BatchResult{value, batch->images.size(0)};
  };
  run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
}

void ClassifierMethod::train(const BenchmarkSplit& split, uint64_t seed,
                             const ProgressFn& progress) {
  KZ_CHECK(split.reference.size() > 0, "method",
           "{} classifies the reference classes and the normal one: it needs a reference set "
           "(a table: --reference)", name());
  build_backbone(seed, split.normal_train);
  const ImageDataset data = classifier_training_set(split);
  train_head(split, data, loader_options(options_, data, seed, 0), data.num_classes(), seed,
             progress, nullptr);
}

}  // namespace kz
