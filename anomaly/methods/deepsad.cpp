// deepsad.cpp — Deep SAD (Ruff et al. 2020, "Deep Semi-Supervised Anomaly Detection"), a
// scoring method; Deep SVDD (Ruff et al. 2018) when no anomaly is labelled.
//
// A MobileNetV2 backbone, then a bias-free projection to 128 dimensions, φ(x). The centre c is
// the mean φ of the training images (normal and known anomalies) through the untrained
// network in eval mode, entries near 0 moved to ±0.1 (losses/deep_sad.h). Training pulls the
// normal training images towards c and pushes the known anomalies (--known-anomalies N,
// BenchmarkSplit::known_anomalies) away: the Deep SAD loss, η = 1. Score "distance":
// ‖φ(x) − c‖², higher = more anomalous. The projection has no bias, as the authors require
// against the trivial solution φ ≡ c; MobileNetV2's batch norms do have biases, so a
// collapse stays possible (docs/decisions.md).
//
// On a table: the MLP backbone of options.mlp_widths (layers/mlp.h, as the other table
// methods; 64, 64 in the table preset), then the bias-free projection to 32 dimensions (the
// authors' tabular representation size for their largest table, arrhythmia; they use 8 for
// tables of 6–36 features). The known anomalies are rows of the anomaly classes outside the
// test set (data/table_split.h table_known_anomalies). The same centre, loss and score.
#include "anomaly/methods/backbone.h"
#include "autograd/functions.h"
#include "losses/deep_sad.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr int64_t kOutputs = 128;      // the authors' representation size for CIFAR-10
constexpr int64_t kTableOutputs = 32;  // a table's (see the file's description)

// The bias-free projection F -> P (weight as torch.nn.Linear's, no bias; P = 128 for images,
// 32 for a table) and the centre c (buffer "centre", P), saved with the backbone.
class SadProjection final : public Module {
 public:
  SadProjection(int64_t features, int64_t outputs, Generator& gen)
      : weight_(register_parameter("weight", linear_weight_init(outputs, features, gen))),
        centre_(register_buffer("centre", Tensor::zeros({outputs}))) {}
  Variable forward(const Variable& x) override { return linear(x, weight_, Variable()); }
  Tensor& centre() { return centre_; }  ///< (P)
  int64_t outputs() const { return centre_.size(0); }  ///< P
  std::string type_name() const override { return "SadProjection"; }

 private:
  Variable& weight_;
  Tensor& centre_;
};

class DeepSadMethod final : public BackboneMethod {
 public:
  explicit DeepSadMethod(const MethodOptions& o) : BackboneMethod(o) {}
  MethodKind kind() const override { return MethodKind::scoring; }
  std::vector<std::string> score_names() const override { return {"distance"}; }

  std::vector<NamedNetwork> networks() const override {
    std::vector<NamedNetwork> out = BackboneMethod::networks();
    if (projection_) out.emplace_back("projection", projection_.get());
    return out;
  }

  /// BackboneMethod's, and for a table "projection": P.
  nlohmann::json architecture() const override {
    nlohmann::json a = BackboneMethod::architecture();
    if (mlp_ && projection_) a["projection"] = projection_->outputs();
    return a;
  }

  void build_untrained(const nlohmann::json& architecture) override {
    BackboneMethod::build_untrained(architecture);
    const auto outputs = architecture.value("projection", kOutputs);
    KZ_CHECK(outputs >= 1 && outputs <= 65536, "method", "deepsad projection {} is out of range",
             outputs);
    Generator gen(0);  // overwritten by the loaded state
    projection_ = std::make_shared<SadProjection>(feature_dim(), outputs, gen);
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;
  std::vector<Tensor> score(const ImageDataset& data) const override;
  bool has_feature_score() const override { return projection_ != nullptr; }
  /// ‖φ(f) − c‖² of pooled features f (N,F): the score "distance", differentiable (Grad-CAM).
  Variable feature_score(const Variable& features) const override {
    const Variable d =
        sub(projection_->forward(features),
            Variable(projection_->centre().reshape({1, projection_->outputs()})));
    return sum(mul(d, d), {1});
  }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t, int64_t, Generator&) const override {
    return nullptr;
  }

 private:
  // φ of `data` (N,128), eval mode, no gradients, in chunks.
  Tensor outputs(const ImageDataset& data) const {
    NoGradGuard no_grad;
    network().eval();
    std::vector<Tensor> parts;
    for_each_chunk(data, 256, [&](const Tensor& x) {
      parts.push_back(projection_->forward(forward_features(Variable(x))).data());
    });
    return cat(parts, 0);
  }

  std::shared_ptr<SadProjection> projection_;
};

// The training set: the normal training images (label 0) and the known anomalies (label 1).
ImageDataset sad_training_set(const BenchmarkSplit& split) {
  ImageDataset normal = split.normal_train;
  normal.labels.assign(normal.labels.size(), 0);
  normal.class_names = {"normal", "known anomaly"};
  if (split.known_anomalies.size() == 0) return normal;
  ImageDataset known = split.known_anomalies;
  known.labels.assign(known.labels.size(), 1);
  known.class_names = normal.class_names;
  return concat(normal, known);
}

void DeepSadMethod::train(const BenchmarkSplit& split, uint64_t seed,
                          const ProgressFn& progress) {
  build_backbone(seed, split.normal_train);
  Generator gen(derive_seed(seed, 2, 0));
  const bool table = split.normal_train.table;
  projection_ =
      std::make_shared<SadProjection>(feature_dim(), table ? kTableOutputs : kOutputs, gen);
  const ImageDataset data = sad_training_set(split);
  projection_->centre() = deep_sad_centre(outputs(data));
  std::vector<Variable> params = trainable();
  for (const Variable& p : projection_->parameters()) params.push_back(p);
  auto opt = make_optimizer(options_, params);
  start_parallel(params);
  // A table's MLP has batch norm on one value per row: no last batch of one row there.
  const LoaderOptions lo =
      table ? loader_options(options_, data, seed, 0) : loader_options(options_, seed, 0);
  DataLoader loader(data, options_.preprocess, shard(lo));
  const std::vector<uint64_t> seeds{lo.seed};
  const nlohmann::json fp = fingerprint(seed, split);
  Guard guard{options_, checkpoint_};
  guard.saved_epochs = resume(*opt, loader, seeds, fp);  // the centre comes back with it
  const std::vector<NamedNetwork> nets = networks();
  network().train();
  auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
    const std::optional<Batch> batch = loader.next();
    if (!batch) return std::nullopt;
    std::vector<bool> known;
    for (int64_t label : batch->labels) known.push_back(label == 1);
    const Variable z = projection_->forward(forward_features(Variable(batch->images)));
    const Variable loss = deep_sad_loss(z, projection_->centre(), known);
    const double value = loss.item();
    guard.loss(value, e, b, *opt);
    step(*opt, loss, *batch, guard, nets, e, b);
    return BatchResult{value, batch->images.size(0)};
  };
  run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
}

// data (N images) -> {distance (N)}.
std::vector<Tensor> DeepSadMethod::score(const ImageDataset& data) const {
  KZ_CHECK(projection_ != nullptr, "score",
           "the method '{}' has not been trained", name());
  const Tensor z = outputs(data);
  const Tensor d = sub(z, projection_->centre().reshape({1, projection_->outputs()}));
  return {sum(mul(d, d), {1})};
}

}  // namespace

std::unique_ptr<Method> make_deepsad(const MethodOptions& o) {
  return std::make_unique<DeepSadMethod>(o);
}

}  // namespace kz
