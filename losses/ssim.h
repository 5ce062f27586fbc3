/// \file
/// ssim.h — structural similarity (Wang et al.\ 2004,
/// "Image Quality Assessment: From Error Visibility to Structural Similarity") as a
/// differentiable op: the loss and the score of the SSIM autoencoder (Bergmann et al.\ 2018).
///
/// Shapes: x and y are (N,C,H,W) images (contiguous NCHW or channels-last); w is the window
/// size (odd), r = (w−1)/2 its radius.
///
/// Per channel, with g the normalised Gaussian window (g[i,j] ∝ exp(−((i−r)² + (j−r)²)/2σ²),
/// Σ g = 1; separable: the outer product of its 1-D factor) and ∗ filtering with it:
/// \code{.unparsed}
///   μx = g∗x,  μy = g∗y,
///   σx² = g∗x² − μx²,  σy² = g∗y² − μy²,  σxy = g∗(x·y) − μx·μy   (population moments)
///   C1 = (k1·L)²,  C2 = (k2·L)²,  L the data range (1 for pixels in [0,1], 255 for bytes)
///   SSIM = ((2μxμy + C1)(2σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))
/// \endcode
/// SSIM is 1 where x = y, symmetric in x and y, and in [−1, 1].
///
/// Borders: the map has the image's size, H×W. Before filtering, x and y are mirrored by r
/// pixels with the edge pixel repeated (d c b a | a b c d: scipy.ndimage's mode='reflect',
/// pad2d_symmetric in autograd/functions.h). With the 11×11 window that is exactly
/// scikit-image's full map (structural_similarity(..., gaussian_weights=True,
/// use_sample_covariance=False, full=True) → S, which filters with scipy's Gaussian in mode
/// 'reflect'); scikit-image 0.19 always filters with 11 taps, so the 7×7 window (the
/// Gaussian cut at 2σ and renormalised) is checked against PyTorch only. Its interior —
/// the (H−w+1)×(W−w+1) positions whose window stays inside the image — does not depend on
/// the padding at all and equals the 'valid' map of tf.image.ssim and the PyTorch
/// implementations with padding 0.
///
/// The mean: ssim() averages over channels and the interior only (crop_border = true), as
/// scikit-image's mssim, tf.image.ssim and pytorch-msssim do, so its numbers compare with
/// theirs; crop_border = false averages the whole H×W map (every pixel weighs the same in a
/// training loss).
///
/// Gradients flow to x and to y (when they require them): the op is composed of autograd
/// ops — pad2d_symmetric, depthwise conv2d with the window's 1-D factor as constant weights
/// (C,1,w,1) and (C,1,1,w), and element-wise mul/add/sub/div — so their backwards give the
/// gradient.
#pragma once

#include "autograd/functions.h"

namespace kz {

/// The window, the constants and the border rule of SSIM.
struct SsimOptions {
  int64_t window = 11;       ///< odd; see ssim_default_window
  float sigma = 1.5f;        ///< of the Gaussian window, in pixels
  float data_range = 1.0f;   ///< L: max − min of the pixel values
  /// C1 = (k1·L)², C2 = (k2·L)²
  ///@{
  float k1 = 0.01f, k2 = 0.03f;
  ///@}
  bool crop_border = true;   ///< ssim(): average the interior only (scikit-image's mssim)
};

/// The window for (H,W) images: 11 (the paper's), or 7 when the smaller side is 32 px or
/// less (an 11×11 window leaves only a 22×22 interior of a 32×32 image).
int64_t ssim_default_window(int64_t height, int64_t width);

/// The window's 1-D factor, (w): g[i] ∝ exp(−(i−r)²/2σ²), Σ g = 1. The 2-D window is the
/// outer product g[i]·g[j]; the op filters with it separably (down the columns, then along
/// the rows), as scipy's gaussian_filter does.
Tensor ssim_window(int64_t window, float sigma);

/// x, y (N,C,H,W) -> the SSIM map (N,C,H,W); channels-last when x and y are, else contiguous.
Variable ssim_map(const Variable& x, const Variable& y, const SsimOptions& options = {});

/// x, y (N,C,H,W) -> (N): each image's mean SSIM over channels and the interior
/// (H−w+1)×(W−w+1) (the whole H×W with crop_border = false). The SSIM autoencoder's
/// per-image anomaly score is 1 − ssim(x, x̂).
Variable ssim(const Variable& x, const Variable& y, const SsimOptions& options = {});

/// x̂, x (N,C,H,W) -> scalar: the SSIM autoencoder's training loss, the structural
/// dissimilarity summed over channels and pixels and averaged over images,
/// (1/N) Σ_{n,c,h,w} (1 − SSIM map(x̂, x)) — every pixel, whatever options.crop_border says.
Variable ssim_loss(const Variable& reconstruction, const Variable& x,
                   const SsimOptions& options = {});

/// x, y (N,C,H,W) -> (N,H,W): the map averaged over channels. 1 − it is the anomaly map.
Variable ssim_pixel_map(const Variable& x, const Variable& y, const SsimOptions& options = {});

}  // namespace kz
