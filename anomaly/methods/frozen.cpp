// frozen.cpp — no training at all: the backbone's features as they are (pretrained or
// random; a random MLP for a table), an embedding method. The baseline that shows what training adds. Score: 1 − the
// largest cosine similarity to the normal training features.
#include "anomaly/methods/backbone.h"

namespace kz {

namespace {

class FrozenMethod final : public BackboneMethod {
 public:
  explicit FrozenMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "cosine"; }
  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn&) override {
    build_backbone(seed, split.normal_train);
    train_seconds_ = 0.0;
  }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t, int64_t, Generator&) const override {
    return nullptr;
  }
};

}  // namespace

std::unique_ptr<Method> make_frozen(const MethodOptions& o) {
  return std::make_unique<FrozenMethod>(o);
}

}  // namespace kz
