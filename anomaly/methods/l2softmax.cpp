// l2softmax.cpp — L2-Softmax (Ranjan et al. 2017, "L2-constrained Softmax Loss for
// Discriminative Face Verification"), an embedding method.
//
// Classify reference + normal images (R+1 classes) with f̂ = α·f/‖f‖ per sample, then a
// Linear layer and softmax cross-entropy (losses/l2_softmax.h; option alpha, the seed's 15).
// Score: the pooled backbone features, MinMax-scaled, through LOF (the seed's choice).
#include "anomaly/methods/backbone.h"
#include "losses/l2_softmax.h"

namespace kz {

namespace {

class L2SoftmaxMethod final : public ClassifierMethod {
 public:
  explicit L2SoftmaxMethod(const MethodOptions& o) : ClassifierMethod(o) {}
  std::string default_scorer() const override { return "lof"; }

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<L2SoftmaxHead>(features, classes, static_cast<float>(options_.alpha),
                                           gen);
  }
};

}  // namespace

std::unique_ptr<Method> make_l2softmax(const MethodOptions& o) {
  return std::make_unique<L2SoftmaxMethod>(o);
}

}  // namespace kz
