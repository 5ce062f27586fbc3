// geom.cpp — GEOM (Golan & El-Yaniv 2018, "Deep Anomaly Detection Using Geometric
// Transformations"), a scoring method.
//
// A MobileNetV2 with a 72-way softmax head learns which of the 72 geometric transformations
// of data/geometric.h (flip × row shift × column shift × quarter turns) it sees in a normal
// training image (anomaly/methods/transformations.h: the loop, whole groups per step). A
// network that has learnt the normal class's geometry recognises the transformations of
// normal images and fails on anomalies. Loss: softmax cross-entropy. Score "nll" (higher =
// more anomalous): −Σ_t log softmax(head(backbone(T_t x)))[t], the negative log-likelihood of
// the right transformation summed over the 72 copies — the paper's simplified score (its
// Dirichlet normality score is the refinement this leaves out).
#include "anomaly/methods/transformations.h"
#include "autograd/functions.h"
#include "data/geometric.h"

namespace kz {

namespace {

class GeomMethod final : public TransformationMethod {
 public:
  explicit GeomMethod(const MethodOptions& o) : TransformationMethod(o) {}
  std::vector<std::string> score_names() const override { return {"nll"}; }

 protected:
  Variable batch_loss(const Variable& features, const std::vector<int64_t>& labels,
                      int64_t) override {
    return head_->loss(features, labels);
  }

  // features (n·72,F) -> n scores.
  std::vector<float> score_group(const Tensor& features, int64_t n) const override {
    const Tensor logits = head_->forward(Variable(features)).data();
    const Tensor logp = log_softmax(Variable(logits), 1).data().contiguous();  // (n·72, 72)
    std::vector<float> out;
    for (int64_t i = 0; i < n; ++i) {
      double nll = 0.0;
      for (int64_t t = 0; t < kGeometricTransforms; ++t)
        nll -= logp.data()[(i * kGeometricTransforms + t) * kGeometricTransforms + t];
      out.push_back(static_cast<float>(nll));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Method> make_geom(const MethodOptions& o) {
  return std::make_unique<GeomMethod>(o);
}

}  // namespace kz
