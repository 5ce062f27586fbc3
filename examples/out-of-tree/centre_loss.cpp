// centre_loss.cpp — an anomaly-detection method defined outside kizuki's tree, built against
// an installed kizuki (pkg-config kizuki), registered at run time and run through kizuki's
// benchmark runner: the proof that kizuki/anomaly/method.h can be extended without touching
// kizuki. README.md says how to build it.
//
// The method, "centre-loss" (Wen et al. 2016, "A Discriminative Feature Learning Approach
// for Deep Face Recognition"), an embedding method. A small MLP f maps an image x (its C·H·W
// pixels) to a feature f(x) of F dimensions; a linear head classifies the reference classes
// and the normal class (labels y = 0 … R); one centre c_k per class is learnt with them:
//   L = cross_entropy(head(f(x)), y) + λ/2 · (1/B) Σ_i ‖f(x_i) − c_{y_i}‖²,  λ = 0.1
// (the paper moves the centres by their own rule; here the optimizer moves them with the
// rest). The runner scores the test images' features with its scorers (default k-NN).
//
//   centre_loss [--tiny] [--data-dir DIR] [--out DIR]
// --tiny: a 1-trial split of 50 images per reference class, 200 normal and 200 + 200 test
// (seconds); without it, the protocol's quick preset (docs/results.md). Needs Fashion-MNIST.
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "anomaly/experiment.h"
#include "anomaly/training.h"
#include "autograd/functions.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "layers/simple.h"
#include "tensor/build_info.h"

namespace {

using namespace kz;

constexpr int64_t kHidden = 64, kFeatures = 16;
constexpr float kLambda = 0.1f;

// The features f, the head and the centres in one module: saved as "net.<name>".
class CentreNet : public Module {
 public:
  CentreNet(int64_t inputs, int64_t classes, Generator& gen) : classes_(classes) {
    features_ = register_module("features", std::make_shared<Sequential>());
    features_->add(std::make_shared<Linear>(inputs, kHidden, true, gen));
    features_->add(std::make_shared<ReLU>());
    features_->add(std::make_shared<Linear>(kHidden, kFeatures, true, gen));
    head_ = register_module("head", std::make_shared<Linear>(kFeatures, classes, true, gen));
    centres_ = register_parameter("centres", Tensor::zeros({classes, kFeatures}));
  }
  Variable forward(const Variable& x) override { return features_->forward(flatten(x, 1)); }

  // L above for a batch x (B,C,H,W) with labels y.
  Variable loss(const Tensor& x, const std::vector<int64_t>& y) {
    const Variable f = forward(Variable(x));
    const auto b = static_cast<int64_t>(y.size());
    std::vector<float> one_hot(static_cast<size_t>(b * classes_), 0.0f);
    for (int64_t i = 0; i < b; ++i) one_hot[static_cast<size_t>(i * classes_ + y[i])] = 1.0f;
    const Variable c = matmul(Variable(Tensor::from_vector(one_hot, {b, classes_})), centres_);
    const Variable compact = mean(sum(pow(sub(f, c), 2.0f), {1}));
    return add(cross_entropy(head_->forward(f), y), mul(compact, kLambda / 2));
  }

 private:
  int64_t classes_;
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> head_;
  Variable centres_;
};

class CentreLossMethod final : public TrainedMethod {
 public:
  explicit CentreLossMethod(const MethodOptions& o) : TrainedMethod(o) {}
  MethodKind kind() const override { return MethodKind::embedding; }
  std::string default_scorer() const override { return "knn"; }
  int64_t feature_dim() const override { return kFeatures; }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    const ImageDataset data = concat(split.reference, split.normal_train);  // labels 0 … R
    build(preprocess(data.subset({0}), options_.preprocess).numel(), data.num_classes(), seed);
    auto opt = make_optimizer(options_, net_->parameters());
    const LoaderOptions lo = loader_options(options_, seed, 0);
    DataLoader loader(data, options_.preprocess, lo);
    const std::vector<uint64_t> seeds{lo.seed};
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(*opt, loader, seeds, fp);  // continues a stopped run
    const std::vector<NamedNetwork> nets = networks();
    net_->train();
    run_epochs(guard, *opt, loader, seeds, fp, progress,
               [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
                 const std::optional<Batch> batch = loader.next();
                 if (!batch) return std::nullopt;
                 const Variable loss = net_->loss(batch->images, batch->labels);
                 const double value = loss.item();
                 guard.loss(value, e, b, *opt);  // a NaN or Inf stops training, clearly
                 optimizer_step(*opt, loss, guard, nets, e, b);
                 return BatchResult{value, batch->images.size(0)};
               });
  }

  Tensor embed(const ImageDataset& data) const override {
    KZ_CHECK(net_ != nullptr, "centre-loss", "the method has not been trained");
    NoGradGuard no_grad;
    net_->eval();
    return net_->forward(Variable(preprocess(data, options_.preprocess))).data();
  }

  std::vector<NamedNetwork> networks() const override {
    if (!net_) return {};
    return {{"net", net_.get()}};
  }
  nlohmann::json architecture() const override {
    return {{"inputs", inputs_}, {"classes", classes_}};
  }
  void build_untrained(const nlohmann::json& a) override {
    build(a.at("inputs").get<int64_t>(), a.at("classes").get<int64_t>(), 0);
  }

 private:
  void build(int64_t inputs, int64_t classes, uint64_t seed) {
    inputs_ = inputs;
    classes_ = classes;
    Generator gen(derive_seed(seed, 1, 0));
    net_ = std::make_shared<CentreNet>(inputs, classes, gen);
  }
  int64_t inputs_ = 0, classes_ = 0;
  std::shared_ptr<CentreNet> net_;
};

std::unique_ptr<Method> make_centre_loss(const MethodOptions& o) {
  return std::make_unique<CentreLossMethod>(o);
}

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false;
  std::string data_dir, out = "centre_loss_results";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tiny")) tiny = true;
    else if (!std::strcmp(argv[i], "--data-dir") && i + 1 < argc) data_dir = argv[++i];
    else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--tiny] [--data-dir DIR] [--out DIR]\n", argv[0]);
      return 2;
    }
  }
  try {
    const BuildInfo info = build_info();
    std::printf("kizuki %s (oneDNN %s, %s)\n", info.kizuki.c_str(), info.onednn.c_str(),
                info.compiler.c_str());
    register_method({"centre-loss", MethodKind::embedding, true,
                     "centre loss beside softmax cross-entropy (Wen et al. 2016)",
                     make_centre_loss});
    ExperimentOptions o = preset_options("quick", "fashion-mnist", {"centre-loss"}, "");
    MethodOptions& m = o.method_options.front();
    m.preprocess = {28, 28, false, Scaling::unit};  // grey 28×28, as the data are
    if (tiny) {
      o.trials = 1;
      o.n_reference_per_class = 50;
      o.n_normal_train = o.n_test_each = 200;
      m.batch_size = 64;
    }
    o.scorers = {"knn", "lof"};
    o.data_dir = data_dir;
    o.out_dir = out;
    ExperimentCallbacks callbacks;
    callbacks.result = [](const TrialResult& r) {
      std::printf("%s %s trial %d: AUC %.4f\n", r.method.c_str(), r.scorer.c_str(), r.trial, r.auc);
    };
    run_benchmark(o, callbacks);
    std::printf("wrote %s/results.json\n", out.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
