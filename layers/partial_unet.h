/// \file
/// partial_unet.h — the inpainting network of occlusion's `--inpaint unet` (anomaly/inpainter.h):
/// Liu et al. (2018), "Image Inpainting for Irregular Holes Using Partial Convolutions", §3.3's
/// U-Net of partial convolutions (layers/partial_conv.h), shrunk for 28–32 px images, and its
/// loss (§3.4) without the terms that need VGG.
///
/// Shapes: x is (N,C,H,W) with pixels in [0, 1], M (N,1,H,W) the mask, 1 valid and 0 hole;
/// L levels of widths w_1 … w_L (default 16/32/64: 3 levels, 32 → 16 → 8 → 4 px, or 28 → 14
/// → 7 → 4); s_0 = H, s_i = ⌊(s_{i−1} − 1)/2⌋ + 1 the size after level i; e_0 = x, m_0 = M.
/// \code{.unparsed}
///   encoder, i = 1 … L:  (e_i, m_i) = PConv(e_{i−1}, m_{i−1}; k 5 pad 2 at i = 1, else k 3
///                        pad 1; stride 2) → (N,w_i,s_i,s_i), then BatchNorm2d (not at i = 1,
///                        as the paper's first layer) and ReLU
///   decoder, i = L … 1:  u = nearest-upsample(d_i) to s_{i−1} (d_L = e_L), mask likewise;
///                        (d_{i−1}, ·) = PConv(cat(u, e_{i−1}), cat(mask(u), m_{i−1}) as one
///                        mask per channel; k 3, pad 1, stride 1) → (N,w_{i−1},s_{i−1},s_{i−1})
///                        (w_0 = C), then BatchNorm2d and LeakyReLU(0.2), except at i = 1:
///                        no batch norm, no activation
///   out = d_0 (N,C,H,W)  the raw prediction; the inpainted image is M⊙x + (1 − M)⊙out
/// \endcode
/// Biases only where no batch norm follows (level 1 of the encoder, the last layer). Parameter
/// names as the PyTorch module tree of tests/fixtures/make_partial_unet.py: "enc.0.conv.weight",
/// "enc.1.bn.running_mean", "dec.0.conv.bias" (dec.j makes d_j, j = L−1 … 0).
///
/// Loss (§3.4), per-element means over N·C·H·W, M broadcast over the channels:
/// \code{.unparsed}
///   L_valid = mean(|M ⊙ (out − x_gt)|),  L_hole = mean(|(1 − M) ⊙ (out − x_gt)|)
///   L = L_valid + 6·L_hole
/// \endcode
/// The paper's perceptual (0.05), style (120) and total-variation (0.1) terms are left out:
/// the first two compare VGG-16 features, and kizuki has no VGG (nor ImageNet weights for
/// it); at 28–32 px a VGG pool3 map is 4×4 and the holes are a few pixels, so the terms
/// would say little; total variation smooths the seams of large holes, and the occlusion
/// squares here are 8 px (docs/decisions.md).
#pragma once

#include <memory>
#include <vector>

#include "layers/batch_norm.h"
#include "layers/module.h"
#include "layers/partial_conv.h"

namespace kz {

/// The U-Net's size (see the file's description).
struct PartialUNetOptions {
  int64_t channels = 1;                      ///< C of the images
  std::vector<int64_t> widths{16, 32, 64};   ///< w_1 … w_L
};

/// Liu et al.'s partial-convolution U-Net (see the file's description).
class PartialUNet : public Module {
 public:
  /// Parameters drawn from `gen` as PyTorch's nn.Conv2d defaults, in the order enc.0 …
  /// enc.L−1, then dec.L−1 … dec.0 (weight, then bias, of each). Bad sizes throw.
  PartialUNet(const PartialUNetOptions& o, Generator& gen);
  /// x (N,C,H,W) in [0, 1], mask (N,1,H,W) of 0 and 1 -> the raw prediction (N,C,H,W).
  /// H, W ≥ 2^L (every level at least 1 px) and any other size throw.
  Variable forward(const Variable& x, const Tensor& mask);
  const PartialUNetOptions& options() const { return options_; }  ///< as constructed
  std::string type_name() const override { return "PartialUNet"; }

 private:
  struct Level {
    std::shared_ptr<PartialConv2d> conv;
    std::shared_ptr<BatchNorm2d> bn;  // null where the level has none
  };
  PartialUNetOptions options_;
  std::vector<Level> enc_, dec_;  // enc_[i] makes e_{i+1}; dec_[j] makes d_j
};

/// Liu et al.'s loss without the VGG terms (see the file's description): out and target
/// (N,C,H,W), mask (N,1,H,W) of 0 and 1 -> L_valid + hole_weight·L_hole, a scalar.
/// Mismatched shapes throw.
Variable inpainting_loss(const Variable& out, const Tensor& target, const Tensor& mask,
                         float hole_weight = 6.0f);

}  // namespace kz
