/// \file
/// map_kinds.h — anomaly maps of any kind for a trained detector: the method's own
/// (reconstruction errors), Grad-CAM (anomaly/gradcam.h) or occlusion (anomaly/occlusion.h),
/// and how well a map points at a known defect (pixel-level AUROC against masks).
///
/// Every kind gives maps (N,H,W) at the method's preprocessed size H×W, higher = more
/// anomalous. What each needs besides the method:
/// \code{.unparsed}
///   own        the method's maps() (ae, vae, ssim-ae, cutpaste, adae, anogan)
///   gradcam    normal_features: method.embed() of the normal training images (an embedding
///              method; deepsad explains its own score and needs none)
///   occlusion  mean_image: the mean normal training image at H×W; score: the detector's;
///              with --inpaint unet also inpainter: the U-Net trained on the normal images
/// \endcode
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "anomaly/method.h"
#include "anomaly/occlusion.h"

namespace kz {

struct AnomalyModel;

/// Which maps: the method's own, Grad-CAM of its features, or occlusion of its score.
enum class MapKind { own, gradcam, occlusion };
const char* to_string(MapKind kind);  ///< "own", "gradcam", "occlusion"
/// "own", "gradcam" or "occlusion"; anything else throws, `where` starting the message.
MapKind parse_map_kind(const std::string& text, const std::string& where);

/// A trained detector, as the map kinds see it (see the file's description).
struct MapSource {
  const Method* method = nullptr;  ///< the trained method
  ImageScoreFn score;              ///< the detector's anomaly scores (occlusion)
  Tensor normal_features;          ///< (M,F), for gradcam; undefined when it has none
  Tensor mean_image;               ///< (C,H,W) pixel values 0…255, for occlusion
  OcclusionOptions occlusion;      ///< mask size, stride and fill
  /// The trained inpainter of occlusion.inpaint "unet" (anomaly/inpainter.h); null: none.
  std::shared_ptr<const Inpainter> inpainter;
};

/// Whether `source` can give maps of `kind` (own: method.gives_maps(); gradcam: an embedding
/// method on a MobileNetV2 with normal_features, or deepsad; occlusion: a score and a mean
/// image, and with occlusion.inpaint "unet" an inpainter).
bool gives_map_kind(const MapSource& source, MapKind kind);

/// The maps (N,H,W) of `kind` for `images` (any size: they are resized to the method's
/// preprocessed size first). A kind the source cannot give throws, saying which it can.
Tensor detector_maps(const MapSource& source, MapKind kind, const ImageDataset& images);

/// Pixel-level AUROC (anomaly/roc.h pixel_auroc) of `kind` maps of `images` against their
/// defect masks (N,H',W'), 1 on defect pixels: the maps are resized (bilinear) to the masks'
/// size when it differs. The experiment that pastes synthetic defects calls this.
double map_pixel_auroc(const MapSource& source, MapKind kind, const ImageDataset& images,
                       const Tensor& masks);

/// The MapSource of a model file's detector (anomaly/model_file.h): its method, its score
/// (scaler, scorer, test-time augmentation, or the scoring method's score), and the normal
/// features, mean image and inpainter it was saved with.
MapSource map_source(const AnomalyModel& model, const OcclusionOptions& occlusion);

}  // namespace kz
