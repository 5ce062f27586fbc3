// goad.cpp — GOAD (Bergman & Hoshen 2020, "Classification-Based Anomaly Detection for
// General Data"), a scoring method, on images and on tables.
//
// Images: GEOM's 72 geometric transformations and network (anomaly/methods/transformations.h).
// Tables: M = options.goad_maps random maps of a row to d = options.goad_dims dimensions
// (data/affine_maps.h; 256 to 32 by default, the authors' thyroid/arrhythmia setting), drawn
// from the training seed; the authors' per-copy network (their netC5, Conv1d of kernel 1 over
// the M copies, written as Linear on rows of copies: layers/mlp.h `plain`, widths
// options.mlp_widths, 8 × 5 in the table preset) and a head LeakyReLU(0.2) – Linear(→M).
// Either way the features are pulled together per transformation: loss = softmax
// cross-entropy of the M-way head + λ·triplet-centre loss (losses/triplet_centre.h; λ = 0.1,
// margin 1, the centres the batch's means of each transformation's features). After training,
// the centres c_m are the mean features of each transformation over the normal training rows
// (eval mode), kept in the model. Score "goad" (higher = more anomalous):
// −Σ_m log softmax_k(−‖f(T_m x) − c_k‖²)[m]: how badly the copies of x miss their own
// transformation's centre.
//
// Against the authors' tabular code (github.com/lironber/GOAD, train_ad_tabular.py,
// opt_tc_tabular.py, fcnet.py), checked there:
//   same     maps np.random.randn(M, D, d) with no bias (the paper's b_m is not drawn);
//            netC5: Conv1d(d→ndf) then 4 × [LeakyReLU(0.2), Conv1d(ndf→ndf)], no biases,
//            the features the last conv's outputs, head LeakyReLU – Conv1d(ndf→M) with bias;
//            CE over M classes + 0.1·tc_loss with margin 1, centres of the batch in the
//            graph; the score above with their eps = 0; batch = rows (64), each with all M
//            copies; Adam lr 1e-3.
//            Xavier-normal init with gain √2 (their weights_init) for the trunk.
//   departs  the head's init is PyTorch's default (Linear's, which theirs overwrites); Adam betas
//            (0.5, 0.999) there, kizuki's (0.9, 0.999, AMSGrad in the preset); their centres
//            are the mean of the last epoch's training-mode batch means (the same network
//            here: no batch norm, so only the weights' drift within the epoch differs),
//            kizuki's the mean over the normal training rows after training; 50 epochs in
//            the preset (theirs: 1 for thyroid and arrhythmia, 25 for KDD). An earlier kizuki
//            version ran its Linear–BatchNorm–ReLU MLP here: wine 0.45, where this is ~0.98.
#include "anomaly/methods/transformations.h"
#include "autograd/functions.h"
#include "losses/triplet_centre.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr float kLambda = 0.1f;  // the weight of the triplet-centre loss
constexpr float kMargin = 1.0f;

// The centres of the normal training features, one row per transformation: buffer
// "centres" (M,F), saved in checkpoints and model files with the networks.
class TransformCentres final : public Module {
 public:
  TransformCentres(int64_t transforms, int64_t features)
      : value_(register_buffer("centres", Tensor::zeros({transforms, features}))) {}
  Tensor& value() { return value_; }  ///< (M,F)
  std::string type_name() const override { return "TransformCentres"; }

 private:
  Tensor& value_;
};

class GoadMethod final : public TransformationMethod {
 public:
  explicit GoadMethod(const MethodOptions& o) : TransformationMethod(o) {}
  std::vector<std::string> score_names() const override { return {"goad"}; }
  bool takes_tables() const override { return true; }

  std::vector<NamedNetwork> networks() const override {
    std::vector<NamedNetwork> out = TransformationMethod::networks();
    if (centres_) out.emplace_back("centres", centres_.get());
    return out;
  }

  void build_untrained(const nlohmann::json& architecture) override {
    TransformationMethod::build_untrained(architecture);
    centres_ = std::make_shared<TransformCentres>(transforms(), feature_dim());
  }

 protected:
  // features (n·M,F) -> CE + λ·tc over (n,M,F).
  Variable batch_loss(const Variable& features, const std::vector<int64_t>& labels,
                      int64_t n) override {
    const Variable z = reshape(features, {n, transforms(), features.size(1)});
    // A table's head is the authors' LeakyReLU(0.2) – Linear on the plain MLP's features.
    const Variable head_input = maps_ ? leaky_relu(features, 0.2f) : features;
    return add(head_->loss(head_input, labels), mul(triplet_centre_loss(z, kMargin), kLambda));
  }

  // c_m = the mean over the normal training images of f(T_m x), in eval mode.
  void after_training(const BenchmarkSplit& split) override {
    centres_ = std::make_shared<TransformCentres>(transforms(), feature_dim());
    Tensor sum = Tensor::zeros({transforms(), feature_dim()});
    for_each_group(split.normal_train, [&](const Tensor& features, int64_t n) {
      const Tensor z = features.reshape({n, transforms(), features.size(1)});
      sum = add(sum, kz::sum(z, {0}, false));
    });
    centres_->value() = mul(sum, 1.0f / static_cast<float>(split.normal_train.size()));
  }

  // features (n·M,F) -> n scores.
  std::vector<float> score_group(const Tensor& features, int64_t n) const override {
    KZ_CHECK(centres_ != nullptr, "score", "goad has no centres (train it first)");
    const Tensor z = features.reshape({n, transforms(), features.size(1)});
    return triplet_centre_scores(z, centres_->value()).to_vector();
  }

 private:
  std::shared_ptr<TransformCentres> centres_;
};

}  // namespace

std::unique_ptr<Method> make_goad(const MethodOptions& o) {
  return std::make_unique<GoadMethod>(o);
}

}  // namespace kz
