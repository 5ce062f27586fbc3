/// \file
/// defects.h — seeded synthetic defects on one image, each returned with the pixel mask of
/// where it is: the Anomaly Twin's line, CutPaste's pasted patch and CutPaste's scar (Li et
/// al. 2021). Self-supervised methods train on them (anomaly/methods/twin.cpp,
/// cutpaste.cpp); the masks say where an anomaly map should point.
///
/// Images are (C,H,W) float tensors of pixel values 0..255 (as data/transforms.h); a defect
/// gives a fresh contiguous copy with the defect and its mask (H,W): 1 where the defect was
/// drawn or pasted, 0 elsewhere, where every pixel is the input's bit for bit. Every random
/// choice comes from the Generator passed in, in the order written below, so the same
/// seed gives the same defect.
/// \code{.unparsed}
///   line      side = min(H,W); length L ~ U(min(1, side/5), side/5); width ~ U(1, max(1, side/16));
///             start (y0,x0) a pixel drawn uniformly (row below(H), column below(W));
///             angle φ ~ U(0, 2π); end = start + L·(sin φ, cos φ), clamped into the image;
///             colour: one U(0,255) per channel, or one grey for every channel when the
///             image's channels are all equal (a grey image made RGB stays grey).
///             Pixels whose centre lies within width/2 of the segment take the colour.
///   cutpaste  area a ~ U(0.02, 0.15)·H·W; aspect r = exp(U(ln 0.3, ln 3.3));
///             w = round(√(a·r)), h = round(√(a/r)), each clamped to [1, side];
///             cut at (below(H−h+1), below(W−w+1)); ColorJitter(0.1, 0.1, 0.1, 0.1)
///             (random_color_jitter, data/transforms.h) on the patch;
///             pasted at (below(H−h+1), below(W−w+1)). The mask is the pasted h×w box.
///   scar      scale = side/256; w = max(1, round(U(2,16)·scale)), length
///             l = max(1, round(U(10,25)·scale)), each clamped to the image; an l×w
///             (rows × columns) patch cut at (below(H−l+1), below(W−w+1)), jittered as
///             cutpaste, rotated by θ ~ U(−45°, 45°) (paste_patch); pasted with its
///             bounding box at (below(H−bh+1), below(W−bw+1)). The mask is its footprint.
/// \endcode
/// paste_patch's rotation (counter-clockwise as displayed, like PIL's Image.rotate with
/// expand=True and nearest-neighbour sampling): the bounding box of an h×w patch turned by
/// θ is bh = ceil(h·|cos θ| + w·|sin θ| − 1e-6) rows and bw = ceil(w·|cos θ| + h·|sin θ| −
/// 1e-6) columns; box pixel (r,c) has offset (dy, dx) = (r + ½ − bh/2, c + ½ − bw/2) from
/// the box centre and takes patch pixel (floor(dx·sin θ + dy·cos θ + h/2),
/// floor(dx·cos θ − dy·sin θ + w/2)) when that lies in the patch (else it is left as it is
/// and outside the mask). tests/fixtures/make_defects.py re-implements the line and the
/// rotation in NumPy.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace kz {

/// An image with a synthetic defect and where the defect is.
struct Defect {
  Tensor image;  ///< (C,H,W) pixel values 0..255, contiguous
  Tensor mask;   ///< (H,W): 1 where the defect is, 0 where the image is the input's
};

/// A line segment with its width and colour (draw_line).
struct LineDefect {
  /// End points in pixel coordinates (row, column of pixel centres).
  ///@{
  double y0 = 0, x0 = 0, y1 = 0, x1 = 0;
  ///@}
  double width = 1.0;         ///< pixels within width/2 of the segment are drawn; > 0
  std::vector<float> colour;  ///< one value 0..255 per channel
};

/// `line` drawn on a copy of image (C,H,W): every pixel whose centre is within width/2 of
/// the segment takes the colour. Refuses a colour of the wrong size and a width <= 0.
Defect draw_line(const Tensor& image, const LineDefect& line);
/// The Anomaly Twin's random line for `image` (C,H,W) (see the file's description).
LineDefect random_line(const Tensor& image, Generator& gen);
/// draw_line(image, random_line(image, gen)).
Defect line_defect(const Tensor& image, Generator& gen);

