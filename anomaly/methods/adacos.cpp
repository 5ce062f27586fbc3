// adacos.cpp — AdaCos (Zhang et al. 2019, "AdaCos: Adaptively Scaling Cosine Logits for
// Effectively Learning Deep Face Representations"), an embedding method, in two variants.
//
// Classify reference + normal images (R+1 classes, at least 3) with cosine logits s·cos θ and
// no margin (losses/adacos.h). `adacos`: the paper's dynamic scale, moved every step from the
// batch's cosines; `adacos-fixed`: s = √2·ln(C − 1) throughout. No hand-set scale or margin,
// which is the method's point beside ArcFace's s and m. Score: 1 − the largest cosine
// similarity to the normal training features, as ArcFace.
#include "anomaly/methods/backbone.h"
#include "losses/adacos.h"

namespace kz {

namespace {

class AdaCosMethod final : public ClassifierMethod {
 public:
  AdaCosMethod(const MethodOptions& o, bool dynamic) : ClassifierMethod(o), dynamic_(dynamic) {}
  std::string default_scorer() const override { return "cosine"; }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<AdaCosHead>(features, classes, dynamic_, gen);
  }

 private:
  bool dynamic_;
};

}  // namespace

std::unique_ptr<Method> make_adacos(const MethodOptions& o) {
  return std::make_unique<AdaCosMethod>(o, true);
}

std::unique_ptr<Method> make_adacos_fixed(const MethodOptions& o) {
  return std::make_unique<AdaCosMethod>(o, false);
}

}  // namespace kz
