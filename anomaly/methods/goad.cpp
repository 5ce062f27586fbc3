// goad.cpp — GOAD (Bergman & Hoshen 2020, "Classification-Based Anomaly Detection for
// General Data"), a scoring method.
//
// GEOM's 72 geometric transformations and network (anomaly/methods/transformations.h), with
// the features pulled together per transformation: loss = softmax cross-entropy of the 72-way
// head + λ·triplet-centre loss (losses/triplet_centre.h; λ = 0.1, margin 1, the centres the
// batch's means of each transformation's features). After training, the centres c_m are the
// mean features of each transformation over the normal training images (eval mode), kept in
// the model. Score "goad" (higher = more anomalous): −Σ_m log softmax_k(−‖f(T_m x) − c_k‖²)[m]:
// how badly the copies of x miss their own transformation's centre.
#include "anomaly/methods/transformations.h"
#include "data/geometric.h"
#include "losses/triplet_centre.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr float kLambda = 0.1f;  // the weight of the triplet-centre loss
constexpr float kMargin = 1.0f;

// The centres of the normal training features, one row per transformation: buffer
// "centres" (72,F), saved in checkpoints and model files with the networks.
class TransformCentres final : public Module {
 public:
  explicit TransformCentres(int64_t features)
      : value_(register_buffer("centres", Tensor::zeros({kGeometricTransforms, features}))) {}
  Tensor& value() { return value_; }  ///< (72,F)
  std::string type_name() const override { return "TransformCentres"; }

 private:
  Tensor& value_;
};

class GoadMethod final : public TransformationMethod {
 public:
  explicit GoadMethod(const MethodOptions& o) : TransformationMethod(o) {}
  std::vector<std::string> score_names() const override { return {"goad"}; }

  std::vector<NamedNetwork> networks() const override {
    std::vector<NamedNetwork> out = TransformationMethod::networks();
    if (centres_) out.emplace_back("centres", centres_.get());
    return out;
  }

  void build_untrained(const nlohmann::json& architecture) override {
    TransformationMethod::build_untrained(architecture);
    centres_ = std::make_shared<TransformCentres>(feature_dim());
  }

 protected:
  // features (n·72,F) -> CE + λ·tc over (n,72,F).
  Variable batch_loss(const Variable& features, const std::vector<int64_t>& labels,
                      int64_t n) override {
    const Variable z = reshape(features, {n, kGeometricTransforms, features.size(1)});
    return add(head_->loss(features, labels), mul(triplet_centre_loss(z, kMargin), kLambda));
  }

  // c_m = the mean over the normal training images of f(T_m x), in eval mode.
  void after_training(const BenchmarkSplit& split) override {
    centres_ = std::make_shared<TransformCentres>(feature_dim());
    Tensor sum = Tensor::zeros({kGeometricTransforms, feature_dim()});
    for_each_group(split.normal_train, [&](const Tensor& features, int64_t n) {
      const Tensor z = features.reshape({n, kGeometricTransforms, features.size(1)});
      sum = add(sum, kz::sum(z, {0}, false));
    });
    centres_->value() = mul(sum, 1.0f / static_cast<float>(split.normal_train.size()));
  }

  // features (n·72,F) -> n scores.
  std::vector<float> score_group(const Tensor& features, int64_t n) const override {
    KZ_CHECK(centres_ != nullptr, "score", "goad has no centres (train it first)");
    const Tensor z = features.reshape({n, kGeometricTransforms, features.size(1)});
    return triplet_centre_scores(z, centres_->value()).to_vector();
  }

 private:
  std::shared_ptr<TransformCentres> centres_;
};

}  // namespace

std::unique_ptr<Method> make_goad(const MethodOptions& o) {
  return std::make_unique<GoadMethod>(o);
}

}  // namespace kz
