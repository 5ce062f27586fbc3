// cutpaste.cpp — CutPaste (Li et al. 2021, "CutPaste: Self-Supervised Learning for Anomaly
// Detection and Localization"), an embedding method with anomaly maps.
//
// The 3-way variant: every normal training image x of a step comes with a CutPaste copy (a
// patch of 2–15 % of the image's area, aspect ratio log-uniform in [0.3, 3.3], colour
// jitter 0.1, pasted elsewhere) and a scar copy (2–16 × 10–25 px at 256 px, scaled to the
// image, turned by ±45°), both from data/defects.h, drawn afresh in every step from
// Generator(derive_seed(derive_seed(seed, 3, epoch), batch, 0)). A linear softmax head on the
// MobileNetV2's pooled features learns normal (0) / cutpaste (1) / scar (2) with
// cross-entropy; a step takes max(1, batch_size / 3) images, so it holds about batch_size
// rows. The authors' code is not public; the geometry follows the reference
// re-implementations github:Runinho/pytorch-cutpaste (cutpaste.py: CutPasteNormal,
// CutPasteScar, CutPaste3Way; density.py: the Ledoit–Wolf Gaussian density) and
// github:LilitYolyan/CutPaste. Departures: the backbone is kizuki's MobileNetV2 (theirs a
// ResNet-18 with an MLP projection head), the head is one linear layer on the pooled
// feature, and the optimiser is the preset's (theirs SGD with a cosine schedule).
//
// Default scorer: gde (anomaly/gaussian_density.h), the paper's Gaussian density of the
// pooled features.
//
// Localisation (gives_maps): a window of a quarter of the preprocessed side slides with a
// stride of an eighth (the last window flush with the far edge), each patch resized to the
// network's input size and embedded; a second gde, fitted after training on the patches of
// the first kMapFitImages normal training images and kept in the model as
// "patch_density" (location, precision), scores each patch; a pixel's map value is the mean
// score of the patches that cover it.
#include "anomaly/gaussian_density.h"
#include "anomaly/methods/backbone.h"
#include "data/defects.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr int64_t kClasses = 3;         // normal, cutpaste, scar
constexpr int64_t kMapFitImages = 100;  // normal training images whose patches fit the map's gde
constexpr int64_t kMapChunk = 8;        // images per pass when embedding patches

// The map's Gaussian density: buffers "location" (F) and "precision" (F,F), saved in
// checkpoints and model files with the networks.
class PatchDensity final : public Module {
 public:
  explicit PatchDensity(int64_t features)
      : location_(register_buffer("location", Tensor::zeros({features}))),
        precision_(register_buffer("precision", Tensor::zeros({features, features}))) {}
  Tensor& location() { return location_; }    ///< (F)
  Tensor& precision() { return precision_; }  ///< (F,F)
  std::string type_name() const override { return "PatchDensity"; }

 private:
  Tensor& location_;
  Tensor& precision_;
};

// The top-left offsets of windows of `window` pixels every `stride` along a side of `size`,
// the last flush with the far edge.
std::vector<int64_t> window_starts(int64_t size, int64_t window, int64_t stride) {
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + window <= size; s += stride) starts.push_back(s);
  if (starts.back() + window < size) starts.push_back(size - window);
  return starts;
}

class CutPasteMethod final : public BackboneMethod {
 public:
  explicit CutPasteMethod(const MethodOptions& o) : BackboneMethod(o) {}
  std::string default_scorer() const override { return "gde"; }
  bool gives_maps() const override { return true; }

  std::vector<std::string> head_classes(const BenchmarkSplit&) const override {
    return {"normal", "cutpaste", "scar"};
  }

  std::vector<NamedNetwork> networks() const override {
    std::vector<NamedNetwork> out = BackboneMethod::networks();
    if (density_) out.emplace_back("patch_density", density_.get());
    return out;
  }

  void build_untrained(const nlohmann::json& architecture) override {
    BackboneMethod::build_untrained(architecture);
    density_ = std::make_shared<PatchDensity>(feature_dim());
  }

  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;
  AnomalyMaps maps(const ImageDataset& data) const override;

 protected:
  std::shared_ptr<MarginHead> make_head(int64_t features, int64_t classes,
                                        Generator& gen) const override {
    return std::make_shared<SoftmaxHead>(features, classes, gen);
  }

 private:
  // Every patch of each image of x (n,C,H,W) preprocessed: windows `tops` × `lefts` of
  // `window` pixels, each resized to H×W; rows ordered window by window (window p of image
  // i at row p·n + i). Returns their features (P·n,F), eval mode, no gradients.
  Tensor patch_features(const Tensor& x, const std::vector<int64_t>& tops,
                        const std::vector<int64_t>& lefts, int64_t wh, int64_t ww) const {
    const Tensor images = x.contiguous();
    const int64_t h = images.size(2), w = images.size(3);
    std::vector<Tensor> crops;
    for (const int64_t top : tops)
      for (const int64_t left : lefts) crops.push_back(resized_crop(images, top, left, wh, ww, h, w));
    return forward_features(Variable(cat(crops, 0).to_channels_last())).data();
  }

