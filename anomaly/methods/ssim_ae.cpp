// ssim_ae.cpp — the SSIM autoencoder (Bergmann et al. 2018, "Improving Unsupervised Defect
// Segmentation by Applying Structural Similarity to Autoencoders"), a scoring method.
//
// The convolutional autoencoder of ae.cpp, trained with the structural dissimilarity
// instead of the squared error: loss = (1/N) Σ_images Σ_{c,pixels} (1 − SSIM(x, x̂)), the
// SSIM map with a Gaussian window (σ 1.5; 7×7 for images of 32 px or less, else 11×11),
// C1 = (0.01·L)², C2 = (0.03·L)², L = 1 (losses/ssim.h). SSIM compares local means,
// variances and covariance, so a small defect that changes the structure of a patch
// counts even where its squared error is small.
//   score "ssim"      the mean of 1 − SSIM over the image (all H×W pixels and channels)
//   score "ssim-max"  the largest mean of 1 − SSIM (averaged over channels) in any 3×3
//                     patch: a small defect is not averaged away by the rest of the image
//   map               1 − SSIM averaged over channels, per pixel
#include <limits>

#include "anomaly/methods/reconstruction.h"
#include "losses/ssim.h"
#include "tensor/ops.h"

namespace kz {

namespace {

Variable one_minus(const Variable& v) { return add(neg(v), 1.0f); }

// The largest 3×3 patch mean of each map (N,H,W) -> (N); patches lie inside the map.
Tensor max_patch_mean(const Tensor& maps) {
  const Tensor m = maps.contiguous();
  const int64_t n = m.size(0), h = m.size(1), w = m.size(2);
  Tensor out = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) {
    const float* p = m.data() + i * h * w;
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t y = 0; y + 3 <= h; ++y)
      for (int64_t x = 0; x + 3 <= w; ++x) {
        float s = 0.0f;
        for (int64_t dy = 0; dy < 3; ++dy)
          for (int64_t dx = 0; dx < 3; ++dx) s += p[(y + dy) * w + x + dx];
        best = std::max(best, s / 9.0f);
      }
    out.data()[i] = best;
  }
  return out;
}

class SsimAutoencoderMethod final : public ReconstructionMethod {
 public:
  explicit SsimAutoencoderMethod(const MethodOptions& o) : ReconstructionMethod(o) {}
  std::vector<std::string> score_names() const override { return {"ssim", "ssim-max"}; }

 protected:
  std::shared_ptr<Module> make_network(const ConvAutoencoderOptions& o,
                                       Generator& gen) const override {
    return std::make_shared<ConvAutoencoder>(o, gen);
  }
  SsimOptions ssim_options() const {
    SsimOptions s;
    s.window = ssim_default_window(net_options_.image_size, net_options_.image_size);
    s.crop_border = false;  // every pixel counts, in the loss and in the scores
    return s;
  }
  Variable batch_loss(const Tensor& x, Generator&) const override {
    return ssim_loss(net_->forward(Variable(x)), Variable(x), ssim_options());
  }
  std::vector<Tensor> batch_scores(const Tensor& x, int64_t) const override {
    const Variable xh = net_->forward(Variable(x));
    const Tensor dissimilarity = one_minus(ssim_pixel_map(xh, Variable(x), ssim_options())).data();
    return {kz::mean(dissimilarity, {1, 2}), max_patch_mean(dissimilarity)};
  }
  AnomalyMaps batch_maps(const Tensor& x) const override {
    const Variable xh = net_->forward(Variable(x));
    return {one_minus(ssim_pixel_map(xh, Variable(x), ssim_options())).data(), xh.data()};
  }
};

}  // namespace

std::unique_ptr<Method> make_ssim_ae(const MethodOptions& o) {
  return std::make_unique<SsimAutoencoderMethod>(o);
}

}  // namespace kz
