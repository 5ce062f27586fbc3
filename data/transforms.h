/// \file
/// transforms.h — image preprocessing and augmentation on float tensors.
///
/// Shape letters: N images, C channels, H×W input size, OH×OW output size. Inputs are (N,C,H,W)
/// float tensors of pixel values 0..255 (ImageDataset::to_tensor); outputs are fresh
/// contiguous tensors. The deterministic steps (resize, grey→RGB, scaling) run once per data
/// set and are cached by the DataLoader (data/loader.h); the random ones (flip, crop, and
/// the contrastive methods' resized crop, colour jitter, greying and blur) run per batch
/// with an explicit Generator.
///
/// The contrastive augmentations (SimCLR's, used by Mean-Shifted Contrastive learning) follow
/// torchvision 0.14 on float tensors, with pixel values 0..255 where torchvision has 0..1
/// (so its clamps to [0, 1] are clamps to [0, 255] here). Each has a deterministic core with
/// its parameters given (checked against torchvision.transforms.functional by
/// tests/fixtures/make_transforms_aug.py) and a random version that draws, per image, the
/// parameters torchvision's transform class draws, from the Generator passed in.
///
/// Resize is PyTorch's bilinear: F.interpolate(x, size=(OH,OW), mode="bilinear",
/// align_corners=False, antialias=False), the torchvision default for tensors before 0.17.
/// For output pixel i along a dimension of input size S and output size O:
/// \code{.unparsed}
///   src = max((i + 0.5)·S/O − 0.5, 0);  i0 = floor(src);  i1 = min(i0 + 1, S − 1);
///   λ = src − i0;  out = (1−λ)·x[i0] + λ·x[i1]        (separably: columns, then rows)
/// \endcode
/// in float32, in PyTorch's order of operations. Without antialiasing, shrinking by more
/// than 2× skips input pixels (as PyTorch); the benchmark only enlarges (28 or 32 → 96).
/// (OpenCV's INTER_LINEAR uses the same source coordinates but 11-bit fixed-point weights
/// for 8-bit images, so it differs from this by up to about one grey level.)
#pragma once

#include <cstdint>
#include <string>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace kz {

/// How pixel values 0..255 are mapped for the network.
enum class Scaling {
  none,       ///< 0..255 as they are
  unit,       ///< x/255 in [0, 1] — the seed's choice (torchvision ToTensor)
  symmetric,  ///< x/127.5 − 1 in [−1, 1] — TensorFlow/Keras MobileNetV2 weights
  imagenet,   ///< (x/255 − mean)/std per channel, mean (0.485, 0.456, 0.406),
              ///< std (0.229, 0.224, 0.225) — torchvision's ImageNet weights; needs C = 3
};
const char* scaling_name(Scaling s);                ///< "none", "unit", "symmetric", "imagenet"
Scaling parse_scaling(const std::string& name);     ///< the inverse; throws on an unknown name

/// Bilinear resize of one H×W plane into an OH×OW one (PyTorch semantics, see above).
/// src is (H,W), dst is (OH,OW), both contiguous.
void resize_bilinear_plane(const float* src, int64_t h, int64_t w, float* dst, int64_t oh,
                           int64_t ow);
/// x is (N,C,H,W) -> (N,C,OH,OW).
Tensor resize_bilinear(const Tensor& x, int64_t oh, int64_t ow);

/// x is (N,1,H,W) -> (N,3,H,W), the grey plane copied into R, G and B; (N,3,H,W) is returned
/// unchanged. Any other C is an error.
Tensor grey_to_rgb(const Tensor& x);

/// Applies a scaling preset in place. x is (N,C,H,W) of pixel values 0..255.
void scale_pixels_(Tensor& x, Scaling s);

/// Each image mirrored left–right with probability p (one gen.uniform() per image).
/// x is (N,C,H,W) -> (N,C,H,W).
Tensor random_horizontal_flip(const Tensor& x, Generator& gen, float p = 0.5f);

/// torchvision RandomCrop(size=(H,W), padding=P): each image is padded by P zero pixels on
/// every side and an H×W window is cut at a uniformly drawn offset (top, then left, each
/// gen.below(2P+1)). x is (N,C,H,W) -> (N,C,H,W). P = 0 returns a copy.
Tensor random_crop(const Tensor& x, int64_t padding, Generator& gen);

// --- the contrastive augmentations: deterministic cores -------------------------------------
/// Each: x is (N,C,H,W) pixel values 0..255, C = 1 or 3, the same parameters for every image.

/// F.resized_crop(x, top, left, height, width, (OH,OW), bilinear, antialias=None → False in
/// 0.14): the window rows [top, top+height), columns [left, left+width) (inside the image),
/// resized by resize_bilinear. -> (N,C,OH,OW).
Tensor resized_crop(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width,
                    int64_t oh, int64_t ow);

