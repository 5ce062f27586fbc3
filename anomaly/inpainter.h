/// \file
/// inpainter.h — occlusion's `--inpaint unet` (anomaly/occlusion.h): Liu et al.'s
/// partial-convolution U-Net (layers/partial_unet.h) trained on the normal training images to
/// fill holes, and the fill of an occlusion square with its prediction.
///
/// Training: images at the detector's input size H×W, C channels, pixels/255 in [0, 1]; each
/// image of a batch gets a fresh mask (inpainting_masks): the occlusion square (size×size) at
/// a random place, plus 0, 1 or 2 random rectangles (sides 1 … ⌈H/2⌉ by 1 … ⌈W/2⌉); Adam on
/// L_valid + 6·L_hole; the images in a new random order each epoch; everything random from
/// the Generator passed in. A batch of one image is left out (batch norm).
/// Filling: the U-Net predicts the image given the image with the square masked; the square's
/// pixels become its prediction (×255, rounded and clipped to bytes), the rest stays.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "layers/partial_unet.h"

namespace kz {

/// How an inpainter is trained (defaults: small enough for the quick preset).
struct InpainterOptions {
  std::vector<int64_t> widths{16, 32, 64};   ///< the U-Net's levels, w_1 … w_L
  int64_t epochs = 5;         ///< passes over the normal images
  int64_t batch_size = 32;    ///< images per Adam step
  double lr = 1e-3;           ///< Adam's learning rate (β 0.9, 0.999)
  int64_t mask_size = 8;      ///< the side of the square every training mask holds
  int64_t max_images = 2000;  ///< trains on the first this many normal images at most
};

/// A square hole of an occlusion copy: side `size`, top-left corner (y, x).
struct Square {
  ///@{
  /// the corner's row and column
  int64_t y = 0, x = 0;
  ///@}
};

/// Training masks (n,1,h,w), 1 valid and 0 hole (see the file's description); square is
/// clipped to min(h, w).
Tensor inpainting_masks(int64_t n, int64_t h, int64_t w, int64_t square, Generator& gen);

/// A trained partial-convolution U-Net for images of one size and channel count.
class Inpainter {
 public:
  /// An untrained network for C×height×width images (weights from `gen`).
  Inpainter(const PartialUNetOptions& net, int64_t height, int64_t width, Generator& gen);

  /// Trains one on `normal` (bytes, any count ≥ 2; tables refused) with `options`; `gen`
  /// draws the initial weights, the orders and the masks. A loss that is not finite throws.
  static std::shared_ptr<Inpainter> train(const ImageDataset& normal,
                                          const InpainterOptions& options, Generator& gen);

  /// The raw prediction (N,C,H,W) for x (N,C,H,W) in [0, 1] and mask (N,1,H,W), in eval mode,
  /// without autograd.
  Tensor predict(const Tensor& x, const Tensor& mask) const;

  /// Fills copy k's square of side `size` at corners[k] with the prediction, in place
  /// (`copies`: bytes of this inpainter's channels and size; one corner per copy).
  void fill_squares(ImageDataset& copies, const std::vector<Square>& corners,
                    int64_t size) const;

  /// {"channels", "height", "width", "widths"}: what a model file needs to rebuild it.
  nlohmann::json architecture() const;
  /// An untrained one of `architecture` (checked: a damaged file throws, naming `where`).
  static std::shared_ptr<Inpainter> from_architecture(const nlohmann::json& architecture,
                                                      const std::string& where);
  StateDict state_dict() const;  ///< the U-Net's parameters and batch-norm statistics
  void load_state_dict(const StateDict& state);  ///< strict; shapes checked
  /// the images' C, H, W
  ///@{
  int64_t channels() const { return net_->options().channels; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  ///@}
  /// The final epoch's mean training loss (0 for an untrained or loaded one).
  double final_loss() const { return final_loss_; }

 private:
  std::shared_ptr<PartialUNet> net_;
  int64_t height_, width_;
  double final_loss_ = 0.0;
};

}  // namespace kz
