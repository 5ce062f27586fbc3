// twin.cpp — Anomaly Twin (daisukelab 2019, "Self-supervised learning for anomaly detection
// with Anomaly Twin"; the seed's hybrid of metric learning and synthetic defects), an
// embedding method.
//
// Every normal training image x gets a twin x' with one synthetic line defect (data/defects.h
// line_defect: length ≤ a fifth of the side, random width and colour), drawn afresh in every
// epoch from Generator(derive_seed(derive_seed(seed, 3, epoch), batch, 0)) — so a resumed run
// draws the same twins. An ArcFace head (losses/arcface.h; options arcface_s, arcface_m) on
// the MobileNetV2's pooled features learns normal (class 0) against twin (class 1); with
// --with-reference (MethodOptions::with_reference) the reference classes come first as
// further classes (0 … R−1, normal R, twin R+1), the loader drawing reference and normal
// images alike and every normal image of a batch getting its twin. The backbone's features
// are what is scored.
//
// Default scorer: gde (anomaly/gaussian_density.h), the Gaussian density of the normal
// training features. Without --with-reference the network sees one normal class (and its
// twins), so the normal features form one mode, which one Gaussian with a shrunk covariance
// describes, directions of small variance included — the reason CutPaste, trained the same
// way on one class, scores with it. Measured on Fashion-MNIST's quick preset
// (docs/results.md): gde 0.90, LOF 0.79, cosine 0.70. cosine and lof stay available
// (--scorers).
#include "anomaly/methods/backbone.h"
#include "data/defects.h"
#include "losses/arcface.h"
#include "tensor/ops.h"

namespace kz {

namespace {

class TwinMethod final : public BackboneMethod {
 public:
  explicit TwinMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "gde"; }

  std::vector<std::string> head_classes(const BenchmarkSplit& split) const override {
    std::vector<std::string> names;
    if (options_.with_reference) names = split.reference.class_names;
    names.emplace_back("normal");
    names.emplace_back("twin");
    return names;
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<ArcFaceHead>(features, classes, static_cast<float>(options_.arcface_s),
                                         static_cast<float>(options_.arcface_m), false, gen);
  }
};

void TwinMethod::train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) {
  KZ_CHECK(!split.normal_train.table, "method",
           "twin draws line defects on images; a table has none to draw on");
  KZ_CHECK(!options_.with_reference || split.reference.size() > 0, "method",
           "twin --with-reference classifies the reference classes too: it needs a reference "
           "set");
  build_backbone(seed, split.normal_train);
  // The loader's data: reference (labels 0 … R−1, with --with-reference) and normal (R).
  ImageDataset data = split.normal_train;
  const int64_t normal_label = options_.with_reference ? split.reference.num_classes() : 0;
  data.labels.assign(data.labels.size(), normal_label);
  data.class_names = head_classes(split);
  data.class_names.pop_back();  // "twin" has no images of its own
  if (options_.with_reference) {
    ImageDataset reference = split.reference;
    reference.class_names = data.class_names;
    data = concat(reference, data);
  }
  // Each batch: its images, then a twin of each normal one with a line defect (class R+1).
  const Scaling scaling = options_.preprocess.scaling;
  const HeadBatchFn add_twins = [&](const Batch& batch, Generator& draw) {
    std::vector<int64_t> normal_rows;
    for (size_t i = 0; i < batch.labels.size(); ++i)
      if (batch.labels[i] == normal_label) normal_rows.push_back(static_cast<int64_t>(i));
    HeadBatch rows{batch.images, batch.labels};
    if (!normal_rows.empty()) {
      const Tensor normal = index_select0(batch.images.contiguous(), normal_rows);
      const DefectBatch twins = defect_batch(normal, scaling, line_defect, draw);
      rows.rows = cat({batch.images.contiguous(), twins.images}, 0).to_channels_last();
      rows.labels.insert(rows.labels.end(), normal_rows.size(), normal_label + 1);
    }
    return rows;
  };
  train_head(split, data, loader_options(options_, data, seed, 0), normal_label + 2, seed,
             progress, add_twins);
}

}  // namespace

std::unique_ptr<Method> make_twin(const MethodOptions& o) {
  return std::make_unique<TwinMethod>(o);
}

}  // namespace kz