/// F.rgb_to_grayscale: L = 0.2989 R + 0.587 G + 0.114 B (ITU-R 601-2 luma, float32 in that
/// order), copied into `channels` (1 or 3) planes. A grey image (C = 1) is returned as it is
/// (or copied into 3 planes). -> (N,channels,H,W).
Tensor rgb_to_grayscale(const Tensor& x, int64_t channels);

/// F.adjust_brightness: out = clamp(f·x, 0, 255); f >= 0.
Tensor adjust_brightness(const Tensor& x, float factor);
/// F.adjust_contrast: out = clamp(f·x + (1−f)·m, 0, 255), m the mean of the image's luma
/// (of its one plane when grey), per image; f >= 0.
Tensor adjust_contrast(const Tensor& x, float factor);
/// F.adjust_saturation: out = clamp(f·x + (1−f)·L, 0, 255), L the pixel's luma; f >= 0. A grey
/// image is returned unchanged.
Tensor adjust_saturation(const Tensor& x, float factor);
/// F.adjust_hue: in HSV (torchvision's _rgb2hsv of x/255), h ← (h + hue) mod 1, back to RGB
/// (_hsv2rgb) and ×255; hue in [−0.5, 0.5]. A grey image is returned unchanged.
Tensor adjust_hue(const Tensor& x, float hue);

/// F.gaussian_blur(x, [k, k], [σ, σ]): the kernel g_i = exp(−(i − (k−1)/2)² / (2σ²)) / Σ g,
/// i = 0 … k−1, applied along rows and columns (the 2-D kernel g gᵀ) with reflect padding
/// (x[−1] = x[1]); k odd, positive and at most 2·min(H,W) − 1; σ > 0.
Tensor gaussian_blur(const Tensor& x, int64_t kernel_size, float sigma);

// --- the contrastive augmentations: random versions (per image, from gen) ------------------

/// A crop window (rows [top, top+height), columns [left, left+width)).
struct CropBox {
  /// In pixels.
  ///@{
  int64_t top = 0, left = 0, height = 0, width = 0;
  ///@}
};
/// RandomResizedCrop.get_params for an H×W image: up to 10 attempts of area fraction
/// s ~ U(scale_lo, scale_hi) and aspect ratio r = exp(U(ln ratio_lo, ln ratio_hi)), with
/// width = round(√(s·H·W·r)), height = round(√(s·H·W / r)) (round half to even, as Python);
/// the first that fits is placed at top ~ U{0 … H−height}, left ~ U{0 … W−width}. Otherwise
/// the centred crop of the whole image, its aspect ratio clamped to [ratio_lo, ratio_hi].
CropBox random_resized_crop_box(int64_t h, int64_t w, Generator& gen, float scale_lo = 0.08f,
                                float scale_hi = 1.0f, float ratio_lo = 3.0f / 4.0f,
                                float ratio_hi = 4.0f / 3.0f);
/// RandomResizedCrop((OH,OW), scale, ratio): each image cropped by its own box and resized.
/// x is (N,C,H,W) -> (N,C,OH,OW).
Tensor random_resized_crop(const Tensor& x, int64_t oh, int64_t ow, Generator& gen,
                           float scale_lo = 0.08f, float scale_hi = 1.0f,
                           float ratio_lo = 3.0f / 4.0f, float ratio_hi = 4.0f / 3.0f);

/// ColorJitter(brightness, contrast, saturation, hue): factors drawn from
/// U(max(0, 1−b), 1+b), U(max(0, 1−c), 1+c), U(max(0, 1−s), 1+s) and U(−h, h) (a zero
/// strength leaves that step out and draws nothing).
struct ColorJitterOptions {
  /// The strengths b, c, s, h (defaults: SimCLR's).
  ///@{
  float brightness = 0.4f, contrast = 0.4f, saturation = 0.4f, hue = 0.1f;
  ///@}
};
/// RandomApply([ColorJitter(o)], p): per image, one gen.uniform() < p decides; then the order
/// of the four steps is random_permutation(4, gen) (torch.randperm(4)), then the factors in
/// the order brightness, contrast, saturation, hue, and the steps run in the drawn order.
/// x is (N,C,H,W) -> (N,C,H,W).
Tensor random_color_jitter(const Tensor& x, const ColorJitterOptions& o, Generator& gen,
                           float p = 1.0f);

/// RandomGrayscale(p): each image replaced by its luma in every channel when gen.uniform() < p.
Tensor random_grayscale(const Tensor& x, Generator& gen, float p = 0.1f);

/// RandomApply([GaussianBlur(k, (σ_lo, σ_hi))], p): when gen.uniform() < p, the image is
/// blurred with σ ~ U(σ_lo, σ_hi).
Tensor random_gaussian_blur(const Tensor& x, int64_t kernel_size, Generator& gen,
                            float sigma_lo = 0.1f, float sigma_hi = 2.0f, float p = 1.0f);

}  // namespace kz
