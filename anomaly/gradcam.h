/// \file
/// gradcam.h — Grad-CAM maps (Selvaraju et al. 2017) for the methods that give one number per
/// image from a MobileNetV2 backbone: where in the image the anomaly score comes from.
///
/// The score of an image: for an embedding method the cosine distance of its pooled backbone
/// feature f to the nearest normal training feature, s = 1 − max_j cos(f, t_j); for a scoring
/// method whose score is a differentiable function of f (BackboneMethod::feature_score:
/// deepsad's ‖φ(f) − c‖²) that score. With A (K,h,w) the output of
/// a block of the backbone's features (features.B), the map is
/// \code{.unparsed}
///   w_k = mean over (y,x) of ∂s/∂A_k(y,x)        (the channel weights)
///   map = bilinear upsample of ReLU(Σ_k w_k A_k) from h×w to the image size
/// \endcode
/// ∂s/∂A comes from autograd through features.B+1 … 18, the pooling and the score
/// (anomaly/gradcam.cpp); tests/fixtures/make_gradcam.py computes the same in PyTorch.
///
/// Which block: the last one (features.18) unless its output is smaller than 2×2, else the
/// last whose output is at least 2×2 (features.13 at 32×32 input, output stride 16). Two
/// properties of this score decide that: at 1×1 the map is 0 everywhere, and at features.18
/// the map before the ReLU sums to 0 over the positions (s depends on A only through f =
/// mean A and does not change when f is scaled, so Σ_k (∂s/∂f_k) f_k = 0): the map shows
/// where the image is more anomalous than its own average, not how anomalous it is. Shapes: N images, C channels, H×W the preprocessed size, F features,
/// M normal training features.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "anomaly/method.h"
#include "layers/mobilenet_v2.h"

namespace kz {

/// s_i = 1 − max_j cos(features_i, normal_j) for features (N,F) and normal features (M,F),
/// differentiable in `features` (the gradient goes to the nearest normal feature's term). A
/// feature of norm below 1e-12 is divided by 1e-12, as PyTorch's F.normalize. Gives (N).
Variable nearest_cosine_distance(const Variable& features, const Tensor& normal);

/// A differentiable score of pooled backbone features (N,F) → (N), higher = more anomalous.
using FeatureScoreFn = std::function<Variable(const Variable&)>;

/// Grad-CAM maps of a batch and the score they explain.
struct GradCam {
  Tensor maps;    ///< (N,out_h,out_w), ≥ 0
  Tensor scores;  ///< (N), the score of the pooled features
  Tensor gradient;    ///< (N,K,h,w) ∂score/∂A, image by image
  int64_t block = 0;  ///< the block whose output A is (features.block)
};

/// Grad-CAM of `score` for images x (N,C,H,W), already preprocessed as the backbone wants,
/// the maps upsampled to out_h×out_w, of the output of features.`block` (−1: the file's
/// choice; else 0 … 18). Runs the backbone in eval mode (and leaves it so); its parameters
/// get no gradients.
GradCam gradcam(MobileNetV2& backbone, const Tensor& x, const FeatureScoreFn& score,
                int64_t out_h, int64_t out_w, int64_t block = -1);
/// The same for nearest_cosine_distance against normal features (M,F).
GradCam gradcam(MobileNetV2& backbone, const Tensor& x, const Tensor& normal, int64_t out_h,
                int64_t out_w, int64_t block = -1);

/// The block gradcam() takes for block −1, given each block's output size (h, w) in order.
int64_t gradcam_block(const std::vector<std::pair<int64_t, int64_t>>& sizes);

/// The Grad-CAM maps (N,H,W) of a data set's images at the method's preprocessed size, in
/// chunks of 64 images. `method` must be gives_gradcam(); anything else throws naming it.
/// normal_features (M,F): method.embed() of the normal training images (embedding methods;
/// a scoring method explains its own score and takes an undefined tensor).
Tensor gradcam_maps(const Method& method, const ImageDataset& data, const Tensor& normal_features);

/// Whether gradcam_maps takes `method`: a trained method on a MobileNetV2 backbone, either an
/// embedding method (doc, l2softmax, arcface, adacos, frozen, panda, msc) or a scoring method
/// with a differentiable feature_score (deepsad).
bool gives_gradcam(const Method& method);
/// Whether gradcam_maps needs normal features for `method` (an embedding method).
bool gradcam_needs_normal_features(const Method& method);

}  // namespace kz
