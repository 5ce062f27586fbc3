// method.cpp — DOC, L2-Softmax, ArcFace and the frozen baseline (see method.h).
#include "anomaly/method.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "anomaly/checkpoint.h"
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

// True when every value of t is finite (one flat pass when t is dense).
bool all_finite(const Tensor& t) {
  if (t.is_dense()) {
    const float* p = t.data();
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  }
  for (float v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

// The divergence guard: a NaN or Inf in the loss, a gradient or the weights stops training
// with the epoch, the batch, the likely cause and what is kept.
struct Guard {
  const MethodOptions& options;
  const CheckpointOptions& checkpoint;
  int64_t saved_epochs = 0;  // of the last checkpoint written or loaded (0: none)

  [[noreturn]] void stop(const std::string& what, int64_t epoch, int64_t batch,
                         const Optimizer& opt) const {
    std::string cause =
        opt.step_count() == 0
            ? "It happened before any update: the input images or the initial weights hold "
              "NaN/Inf (check the data and --pretrained)"
            : fmt::format("The learning rate ({:g}) is probably too high; try a smaller --lr",
                          options.lr);
    std::string kept = checkpoint.path.empty() || saved_epochs == 0
                           ? std::string()
                           : fmt::format(". The last good checkpoint ({}, after epoch {}) is kept",
                                         checkpoint.path, saved_epochs);
    fail("train", fmt::format("{} at epoch {}, batch {}: training diverged. {}{}", what,
                              epoch + 1, batch + 1, cause, kept));
  }
  void loss(double value, int64_t epoch, int64_t batch, const Optimizer& opt) const {
    if (!std::isfinite(value))
      stop(fmt::format("the loss became {}", std::isnan(value) ? "NaN" : "infinite"), epoch,
           batch, opt);
  }
  // Every parameter's gradient (gradients = true) or value of the modules.
  void parameters(const std::vector<const Module*>& modules, bool gradients, int64_t epoch,
                  int64_t batch, const Optimizer& opt) const {
    for (const Module* m : modules)
      for (const auto& [name, p] : m->named_parameters()) {
        const Tensor& t = gradients ? p.grad() : p.data();
        if (t.defined() && !all_finite(t))
          stop(fmt::format("the {} of {} became NaN or infinite",
                           gradients ? "gradient" : "value", name),
               epoch, batch, opt);
      }
  }
};

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

// Stream 0 is the main training set; DOC's normal set is stream 1. Only stream 0 prefetches,
// and only with 2 or more threads, so --threads T means T compute threads plus at most one
// (mostly idle) batch-building thread, never two loaders competing with the kernels.
LoaderOptions loader_options(const MethodOptions& o, uint64_t seed, uint64_t stream) {
  LoaderOptions l;
  l.prefetch = stream == 0 && omp_get_max_threads() > 1;
  l.batch_size = o.batch_size;
  l.shuffle = true;
  l.seed = derive_seed(seed, 100 + stream, 0);
  l.augment = o.augment;
  l.channels_last = true;
  return l;
}

// One optimisation step on `loss`, refusing non-finite gradients before they reach the
// weights.
void step(Optimizer& opt, const Variable& loss, const Guard& guard,
          const std::vector<const Module*>& modules, int64_t epoch, int64_t batch) {
  opt.zero_grad();
  loss.backward();
  guard.parameters(modules, true, epoch, batch, opt);
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

// What one trained batch reports: its loss and how many images it took.
struct BatchResult {
  double loss;
  int64_t images;
};

// A method that trains: the epoch loop L2-Softmax, ArcFace and DOC share.
class TrainedMethod : public Method {
 protected:
  using Method::Method;

  // Epochs from guard.saved_epochs (0, or those resumed) to the last: train_batch(e, b)
  // trains batch b of epoch e and returns what it did, or nothing when the epoch's batches
  // of `loader` are used up. Progress after each batch; after each epoch the weights are
  // checked, the checkpoint written (positions of `loader`, `seeds`) and progress reported.
  template <class TrainBatch>
  void run_epochs(Guard& guard, Optimizer& opt, DataLoader& loader,
                  const std::vector<uint64_t>& seeds, const nlohmann::json& fp,
                  const std::vector<const Module*>& modules, const ProgressFn& progress,
                  TrainBatch&& train_batch) {
    EpochMeter meter;
    for (int64_t e = guard.saved_epochs; e < options_.epochs; ++e) {
      meter.begin_epoch();
      const int64_t nb = loader.num_batches();
      TrainProgress last;
      for (int64_t b = 0;; ++b) {
        const std::optional<BatchResult> r = train_batch(e, b);
        if (!r) break;
        last = meter.add(r->loss, r->images, e, options_.epochs, b, nb);
        if (progress && !last.epoch_end) progress(last);
      }
      guard.parameters(modules, false, e, nb - 1, opt);
      save_epoch(e + 1, opt, loader, seeds, fp, resumed_seconds_ + seconds_since(meter.start));
      guard.saved_epochs = e + 1;
      if (progress) progress(last);
    }
    train_seconds_ = resumed_seconds_ + seconds_since(meter.start);
  }
};

// L2-Softmax and ArcFace: classify reference + normal images (R+1 classes) through a head.
class ClassifierMethod final : public TrainedMethod {
 public:
  explicit ClassifierMethod(const MethodOptions& o) : TrainedMethod(o) {}
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
    const std::vector<uint64_t> seeds{loader_options(options_, seed, 0).seed};
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(*opt, loader, seeds, fp);
    const std::vector<const Module*> modules{backbone_.get(), head};
    backbone_->train();
    head->train();
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> batch = loader.next();
      if (!batch) return std::nullopt;
      const Variable features = backbone_->forward_features(Variable(batch->images));
      const Variable loss = head->loss(features, batch->labels);
      const double value = loss.item();
      guard.loss(value, e, b, *opt);
      step(*opt, loss, guard, modules, e, b);
      return BatchResult{value, batch->images.size(0)};
    };
    run_epochs(guard, *opt, loader, seeds, fp, modules, progress, train_batch);
  }
};

// DOC: descriptiveness on reference batches, compactness on normal batches.
class DocMethod final : public TrainedMethod {
 public:
  explicit DocMethod(const MethodOptions& o) : TrainedMethod(o) {}
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
    const std::vector<uint64_t> seeds{loader_options(options_, seed, 0).seed,
                                      loader_options(options_, seed, 1).seed};
    const nlohmann::json fp = fingerprint(seed, split);
    Guard guard{options_, checkpoint_};
    guard.saved_epochs = resume(*opt, reference, seeds, fp);
    // The normal set is smaller and runs on across the reference epochs: normal batch k is
    // batch k mod n of normal epoch k div n. Put it where it was after the resumed epochs.
    if (guard.saved_epochs > 0) {
      const int64_t k = guard.saved_epochs * reference.num_batches(), n = normal.num_batches();
      normal.set_epoch(k / n);
      for (int64_t i = 0; i < k % n; ++i) normal.next();
    }
    const std::vector<const Module*> modules{backbone_.get(), head};
    backbone_->train();
    head->train();
    const float lambda = options_.doc_lambda;
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> ref = reference.next();
      if (!ref) return std::nullopt;
      std::optional<Batch> target = normal.next();
      if (!target) target = normal.next();  // the normal set is smaller: start it again
      const Variable ref_logits = head->forward(backbone_->forward_features(Variable(ref->images)));
      double loss_value = 0.0;
      if (options_.doc_alternate) {
        const Variable l_d = cross_entropy(ref_logits, ref->labels);
        guard.loss(l_d.item(), e, b, *opt);
        step(*opt, l_d, guard, modules, e, b);
        const Variable out = head->forward(backbone_->forward_features(Variable(target->images)));
        const Variable l_c = mul(doc_compactness_loss(out), lambda);
        guard.loss(l_c.item(), e, b, *opt);
        step(*opt, l_c, guard, modules, e, b);
        loss_value = l_d.item() + l_c.item();
      } else {
        const Variable out = head->forward(backbone_->forward_features(Variable(target->images)));
        const DocLoss l = doc_loss(ref_logits, ref->labels, out, lambda);
        guard.loss(l.total.item(), e, b, *opt);
        step(*opt, l.total, guard, modules, e, b);
        loss_value = l.total.item();
      }
      return BatchResult{loss_value, ref->images.size(0) + target->images.size(0)};
    };
    run_epochs(guard, *opt, reference, seeds, fp, modules, progress, train_batch);
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

nlohmann::json method_options_json(const MethodOptions& m) {
  return {{"name", m.name},
          {"width", m.width},
          {"pretrained", m.pretrained},
          {"image_size", m.preprocess.height},
          {"scaling", scaling_name(m.preprocess.scaling)},
          {"horizontal_flip", m.augment.horizontal_flip},
          {"crop_padding", m.augment.crop_padding},
          {"epochs", m.epochs},
          {"batch_size", m.batch_size},
          {"optimizer", m.optimizer},
          {"lr", m.lr},
          {"weight_decay", m.weight_decay},
          {"amsgrad", m.amsgrad},
          {"momentum", m.momentum},
          {"alpha", m.alpha},
          {"arcface_s", m.arcface_s},
          {"arcface_m", m.arcface_m},
          {"doc_lambda", m.doc_lambda},
          {"doc_alternate", m.doc_alternate},
          {"freeze_blocks", m.freeze_blocks}};
}

nlohmann::json Method::fingerprint(uint64_t seed, const BenchmarkSplit& split) const {
  return {{"method", method_options_json(options_)},
          {"seed", std::to_string(seed)},  // exact as text
          {"reference_images", split.reference.size()},
          {"reference_classes", split.reference.num_classes()},
          {"normal_images", split.normal_train.size()}};
}

int64_t Method::resume(Optimizer& opt, DataLoader& loader, const std::vector<uint64_t>& seeds,
                       const nlohmann::json& fp) {
  resumed_epochs_ = 0;
  resumed_seconds_ = 0.0;
  const std::string& path = checkpoint_.path;
  if (path.empty() || !checkpoint_.resume || !std::filesystem::exists(path)) return 0;
  const TrainingCheckpoint c = load_checkpoint(path);
  check_fingerprint(path, c.fingerprint, fp);
  KZ_CHECK(c.loader_seeds == seeds, "checkpoint", "{}: its random state belongs to another run",
           path);
  KZ_CHECK(c.epochs_done <= options_.epochs, "checkpoint",
           "{}: {} epochs done, more than the {} of this run", path, c.epochs_done,
           options_.epochs);
  try {
    backbone_->load_state_dict(c.backbone);
    head_->load_state_dict(c.head);
    opt.load_state_dict(c.optimizer);
  } catch (const Error& e) {
    fail("checkpoint", path + ": " + e.what());
  }
  loader.set_epoch(c.epochs_done);
  KZ_CHECK(loader.order() == c.next_order, "checkpoint",
           "{}: the data differ from the run that wrote it (the order of epoch {} does not "
           "match)", path, c.epochs_done + 1);
  resumed_epochs_ = c.epochs_done;
  resumed_seconds_ = c.train_seconds;
  return c.epochs_done;
}

void Method::save_epoch(int64_t epochs_done, const Optimizer& opt, const DataLoader& loader,
                        const std::vector<uint64_t>& seeds, const nlohmann::json& fp,
                        double seconds) const {
  if (checkpoint_.path.empty()) return;
  TrainingCheckpoint c;
  c.epochs_done = epochs_done;
  c.train_seconds = seconds;
  c.loader_seeds = seeds;
  c.next_order = loader.order();
  c.fingerprint = fp;
  c.backbone = backbone_->state_dict();
  c.head = head_->state_dict();
  c.optimizer = opt.state_dict();
  save_checkpoint(checkpoint_.path, c);
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
