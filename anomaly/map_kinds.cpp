// map_kinds.cpp — the method's own, Grad-CAM and occlusion maps behind one call, and the
// pixel-level AUROC of a kind against defect masks (see map_kinds.h).
#include "anomaly/map_kinds.h"

#include <algorithm>

#include "anomaly/gradcam.h"
#include "anomaly/model_file.h"
#include "anomaly/roc.h"
#include "tensor/ops.h"
#include "tensor/upsample.h"

namespace kz {

const char* to_string(MapKind kind) {
  switch (kind) {
    case MapKind::own: return "own";
    case MapKind::gradcam: return "gradcam";
    case MapKind::occlusion: return "occlusion";
  }
  return "?";
}

MapKind parse_map_kind(const std::string& text, const std::string& where) {
  for (const MapKind k : {MapKind::own, MapKind::gradcam, MapKind::occlusion})
    if (text == to_string(k)) return k;
  fail(where, fmt::format("unknown map kind '{}' (own, gradcam or occlusion)", text));
}

bool gives_map_kind(const MapSource& s, MapKind kind) {
  if (s.method == nullptr) return false;
  switch (kind) {
    case MapKind::own: return s.method->gives_maps();
    case MapKind::gradcam:
      return gives_gradcam(*s.method) &&
             (s.normal_features.defined() || !gradcam_needs_normal_features(*s.method));
    case MapKind::occlusion:
      return static_cast<bool>(s.score) && s.mean_image.defined() &&
             (s.occlusion.inpaint != "unet" || s.inpainter != nullptr);
  }
  return false;
}

namespace {

// Grey images as RGB (each pixel's value in all three channels) where the fill image has
// three channels: a model trained on folders (read as RGB) shown grey data-set images.
ImageDataset with_fill_channels(const ImageDataset& images, const Tensor& fill) {
  const int64_t c = fill.size(0);
  if (images.channels == c) return images;
  KZ_CHECK(images.channels == 1 && c == 3, "maps",
           "{}: {}-channel images, but the model's mean image has {} channels", images.source,
           images.channels, c);
  ImageDataset rgb = images;
  rgb.channels = 3;
  const int64_t hw = images.height * images.width;
  rgb.pixels.resize(static_cast<size_t>(images.size() * 3 * hw));
  for (int64_t n = 0; n < images.size(); ++n)
    for (int64_t k = 0; k < 3; ++k)
      std::copy_n(images.image(n), hw, rgb.pixels.begin() + (n * 3 + k) * hw);
  return rgb;
}

}  // namespace

Tensor detector_maps(const MapSource& s, MapKind kind, const ImageDataset& images) {
  KZ_CHECK(s.method != nullptr, "maps", "no method to draw maps of");
  if (!gives_map_kind(s, kind)) {
    std::vector<std::string> can;
    for (const MapKind k : {MapKind::own, MapKind::gradcam, MapKind::occlusion})
      if (gives_map_kind(s, k)) can.emplace_back(to_string(k));
    fail("maps", fmt::format("the method '{}' gives no {} maps{} (it gives: {})",
                             s.method->name(), to_string(kind),
                             kind == MapKind::gradcam
                                 ? ": Grad-CAM needs an embedding method on a MobileNetV2 "
                                   "backbone and its normal training features, or deepsad"
                             : kind == MapKind::own ? ": only ae, vae, ssim-ae, cutpaste, adae and anogan have their own"
                             : s.occlusion.inpaint == "unet" && s.inpainter == nullptr
                                 ? ": occlusion with --inpaint unet needs an inpainter trained "
                                   "on the normal images, which this detector lacks (`kizuki "
                                   "train --inpaint unet` saves one with the model)"
                                 : ": occlusion needs the detector's score and the mean normal "
                                   "image",
                             can.empty() ? std::string("none") : fmt::format("{}", fmt::join(can, ", "))));
  }
  const Preprocess& pre = s.method->options().preprocess;
  const int64_t h = pre.height > 0 ? pre.height : images.height;
  const int64_t w = pre.width > 0 ? pre.width : images.width;
  switch (kind) {
    case MapKind::own: return s.method->maps(images).maps;
    case MapKind::gradcam: return gradcam_maps(*s.method, images, s.normal_features);
    case MapKind::occlusion: {
      const ImageDataset sized = resize_images(with_fill_channels(images, s.mean_image), h, w);
      if (s.occlusion.inpaint == "unet")
        return occlusion_maps(sized, inpainter_fill(s.inpainter), s.occlusion, s.score);
      return occlusion_maps(sized, s.mean_image, s.occlusion, s.score);
    }
  }
  fail("maps", "unknown map kind");
}

double map_pixel_auroc(const MapSource& s, MapKind kind, const ImageDataset& images,
                       const Tensor& masks) {
  KZ_CHECK(masks.dim() == 3 && masks.size(0) == images.size(), "pixel_auroc",
           "masks {} for {} images: expected (N,H,W)", shape_str(masks.shape()), images.size());
  Tensor maps = detector_maps(s, kind, images);
  if (maps.size(1) != masks.size(1) || maps.size(2) != masks.size(2)) {
    Upsample2dParams p;
    p.out_h = masks.size(1);
    p.out_w = masks.size(2);
    p.mode = UpsampleMode::bilinear;
    maps = upsample2d_forward(maps.contiguous().unsqueeze(1), p)
               .contiguous()
               .reshape({masks.size(0), masks.size(1), masks.size(2)});
  }
  return pixel_auroc(maps, masks);
}

MapSource map_source(const AnomalyModel& model, const OcclusionOptions& occlusion) {
  MapSource s;
  s.method = model.method.get();
  s.score = [&model](const ImageDataset& images) { return model.score(images).score; };
  s.normal_features = model.normal_features;
  s.mean_image = model.mean_image;
  s.occlusion = occlusion;
  s.inpainter = model.inpainter;
  return s;
}

}  // namespace kz