/// The rows and columns of the bounding box of an h×w patch rotated by `degrees` (see the
/// file's description); (h, w) for 0°.
std::pair<int64_t, int64_t> rotated_size(int64_t h, int64_t w, double degrees);
/// `patch` (C,h,w) rotated by `degrees` about its centre and pasted into a copy of image
/// (C,H,W), its bounding box's top-left corner at (top, left); the box must lie inside the
/// image and the channels must agree. The mask is the rotated patch's footprint.
Defect paste_patch(const Tensor& image, const Tensor& patch, int64_t top, int64_t left,
                   double degrees = 0.0);

/// CutPaste's settings (Li et al. 2021; the defaults are the paper's).
struct CutPasteOptions {
  /// The patch area, a fraction of the image's, drawn uniformly from [lo, hi].
  ///@{
  double area_lo = 0.02, area_hi = 0.15;
  ///@}
  /// The aspect ratio width/height, log-uniform in [lo, hi].
  ///@{
  double aspect_lo = 0.3, aspect_hi = 3.3;
  ///@}
  double jitter = 0.1;  ///< ColorJitter's brightness, contrast, saturation and hue; 0 = none
};
/// A patch of `image` (C,H,W), C = 1 or 3, cut, colour-jittered and pasted elsewhere (see
/// the file's description). Refuses options outside 0 < area_lo <= area_hi <= 1,
/// 0 < aspect_lo <= aspect_hi, 0 <= jitter <= 0.5.
Defect cut_paste(const Tensor& image, Generator& gen, const CutPasteOptions& o = {});

/// CutPaste-scar's settings: sizes in pixels of a `reference_size` image, scaled to the
/// image's side (the defaults are the paper's at 256 px).
struct ScarOptions {
  /// The scar's width (columns before rotation), drawn uniformly from [lo, hi].
  ///@{
  double width_lo = 2.0, width_hi = 16.0;
  ///@}
  /// The scar's length (rows before rotation), drawn uniformly from [lo, hi].
  ///@{
  double length_lo = 10.0, length_hi = 25.0;
  ///@}
  double reference_size = 256.0;  ///< the side the sizes above are given for
  double max_degrees = 45.0;      ///< rotation drawn uniformly from [−max, max]
  double jitter = 0.1;            ///< as CutPasteOptions::jitter
};
/// A thin patch of `image` (C,H,W), C = 1 or 3, cut, jittered, rotated and pasted
/// elsewhere (see the file's description). Refuses sizes outside 0 < lo <= hi, a
/// reference_size <= 0, max_degrees outside [0, 90], a jitter outside [0, 0.5].
Defect cut_paste_scar(const Tensor& image, Generator& gen, const ScarOptions& o = {});

/// A defect generator: an image (C,H,W) of pixel values 0..255 and a Generator to draw from.
using DefectFn = std::function<Defect(const Tensor& image, Generator& gen)>;
/// A batch of defective images and their masks.
struct DefectBatch {
  Tensor images;  ///< (N,C,H,W) in the batch's pixel scaling, contiguous
  Tensor masks;   ///< (N,H,W)
};
/// `defect` applied to every image of a network batch x (N,C,H,W) whose pixels were scaled
/// by `scaling` (data/transforms.h): each image is mapped back to 0..255, given its defect
/// (images in order, all from gen) and scaled again.
DefectBatch defect_batch(const Tensor& x, Scaling scaling, const DefectFn& defect,
                         Generator& gen);

/// The generator a name gives: "line" (line_defect), "cutpaste" (cut_paste) or "scar"
/// (cut_paste_scar), with their default options; anything else throws naming `where`.
DefectFn defect_by_name(const std::string& name, const std::string& where);

/// Images with a defect at a known place, for asking whether anomaly maps point at it.
struct DefectImages {
  ImageDataset images;         ///< the defective images (pixels rounded to 0…255), label 0
  Tensor masks;                ///< (n,H,W), 1 on the defect's pixels
  std::vector<int64_t> index;  ///< each image's position in the source data set
};
/// n images of `data` (a random choice without repeats from Generator(seed)), each given one
/// defect by `defect` drawn from the same generator, in order. Refuses n < 1 or more than the
/// data set holds, and a table.
DefectImages defect_images(const ImageDataset& data, const DefectFn& defect, int64_t n,
                           uint64_t seed);

}  // namespace kz
