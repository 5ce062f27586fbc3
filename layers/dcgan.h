/// \file
/// dcgan.h — the DCGAN generator and discriminator of anogan (Radford et al. 2016, as
/// Schlegl et al. 2017 use them), for square images of any size ≥ 8 (28 and 32 px in the
/// presets).
///
/// Shapes: z (N,d); images (N,C,H,H) in [−1, 1]; S = 3 stages; s_3 = H, s_{i−1} = ⌊s_i/2⌋
/// (28 → 14 → 7 → 3, 32 → 16 → 8 → 4); w the base width (64).
/// \code{.unparsed}
///   DcganGenerator      z viewed as (N,d,1,1); features:
///                       ConvTranspose2d(d → 4w, k s_0, stride 1) – BatchNorm2d – ReLU  → s_0
///                       ConvTranspose2d(4w → 2w, k 4, s 2, p 1, output_padding s_1 − 2s_0)
///                         – BatchNorm2d – ReLU                                       → s_1
///                       ConvTranspose2d(2w → w, …) – BatchNorm2d – ReLU              → s_2
///                       ConvTranspose2d(w → C, …)                                    → H
///                       then tanh: (N,C,H,H) in [−1, 1]
///   DcganDiscriminator  features: Conv2d(C → w, k 4, s 2, p 1) – LeakyReLU(0.2),
///                       Conv2d(w → 2w, …) – BatchNorm2d – LeakyReLU(0.2),
///                       Conv2d(2w → 4w, …) – BatchNorm2d – LeakyReLU(0.2)  → f (N,4w,s_0,s_0)
///                       classifier: Conv2d(4w → 1, k s_0)  → (N) logit, real > 0
/// \endcode
/// f, the last feature map, is the "intermediate layer" of anogan's discrimination loss.
/// Parameters drawn as PyTorch's defaults for the same layers; their names are PyTorch's for
/// the same nn.Module tree ("features.0.weight", "classifier.weight", …), so
/// tests/fixtures/make_gan.py and scripts/generative_torch.py load them.
#pragma once

#include <memory>

#include "layers/module.h"
#include "layers/sequential.h"

namespace kz {

/// The DCGAN architecture (see the file's description).
struct DcganOptions {
  int64_t channels = 1;     ///< C
  int64_t image_size = 28;  ///< H = W, at least 8
  int64_t latent_dim = 100; ///< d
  int64_t width = 64;       ///< w
};

/// z (N,d) -> images (N,C,H,H) in [−1, 1].
class DcganGenerator : public Module {
 public:
  DcganGenerator(const DcganOptions& o, Generator& gen);  ///< PyTorch's default init
  Variable forward(const Variable& z) override;           ///< (N,d) -> (N,C,H,H)
  std::string type_name() const override { return "DcganGenerator"; }

 private:
  DcganOptions options_;
  std::shared_ptr<Sequential> features_;
};

/// images (N,C,H,H) -> a logit per image; features() gives the intermediate map f.
class DcganDiscriminator : public Module {
 public:
  DcganDiscriminator(const DcganOptions& o, Generator& gen);  ///< PyTorch's default init
  Variable forward(const Variable& x) override;               ///< (N,C,H,H) -> (N) logits
  Variable features(const Variable& x);  ///< (N,C,H,H) -> f (N,4w,s_0,s_0)
  /// The logits of features f (forward(x) = logits(features(x))).
  Variable logits(const Variable& f);
  std::string type_name() const override { return "DcganDiscriminator"; }

 private:
  DcganOptions options_;
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Module> classifier_;
};

}  // namespace kz
