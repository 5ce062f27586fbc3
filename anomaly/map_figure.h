/// \file
/// map_figure.h — anomaly maps as pictures: a colour map, a robust value scale, the grid of
/// input / reconstruction / map cells that the benchmark report and `kizuki score --maps`
/// show, an overlay of one map on its image, and the colour bar legend for HTML.
///
/// Shapes: an image is a (C,H,W) float tensor of pixel values in [0,1], C = 1 (grey, drawn as
/// grey RGB) or 3 (RGB); a map is (H,W) float, any range. Pictures come out as row-major
/// (H,W,3) RGB bytes, ready for encode_png / write_png (data/image_write.h).
/// Pixel values become bytes as round(255·clamp(v, 0, 1)); NaN draws as 0 and as the low end
/// of the colour map.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// viridis (matplotlib's default colour map, van der Walt & Smith 2015; the table is
/// matplotlib's `_viridis_data`): perceptually uniform, lightness rising monotonically,
/// readable in grey and by colour-blind readers. Piecewise linear through 17 of matplotlib's
/// 256 entries, at t = k/16 (entry round(255 k/16)); no channel is more than 6 (of 255) off
/// the full table. t is clamped to [0, 1]: colormap(0) = `#440154`, colormap(1) = `#fde725`.
std::array<uint8_t, 3> colormap(double t);

/// The map values shown as the two ends of the colour map: a value v is drawn at
/// t = (v − low) / (high − low). low < high always.
struct MapScale {
  /// The values drawn at t = 0 and t = 1
  ///@{
  double low = 0, high = 1;
  ///@}
};

/// The 1st and 99th percentile of all values of `maps` (any shape; (N,H,W) for all the
/// maps of one figure, so that their colours compare), NumPy's default linear percentile
/// (anomaly/results.h quantile()). A few hot pixels then do not wash out the rest. When the
/// two are equal (a constant map), high = low + 1e-12·max(1, |low|) and everything draws at
/// the low end. Throws on empty maps and non-finite values.
MapScale map_scale(const Tensor& maps);

/// One column of the grid: an image, the network's reconstruction of it (undefined for
/// methods that do not reconstruct) and its anomaly map. image and reconstruction are
/// (C,H,W), map is (H,W). caption is for the HTML around the picture (map_grid draws no text).
struct MapTile {
  Tensor image;           ///< (C,H,W), pixels in [0, 1]
  Tensor reconstruction;  ///< (C,H,W) like image, or undefined
  Tensor map;             ///< (H,W)
  std::string caption;    ///< for the HTML around the picture
};

/// Layout of map_grid, in pixels of the output.
inline constexpr int64_t kMapCellGap = 2;     ///< between cells and between columns of a group
inline constexpr int64_t kMapGroupGap = 6;    ///< between groups (rows of `rows`)
inline constexpr uint8_t kMapBlankGrey = 200; ///< the cell of an undefined reconstruction

/// The grid of `rows` as an RGB picture, (height, width, 3) bytes, *height and *width set.
/// Each element of `rows` is a group (e.g. "the 8 most anomalous anomalies"), drawn as one
/// band; each tile is a column of three cells stacked top to bottom: the image, the
/// reconstruction (blank grey when undefined), the map coloured with `scale`. Cells are
/// enlarged `zoom` times (nearest neighbour); gaps and any space to the right of a shorter
/// group are white. All tiles share one H×W. With cells of ch = H·zoom by cw = W·zoom:
///   height = R·(3·ch + 2·kMapCellGap) + (R−1)·kMapGroupGap          (R groups)
///   width  = max over groups of n·cw + (n−1)·kMapCellGap             (n tiles in the group)
std::vector<uint8_t> map_grid(const std::vector<std::vector<MapTile>>& rows, MapScale scale,
                              int zoom, int64_t* height, int64_t* width);

/// One image blended with its coloured map: (H,W,3) RGB bytes,
/// round((1 − alpha)·image byte + alpha·colour byte) per channel. image is (C,H,W), map
/// (H,W); alpha in [0, 1] (0: the image as it is, 1: the colour map alone).
std::vector<uint8_t> overlay(const Tensor& image, const Tensor& map, MapScale scale,
                             float alpha = 0.5f);

/// The legend beside a grid in the HTML report: a self-contained HTML snippet (inline CSS,
/// no external resources) with a linear-gradient bar through colormap's anchors, the low and
/// high numbers (3 significant digits) at its ends, and `label` (escaped) after it.
std::string colorbar_html(MapScale scale, const std::string& label);

}  // namespace kz
