/// \file
/// occlusion.h — occlusion maps (the idea of Ano-Unet V2) for any trained detector: slide a
/// mask over the image, fill the masked square — with the mean normal training image
/// (`--inpaint mean`) or the prediction of a partial-convolution U-Net trained on the normal
/// images (`--inpaint unet`, anomaly/inpainter.h) — score the filled image with the
/// detector, and write the score drop where the mask was.
///
/// \code{.unparsed}
///   drop_p   = score(x) − score(x with square p filled)        (one per mask position p)
///   map(y,x) = mean of drop_p over the positions p whose square covers (y,x)
/// \endcode
/// A high value: hiding that place made the image look normal, so the anomaly is there.
/// Positions: a size×size square with its corner at every (oy, ox) of occlusion_offsets; the
/// last offset of a side is n − size, so every pixel is covered by at least one square.
/// Shapes: N images, C channels, H×W pixels; images are ImageDataset bytes (0…255).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "anomaly/inpainter.h"
#include "data/dataset.h"
#include "tensor/tensor.h"

namespace kz {

/// How occlusion slides and fills its mask.
struct OcclusionOptions {
  int64_t size = 8;            ///< the square mask's side in pixels, 1 … min(H, W)
  int64_t stride = 4;          ///< its step in pixels, 1 … size (larger would leave gaps)
  /// what fills the square: "mean", the mean normal image, or "unet", the inpainter's
  /// prediction
  std::string inpaint = "mean";
  InpainterOptions unet;       ///< how `--inpaint unet`'s inpainter trains (where it does)
};

/// Throws unless size ≥ 1, 1 ≤ stride ≤ size and inpaint is "mean" or "unet"; `where` starts
/// the message.
void check_occlusion_options(const OcclusionOptions& options, const std::string& where);

/// The mask corners along a side of n pixels: 0, stride, 2·stride, … while the mask fits,
/// and n − size last when those leave the end uncovered. size > n throws.
std::vector<int64_t> occlusion_offsets(int64_t n, int64_t size, int64_t stride);

/// A detector's anomaly scores of a data set's images, one per image, higher = more
/// anomalous.
using ImageScoreFn = std::function<std::vector<double>(const ImageDataset&)>;

/// Fills, in place, copy k's size×size square with its corner at corners[k] (one corner per
/// copy of `copies`).
using OcclusionFillFn =
    std::function<void(ImageDataset& copies, const std::vector<Square>& corners, int64_t size)>;

/// Occlusion maps (N,H,W) of `images` (see the file's description): `fill` fills the squares
/// of each image's copies; `score` scores each image with all its filled copies in one call.
/// options.inpaint is not read (the fill is given). A table, or a score of the wrong length
/// throws.
Tensor occlusion_maps(const ImageDataset& images, const OcclusionFillFn& fill,
                      const OcclusionOptions& options, const ImageScoreFn& score);

/// The same with the squares filled by `fill` (C,H,W), pixel values 0…255 (rounded to
/// bytes): the mean image's fill. A fill of another shape throws.
Tensor occlusion_maps(const ImageDataset& images, const Tensor& fill,
                      const OcclusionOptions& options, const ImageScoreFn& score);

/// The fill of `--inpaint unet`: the squares become `inpainter`'s prediction (the images must
/// have its channels and size).
OcclusionFillFn inpainter_fill(std::shared_ptr<const Inpainter> inpainter);

/// The mean image (C,H,W) of a data set's images, pixel values 0…255; an empty one throws.
Tensor mean_image(const ImageDataset& images);

/// The images resized to height×width (bilinear, as preprocess(), rounded to bytes); the
/// same data set when it already has that size.
ImageDataset resize_images(const ImageDataset& images, int64_t height, int64_t width);

}  // namespace kz