  // The windows for images of h×w pixels: starts along rows and columns and the window size.
  struct Windows {
    std::vector<int64_t> tops, lefts;
    int64_t height, width;
  };
  static Windows windows(int64_t h, int64_t w) {
    Windows win;
    win.height = std::max<int64_t>(1, h / 4);
    win.width = std::max<int64_t>(1, w / 4);
    win.tops = window_starts(h, win.height, std::max<int64_t>(1, h / 8));
    win.lefts = window_starts(w, win.width, std::max<int64_t>(1, w / 8));
    return win;
  }

  // Fits the map's density on the patches of the first kMapFitImages normal images.
  void fit_patch_density(const ImageDataset& normal) {
    NoGradGuard no_grad;
    network().eval();
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < std::min(normal.size(), kMapFitImages); ++i) idx.push_back(i);
    std::vector<Tensor> parts;
    for_each_chunk(normal.subset(idx), kMapChunk, [&](const Tensor& x) {
      const Windows win = windows(x.size(2), x.size(3));
      parts.push_back(patch_features(x, win.tops, win.lefts, win.height, win.width));
    });
    GaussianDensityScorer gde;
    gde.fit(cat(parts, 0));
    const std::map<std::string, Tensor> state = gde.state_dict();
    density_ = std::make_shared<PatchDensity>(feature_dim());
    density_->location() = state.at("location").contiguous();
    density_->precision() = state.at("precision").contiguous();
  }

  std::shared_ptr<PatchDensity> density_;
};

void CutPasteMethod::train(const BenchmarkSplit& split, uint64_t seed,
                           const ProgressFn& progress) {
  KZ_CHECK(!split.normal_train.table, "method",
           "cutpaste cuts and pastes patches of images; a table has none");
  density_ = nullptr;  // fitted after training: not part of the checkpoints
  build_backbone(seed, split.normal_train);
  MethodOptions per_step = options_;  // images per step, each with its two defective copies
  per_step.batch_size = std::max<int64_t>(1, options_.batch_size / kClasses);
  // A last batch of one image is still three rows: batch norm trains on it.
  const Scaling scaling = options_.preprocess.scaling;
  const DefectFn paste = [](const Tensor& image, Generator& g) { return cut_paste(image, g); };
  const DefectFn scar = [](const Tensor& image, Generator& g) { return cut_paste_scar(image, g); };
  // Each batch of n images: the n normal (class 0), n with a pasted patch (1), n scarred (2).
  const HeadBatchFn three_ways = [&](const Batch& batch, Generator& draw) {
    const int64_t n = batch.images.size(0);
    const Tensor x = batch.images.contiguous();
    const DefectBatch pasted = defect_batch(x, scaling, paste, draw);
    const DefectBatch scarred = defect_batch(x, scaling, scar, draw);
    HeadBatch rows{cat({x, pasted.images, scarred.images}, 0).to_channels_last(), {}};
    for (int64_t k = 0; k < kClasses; ++k) rows.labels.insert(rows.labels.end(), n, k);
    return rows;
  };
  train_head(split, split.normal_train, loader_options(per_step, seed, 0), kClasses, seed,
             progress, three_ways);
  fit_patch_density(split.normal_train);
}

// data (N images) -> maps (N,H,W) at the preprocessed size.
AnomalyMaps CutPasteMethod::maps(const ImageDataset& data) const {
  KZ_CHECK(density_ != nullptr && (backbone_ != nullptr || mlp_ != nullptr), "maps",
           "the method '{}' has not been trained", name());
  KZ_CHECK(data.size() > 0, "maps", "{}: no images", data.source);
  GaussianDensityScorer gde;
  gde.load_state_dict({{"location", density_->location()}, {"precision", density_->precision()}});
  NoGradGuard no_grad;
  network().eval();
  std::vector<Tensor> parts;
  for_each_chunk(data, kMapChunk, [&](const Tensor& x) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    const Windows win = windows(h, w);
    const std::vector<float> s =
        gde.score(patch_features(x, win.tops, win.lefts, win.height, win.width)).to_vector();
    Tensor sum = Tensor::zeros({n, h, w}), count = Tensor::zeros({h, w});
    int64_t p = 0;
    for (const int64_t top : win.tops)
      for (const int64_t left : win.lefts) {
        for (int64_t y = top; y < top + win.height; ++y)
          for (int64_t c = left; c < left + win.width; ++c) {
            count.data()[y * w + c] += 1.0f;
            for (int64_t i = 0; i < n; ++i)
              sum.data()[(i * h + y) * w + c] += s[static_cast<size_t>(p * n + i)];
          }
        ++p;
      }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < h * w; ++j) sum.data()[i * h * w + j] /= count.data()[j];
    parts.push_back(sum);
  });
  return {cat(parts, 0), Tensor()};
}

}  // namespace

std::unique_ptr<Method> make_cutpaste(const MethodOptions& o) {
  return std::make_unique<CutPasteMethod>(o);
}

}  // namespace kz
