// method.cpp — DOC, L2-Softmax, ArcFace and the frozen baseline (see method.h).
#include "anomaly/method.h"

#include <chrono>
#include <cmath>
#include <optional>

#include "autograd/functions.h"
#include "losses/arcface.h"
#include "losses/doc.h"
#include "losses/l2_softmax.h"
#include "losses/margin_head.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tensor/ops.h"

namespace kz {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void check_finite(double loss, int64_t epoch, int64_t batch, double lr) {
  if (std::isfinite(loss)) return;
  fail("train", fmt::format("the loss became {} at epoch {}, batch {}: training diverged. "
                            "The learning rate ({:g}) is probably too high; try a smaller --lr",
                            std::isnan(loss) ? "NaN" : "infinite", epoch + 1, batch + 1, lr));
}

std::unique_ptr<Optimizer> make_optimizer(const MethodOptions& o, std::vector<Variable> params) {
  if (o.optimizer == "adam") {
    AdamOptions a;
    a.lr = o.lr;
    a.weight_decay = o.weight_decay;
    a.amsgrad = o.amsgrad;
    return std::make_unique<Adam>(std::move(params), a);
  }
  if (o.optimizer == "sgd") {
    SgdOptions s;
    s.lr = o.lr;
    s.momentum = o.momentum;
    s.weight_decay = o.weight_decay;
    return std::make_unique<SGD>(std::move(params), s);
  }
  fail("method", fmt::format("unknown optimizer '{}' (adam or sgd)", o.optimizer));
}

// Parameters of the backbone that train (frozen blocks excluded) followed by the head's.
std::vector<Variable> trainable(MobileNetV2& backbone, int64_t freeze_blocks, Module& head) {
  std::vector<Variable> params;
  for (auto& [name, p] : backbone.named_parameters()) {
    bool frozen = false;
    for (int64_t b = 0; b < freeze_blocks; ++b)
      if (name.rfind(fmt::format("features.{}.", b), 0) == 0) frozen = true;
    p.set_requires_grad(!frozen);
    if (!frozen) params.push_back(p);
  }
  for (const Variable& p : head.parameters()) params.push_back(p);
  return params;
}

LoaderOptions loader_options(const MethodOptions& o, uint64_t seed, uint64_t stream) {
  LoaderOptions l;
  l.batch_size = o.batch_size;
  l.shuffle = true;
  l.seed = derive_seed(seed, 100 + stream, 0);
  l.augment = o.augment;
  l.channels_last = true;
  return l;
}

// One optimisation step on `loss`.
void step(Optimizer& opt, const Variable& loss) {
  opt.zero_grad();
  loss.backward();
  opt.step();
}

// Reports progress for batch b of an epoch and returns the running mean loss.
struct EpochMeter {
  Clock::time_point start = Clock::now(), epoch_start = Clock::now();
  int64_t images = 0;
  double loss_sum = 0.0;
  int64_t batches = 0;
  void begin_epoch() {
    epoch_start = Clock::now();
    images = 0;
    loss_sum = 0.0;
    batches = 0;
  }
  TrainProgress add(double loss, int64_t n, int64_t epoch, int64_t epochs, int64_t b,
                    int64_t nb) {
    loss_sum += loss;
    images += n;
    ++batches;
    TrainProgress p;
    p.epoch = epoch;
    p.epochs = epochs;
    p.batch = b;
    p.batches = nb;
    p.loss = loss_sum / static_cast<double>(batches);
    p.images_per_second = static_cast<double>(images) / std::max(seconds_since(epoch_start), 1e-9);
    p.seconds = seconds_since(start);
    p.epoch_end = b + 1 == nb;
    return p;
  }
};

// L2-Softmax and ArcFace: classify reference + normal images (R+1 classes) through a head.
class ClassifierMethod final : public Method {
 public:
  explicit ClassifierMethod(const MethodOptions& o) : Method(o) {}
  std::string default_scorer() const override {
    return options_.name == "arcface" ? "cosine" : "lof";
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    build_backbone(seed);
    const ImageDataset data = concat(split.reference, split.normal_train);
    Generator gen(derive_seed(seed, 2, 0));
    const int64_t F = backbone_->feature_dim(), C = data.num_classes();
    if (options_.name == "arcface")
      head_ = std::make_shared<ArcFaceHead>(F, C, options_.arcface_s, options_.arcface_m, false, gen);
    else
      head_ = std::make_shared<L2SoftmaxHead>(F, C, options_.alpha, gen);
    MarginHead* head = head_.get();
    auto opt = make_optimizer(options_, trainable(*backbone_, options_.freeze_blocks, *head));
    DataLoader loader(data, options_.preprocess, loader_options(options_, seed, 0));
    backbone_->train();
    head->train();
    EpochMeter meter;
    for (int64_t e = 0; e < options_.epochs; ++e) {
      meter.begin_epoch();
      const int64_t nb = loader.num_batches();
      for (int64_t b = 0; auto batch = loader.next(); ++b) {
        const Variable features = backbone_->forward_features(Variable(batch->images));
        const Variable loss = head->loss(features, batch->labels);
        check_finite(loss.item(), e, b, options_.lr);
        step(*opt, loss);
        if (progress)
          progress(meter.add(loss.item(), batch->images.size(0), e, options_.epochs, b, nb));
      }
    }
    train_seconds_ = seconds_since(meter.start);
  }
};

// DOC: descriptiveness on reference batches, compactness on normal batches.
class DocMethod final : public Method {
 public:
  explicit DocMethod(const MethodOptions& o) : Method(o) {}
  std::string default_scorer() const override { return "lof"; }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    build_backbone(seed);
    Generator gen(derive_seed(seed, 2, 0));
    const int64_t F = backbone_->feature_dim(), R = split.reference.num_classes() - 1;
    // Reference labels are 0 … R−1 (the split's class list ends with the normal class).
    head_ = std::make_shared<SoftmaxHead>(F, R, gen);
    MarginHead* head = head_.get();
    auto opt = make_optimizer(options_, trainable(*backbone_, options_.freeze_blocks, *head));
    DataLoader reference(split.reference, options_.preprocess, loader_options(options_, seed, 0));
    DataLoader normal(split.normal_train, options_.preprocess, loader_options(options_, seed, 1));
    backbone_->train();
    head->train();
    const float lambda = options_.doc_lambda;
    EpochMeter meter;
    for (int64_t e = 0; e < options_.epochs; ++e) {
      meter.begin_epoch();
      const int64_t nb = reference.num_batches();
      for (int64_t b = 0; auto ref = reference.next(); ++b) {
        std::optional<Batch> target = normal.next();
        if (!target) target = normal.next();  // the normal set is smaller: start it again
        const Variable ref_logits = head->forward(backbone_->forward_features(Variable(ref->images)));
        double loss_value = 0.0;
        if (options_.doc_alternate) {
          const Variable l_d = cross_entropy(ref_logits, ref->labels);
          check_finite(l_d.item(), e, b, options_.lr);
          step(*opt, l_d);
          const Variable out = head->forward(backbone_->forward_features(Variable(target->images)));
          const Variable l_c = mul(doc_compactness_loss(out), lambda);
          check_finite(l_c.item(), e, b, options_.lr);
          step(*opt, l_c);
          loss_value = l_d.item() + l_c.item();
        } else {
          const Variable out = head->forward(backbone_->forward_features(Variable(target->images)));
          const DocLoss l = doc_loss(ref_logits, ref->labels, out, lambda);
          check_finite(l.total.item(), e, b, options_.lr);
          step(*opt, l.total);
          loss_value = l.total.item();
        }
        if (progress)
          progress(meter.add(loss_value, ref->images.size(0) + target->images.size(0), e,
                             options_.epochs, b, nb));
      }
    }
    train_seconds_ = seconds_since(meter.start);
  }
};

