// identity.cpp — no network and no training: each row's own values are its features, an
// embedding method, so that the classical detectors (LOF, k-NN, cosine; anomaly/scorers.h)
// score the data as it is: a table's standardised features (data/table_split.h), or an
// image's pixel values flattened (N, C·H·W). Its default scorer is LOF (Breunig et al. 2000),
// as scikit-learn's LocalOutlierFactor(novelty=True) on the same rows.
// The classical detectors by their own names are this method with one default scorer: `lof`
// (LOF) and `knn` (the distance to the k-th nearest normal row), so that `--methods
// iforest,lof,knn` reads as a user of scikit-learn expects.
#include "anomaly/method.h"

namespace kz {

namespace {

class IdentityMethod final : public Method {
 public:
  explicit IdentityMethod(const MethodOptions& o) : Method(o) {}
  MethodKind kind() const override { return MethodKind::embedding; }
  std::string default_scorer() const override { return options_.name == "knn" ? "knn" : "lof"; }
  void train(const BenchmarkSplit& split, uint64_t, const ProgressFn&) override {
    features_ = split.normal_train.image_numel();
    train_seconds_ = 0.0;
  }
  Tensor embed(const ImageDataset& data) const override {
    KZ_CHECK(features_ == 0 || data.image_numel() == features_, "identity",
             "{}: rows of {} values, trained on rows of {}", data.source, data.image_numel(),
             features_);
    return data.to_tensor().reshape({data.size(), data.image_numel()});
  }
  int64_t feature_dim() const override { return features_; }
  std::vector<NamedNetwork> networks() const override { return {}; }
  nlohmann::json architecture() const override { return {{"features", features_}}; }
  void build_untrained(const nlohmann::json& a) override {
    features_ = a.value("features", int64_t{0});
  }

 private:
  int64_t features_ = 0;
};

}  // namespace

std::unique_ptr<Method> make_identity(const MethodOptions& o) {
  return std::make_unique<IdentityMethod>(o);
}

}  // namespace kz
