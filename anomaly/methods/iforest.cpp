// iforest.cpp — Isolation Forest (Liu, Ting & Zhou 2008) as a scoring method: no network,
// the forest of anomaly/iforest.h grown on the normal training rows (a table's standardised
// features, or an image's pixel values flattened, C·H·W), T = options.iforest_trees trees of
// ψ = min(options.iforest_samples, N) rows each, random from the trial's seed. Score
// "isolation": 2^(−E[h(x)]/c(ψ)), E[h(x)] the mean path length of x over the trees, c(ψ)
// the mean unsuccessful-search depth of a binary search tree of ψ keys (higher = more
// anomalous, about 1 for points isolated at once). Its trees are kept as (T, 2ψ−1) node
// arrays, the buffers of the network "forest", so that model files hold them.
#include <chrono>

#include "anomaly/iforest.h"
#include "anomaly/method.h"

namespace kz {

namespace {

// An image's or a table row's values as one feature vector: (N,C,H,W) → (N, C·H·W).
Tensor flat_features(const ImageDataset& data) {
  return data.to_tensor().reshape({data.size(), data.image_numel()});
}

// The forest's node arrays as buffers (what networks() saves and loads).
class ForestModule final : public Module {
 public:
  ForestModule(int64_t trees, int64_t samples)
      : feature_(register_buffer("feature", Tensor::zeros({trees, 2 * samples - 1}))),
        threshold_(register_buffer("threshold", Tensor::zeros({trees, 2 * samples - 1}))),
        left_(register_buffer("left", Tensor::zeros({trees, 2 * samples - 1}))),
        right_(register_buffer("right", Tensor::zeros({trees, 2 * samples - 1}))),
        size_(register_buffer("size", Tensor::zeros({trees, 2 * samples - 1}))) {}
  std::string type_name() const override { return "IsolationForest"; }
  void set(const IsolationForest::Arrays& a) {
    feature_ = a.feature;
    threshold_ = a.threshold;
    left_ = a.left;
    right_ = a.right;
    size_ = a.size;
  }
  IsolationForest::Arrays get() const { return {feature_, threshold_, left_, right_, size_}; }

 private:
  Tensor &feature_, &threshold_, &left_, &right_, &size_;
};

class IsolationForestMethod final : public Method {
 public:
  explicit IsolationForestMethod(const MethodOptions& o) : Method(o) {}
  MethodKind kind() const override { return MethodKind::scoring; }
  std::vector<std::string> score_names() const override { return {"isolation"}; }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn&) override {
    const auto start = std::chrono::steady_clock::now();
    const Tensor x = flat_features(split.normal_train);
    Generator gen(seed);
    IsolationForest forest;
    forest.fit(x, IsolationForestOptions{options_.iforest_trees, options_.iforest_samples}, gen);
    features_ = forest.features();
    module_ = std::make_shared<ForestModule>(forest.trees(), forest.samples());
    module_->set(forest.to_arrays());
    train_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::vector<Tensor> score(const ImageDataset& data) const override {
    KZ_CHECK(module_ != nullptr, "iforest", "score before train");
    const IsolationForest forest = IsolationForest::from_arrays(module_->get(), features_);
    return {forest.score(flat_features(data))};
  }

  std::vector<NamedNetwork> networks() const override {
    if (!module_) return {};
    return {{"forest", module_.get()}};
  }
  nlohmann::json architecture() const override {
    if (!module_) return nlohmann::json::object();
    const Tensor& f = module_->get().feature;
    return {{"trees", f.size(0)}, {"samples", (f.size(1) + 1) / 2}, {"features", features_}};
  }
  void build_untrained(const nlohmann::json& a) override {
    const auto trees = a.value("trees", int64_t{0}), samples = a.value("samples", int64_t{0});
    features_ = a.value("features", int64_t{0});
    KZ_CHECK(trees >= 1 && samples >= 2 && features_ >= 1, "iforest",
             "architecture {} needs trees >= 1, samples >= 2 and features >= 1", a.dump());
    module_ = std::make_shared<ForestModule>(trees, samples);
  }

 private:
  std::shared_ptr<ForestModule> module_;
  int64_t features_ = 0;
};

}  // namespace

std::unique_ptr<Method> make_iforest(const MethodOptions& o) {
  return std::make_unique<IsolationForestMethod>(o);
}

}  // namespace kz
