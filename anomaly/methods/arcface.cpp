// arcface.cpp — ArcFace (Deng et al. 2019, "ArcFace: Additive Angular Margin Loss for Deep
// Face Recognition"), an embedding method.
//
// Classify reference + normal images (R+1 classes): cos θ = x̂·Ŵⱼ; the true class's logit is
// s·cos(θ + m) (cos θ − sin(π − m)·m past θ = π − m), the others s·cos θ; softmax
// cross-entropy (losses/arcface.h; options arcface_s, arcface_m, the seed's 30 and 0.05).
// Score: 1 − the largest cosine similarity to the normal training features.
#include "anomaly/methods/backbone.h"
#include "losses/arcface.h"

namespace kz {

namespace {

class ArcFaceMethod final : public ClassifierMethod {
 public:
  explicit ArcFaceMethod(const MethodOptions& o) : ClassifierMethod(o) {}
  std::string default_scorer() const override { return "cosine"; }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<ArcFaceHead>(features, classes, static_cast<float>(options_.arcface_s),
                                         static_cast<float>(options_.arcface_m), false, gen);
  }
};

}  // namespace

std::unique_ptr<Method> make_arcface(const MethodOptions& o) {
  return std::make_unique<ArcFaceMethod>(o);
}

}  // namespace kz