// The backbone as it is, untrained.
class FrozenMethod final : public Method {
 public:
  explicit FrozenMethod(const MethodOptions& o) : Method(o) {}
  std::string default_scorer() const override { return "cosine"; }
  void train(const BenchmarkSplit&, uint64_t seed, const ProgressFn&) override {
    build_backbone(seed);
    train_seconds_ = 0.0;
  }
};

}  // namespace

void Method::build_backbone(uint64_t seed) {
  Generator gen(derive_seed(seed, 1, 0));
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

void Method::set_networks(std::shared_ptr<MobileNetV2> backbone,
                          std::shared_ptr<MarginHead> head) {
  backbone_ = std::move(backbone);
  head_ = std::move(head);
}

Tensor Method::embed(const ImageDataset& data) const {
  KZ_CHECK(backbone_ != nullptr, "embed", "the method '{}' has not been trained", name());
  NoGradGuard no_grad;
  backbone_->eval();
  constexpr int64_t kChunk = 256;
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < data.size(); start += kChunk) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(data.size(), start + kChunk); ++i) idx.push_back(i);
    const Tensor x = preprocess(data.subset(idx), options_.preprocess).to_channels_last();
    parts.push_back(backbone_->forward_features(Variable(x)).data());
  }
  return cat(parts, 0);
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names{"doc", "l2softmax", "arcface", "frozen"};
  return names;
}

std::unique_ptr<Method> make_method(const MethodOptions& options) {
  if (options.name == "doc") return std::make_unique<DocMethod>(options);
  if (options.name == "l2softmax" || options.name == "arcface")
    return std::make_unique<ClassifierMethod>(options);
  if (options.name == "frozen") return std::make_unique<FrozenMethod>(options);
  fail("method", fmt::format("unknown method '{}' (doc, l2softmax, arcface or frozen)",
                             options.name));
}

}  // namespace kz
