// doc.cpp — Deep One-Class classification (Perera & Patel 2018, "Learning Deep Features for
// One-Class Classification"), an embedding method.
//
// A softmax head over the R reference classes. Descriptiveness l_D = cross-entropy of a
// reference batch; compactness l_C of the head's outputs on a normal batch of n outputs of
// dimension k with mean m: l_C = 1/(n·k) · Σ_i (n²/(n−1)²)·‖x_i − m‖² (losses/doc.h).
// Either alternating updates per batch (the seed: a step on l_D, then a step on λ·l_C;
// options doc_alternate, doc_lambda) or one step on l_D + λ·l_C. Early layers may be frozen
// (freeze_blocks). Score: the pooled backbone features through LOF (the seed's choice).
#include "anomaly/methods/backbone.h"
#include "losses/doc.h"

namespace kz {

namespace {

class DocMethod final : public BackboneMethod {
 public:
  explicit DocMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "lof"; }
  std::vector<std::string> head_classes(const BenchmarkSplit& split) const override {
    std::vector<std::string> names = split.reference.class_names;
    names.pop_back();  // the split's class list ends with the normal class
    return names;
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override {
    KZ_CHECK(split.reference.size() > 0, "doc",
             "needs a reference set for its descriptiveness loss (a table: --reference)");
    build_backbone(seed, split.normal_train);
    Generator gen(derive_seed(seed, 2, 0));
    // Reference labels are 0 … R−1 (the split's class list ends with the normal class).
    head_ = make_head(feature_dim(), split.reference.num_classes() - 1, gen);
    const std::vector<Variable> params = trainable();
    auto opt = make_optimizer(options_, params);
    start_parallel(params);
    DataLoader reference(split.reference, options_.preprocess,
                         shard(loader_options(options_, split.reference, seed, 0)));
    DataLoader normal(split.normal_train, options_.preprocess,
                      shard(loader_options(options_, split.normal_train, seed, 1)));
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
    const std::vector<NamedNetwork> nets = networks();
    network().train();
    head_->train();
    const auto lambda = static_cast<float>(options_.doc_lambda);
    auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
      const std::optional<Batch> ref = reference.next();
      if (!ref) return std::nullopt;
      std::optional<Batch> target = normal.next();
      if (!target) target = normal.next();  // the normal set is smaller: start it again
      const Variable ref_logits = head_->forward(forward_features(Variable(ref->images)));
      double loss_value = 0.0;
      if (options_.doc_alternate) {
        const Variable l_d = cross_entropy(ref_logits, ref->labels);
        guard.loss(l_d.item(), e, b, *opt);
        step(*opt, l_d, *ref, guard, nets, e, b);
        const Variable out = head_->forward(forward_features(Variable(target->images)));
        const Variable l_c = mul(doc_compactness_loss(out), lambda);
        guard.loss(l_c.item(), e, b, *opt);
        step(*opt, l_c, *target, guard, nets, e, b);
        loss_value = l_d.item() + l_c.item();
      } else {
        const Variable out = head_->forward(forward_features(Variable(target->images)));
        const DocLoss l = doc_loss(ref_logits, ref->labels, out, lambda);
        guard.loss(l.total.item(), e, b, *opt);
        step(*opt, l.total, *ref, guard, nets, e, b);
        loss_value = l.total.item();
      }
      return BatchResult{loss_value, ref->images.size(0) + target->images.size(0)};
    };
    run_epochs(guard, *opt, reference, seeds, fp, progress, train_batch);
  }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<SoftmaxHead>(features, classes, gen);
  }
};

}  // namespace

std::unique_ptr<Method> make_doc(const MethodOptions& o) { return std::make_unique<DocMethod>(o); }

}  // namespace kz
