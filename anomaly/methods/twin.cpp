// twin.cpp — Anomaly Twin (daisukelab 2019, "Self-supervised learning for anomaly detection
// with Anomaly Twin"; the seed's hybrid of metric learning and synthetic defects), an
// embedding method.
//
// Every normal training image x gets a twin x' with one synthetic line defect (data/defects.h
// line_defect: length ≤ a fifth of the side, random width and colour), drawn afresh in every
// epoch from Generator(derive_seed(derive_seed(seed, 3, epoch), batch, 0)) — so a resumed run
// draws the same twins. An ArcFace head (losses/arcface.h; options arcface_s, arcface_m) on
// the MobileNetV2's pooled features learns normal (class 0) against twin (class 1); with
// --with-reference (MethodOptions::with_reference) the reference classes come first as
// further classes (0 … R−1, normal R, twin R+1), the loader drawing reference and normal
// images alike and every normal image of a batch getting its twin. The backbone's features
// are what is scored.
//
// Default scorer: gde (anomaly/gaussian_density.h), the Gaussian density of the normal
// training features. Without --with-reference the network sees one normal class (and its
// twins), so the normal features form one mode, which one Gaussian with a shrunk covariance
// describes, directions of small variance included — the reason CutPaste, trained the same
// way on one class, scores with it. Measured on Fashion-MNIST's quick preset
// (docs/results.md): gde 0.90, LOF 0.79, cosine 0.70. cosine and lof stay available
// (--scorers).
#include "anomaly/methods/backbone.h"
#include "data/defects.h"
#include "losses/arcface.h"
#include "tensor/ops.h"

namespace kz {

namespace {

class TwinMethod final : public BackboneMethod {
 public:
  explicit TwinMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "gde"; }

  std::vector<std::string> head_classes(const BenchmarkSplit& split) const override {
    std::vector<std::string> names;
    if (options_.with_reference) names = split.reference.class_names;
    names.emplace_back("normal");
    names.emplace_back("twin");
    return names;
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<ArcFaceHead>(features, classes, static_cast<float>(options_.arcface_s),
                                         static_cast<float>(options_.arcface_m), false, gen);
  }
};

void TwinMethod::train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) {
  KZ_CHECK(!split.normal_train.table, "method",
           "twin draws line defects on images; a table has none to draw on");
  KZ_CHECK(!options_.with_reference || split.reference.size() > 0, "method",
           "twin --with-reference classifies the reference classes too: it needs a reference "
           "set");
  build_backbone(seed, split.normal_train);
  // The loader's data: reference (labels 0 … R−1, with --with-reference) and normal (R).
  ImageDataset data = split.normal_train;
  const int64_t normal_label = options_.with_reference ? split.reference.num_classes() : 0;
  data.labels.assign(data.labels.size(), normal_label);
  data.class_names = head_classes(split);
  data.class_names.pop_back();  // "twin" has no images of its own
  if (options_.with_reference) {
    ImageDataset reference = split.reference;
    reference.class_names = data.class_names;
    data = concat(reference, data);
  }
  Generator gen(derive_seed(seed, 2, 0));
  head_ = make_head(feature_dim(), normal_label + 2, gen);
  const std::vector<Variable> params = trainable();
  auto opt = make_optimizer(options_, params);
  start_parallel(params);
  DataLoader loader(data, options_.preprocess, shard(data_loader_options(data, seed, 0)));
  const std::vector<uint64_t> seeds{loader_options(options_, seed, 0).seed};
  const nlohmann::json fp = fingerprint(seed, split);
  Guard guard{options_, checkpoint_};
  guard.saved_epochs = resume(*opt, loader, seeds, fp);
  const std::vector<NamedNetwork> nets = networks();
  network().train();
  head_->train();
  const Scaling scaling = options_.preprocess.scaling;
  auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
    const std::optional<Batch> batch = loader.next();
    if (!batch) return std::nullopt;
    std::vector<int64_t> normal_rows;
    for (size_t i = 0; i < batch->labels.size(); ++i)
      if (batch->labels[i] == normal_label) normal_rows.push_back(static_cast<int64_t>(i));
    Generator draw(derive_seed(derive_seed(seed, 3, static_cast<uint64_t>(e)),
                               static_cast<uint64_t>(b), 0));
    std::vector<int64_t> labels(batch->labels.begin(), batch->labels.end());
    Tensor images = batch->images;
    if (!normal_rows.empty()) {
      const Tensor normal = index_select0(batch->images.contiguous(), normal_rows);
      const DefectBatch twins = defect_batch(normal, scaling, line_defect, draw);
      images = cat({batch->images.contiguous(), twins.images}, 0);
      labels.insert(labels.end(), normal_rows.size(), normal_label + 1);
    }
    const Variable features = forward_features(Variable(images.to_channels_last()));
    const Variable loss = head_->loss(features, labels);
    const double value = loss.item();
    guard.loss(value, e, b, *opt);
    step(*opt, loss, *batch, guard, nets, e, b);
    return BatchResult{value, batch->images.size(0)};
  };
  run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
}

}  // namespace

std::unique_ptr<Method> make_twin(const MethodOptions& o) {
  return std::make_unique<TwinMethod>(o);
}

}  // namespace kz
