/// \file
/// transforms.h — image preprocessing and augmentation on float tensors.
///
/// Shape letters: N images, C channels, H×W input size, OH×OW output size. Inputs are (N,C,H,W)
/// float tensors of pixel values 0..255 (ImageDataset::to_tensor); outputs are fresh
/// contiguous tensors. The deterministic steps (resize, grey→RGB, scaling) run once per data
/// set and are cached by the DataLoader (data/loader.h); the random ones (flip, crop) run per
/// batch with an explicit Generator.
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

}  // namespace kz
