// map_figure.cpp — colour map, scale, grid, overlay and colour bar (see map_figure.h).
// Shapes: images (C,H,W), maps (H,W), pictures (H,W,3) RGB bytes.
#include "anomaly/map_figure.h"

#include <algorithm>
#include <cmath>

#include "anomaly/results.h"
#include "anomaly/svg.h"

namespace kz {
namespace {

// matplotlib's _viridis_data (matplotlib/_cm_listed.py) entries round(255 k/16), k = 0..16,
// times 255 and rounded.
constexpr std::array<std::array<uint8_t, 3>, 17> kViridis = {{
    {68, 1, 84},    {72, 24, 106},  {71, 45, 123},  {66, 64, 134},  {59, 82, 139},
    {51, 99, 141},  {44, 114, 142}, {38, 130, 142}, {33, 145, 140}, {31, 159, 136},
    {39, 173, 129}, {61, 188, 116}, {92, 200, 99},  {129, 211, 77}, {170, 220, 50},
    {213, 226, 26}, {253, 231, 37},
}};

uint8_t to_byte(float v) {  // v in [0,1] → 0..255; NaN → 0
  if (!(v > 0.0f)) return 0;
  if (!(v < 1.0f)) return 255;
  return static_cast<uint8_t>(std::lround(v * 255.0f));
}

std::string shape_of(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : "undefined"; }

// x is (C,H,W) with C = 1 or 3, of size H×W when h > 0.
void check_image(const Tensor& x, int64_t h, int64_t w, const char* op, const std::string& what) {
  KZ_CHECK(x.defined() && x.dim() == 3 && (x.size(0) == 1 || x.size(0) == 3) &&
               x.size(1) > 0 && x.size(2) > 0 && (h == 0 || (x.size(1) == h && x.size(2) == w)),
           op, "{} must be (C,H,W) with C = 1 or 3{}, not {}", what,
           h == 0 ? "" : fmt::format(" and H×W = {}×{}", h, w), shape_of(x));
}

// image is (C,H,W); returns (H,W,3) bytes, grey repeated in R, G and B.
std::vector<uint8_t> image_rgb(const Tensor& image) {
  const Tensor x = image.contiguous();
  const int64_t c = x.size(0), hw = x.size(1) * x.size(2);
  std::vector<uint8_t> rgb(static_cast<size_t>(hw * 3));
  const float* p = x.data();
  for (int64_t i = 0; i < hw; ++i)
    for (int64_t k = 0; k < 3; ++k) rgb[i * 3 + k] = to_byte(p[(c == 1 ? 0 : k) * hw + i]);
  return rgb;
}

// map is (H,W); returns (H,W,3) bytes in the colour map.
std::vector<uint8_t> map_rgb(const Tensor& map, MapScale scale) {
  const Tensor m = map.contiguous();
  std::vector<uint8_t> rgb(static_cast<size_t>(m.numel() * 3));
  const float* p = m.data();
  for (int64_t i = 0; i < m.numel(); ++i) {
    const auto c = colormap((p[i] - scale.low) / (scale.high - scale.low));
    std::copy(c.begin(), c.end(), rgb.begin() + i * 3);
  }
  return rgb;
}

// Copies the (h,w,3) cell, each pixel zoom×zoom, into the (·,canvas_w,3) canvas at (y0,x0).
void blit(std::vector<uint8_t>& canvas, int64_t canvas_w, const std::vector<uint8_t>& cell,
          int64_t h, int64_t w, int64_t y0, int64_t x0, int zoom) {
  for (int64_t y = 0; y < h * zoom; ++y)
    for (int64_t x = 0; x < w * zoom; ++x)
      std::copy_n(cell.begin() + ((y / zoom) * w + x / zoom) * 3, 3,
                  canvas.begin() + ((y0 + y) * canvas_w + x0 + x) * 3);
}

}  // namespace

std::array<uint8_t, 3> colormap(double t) {
  t = t > 0.0 ? std::min(t, 1.0) : 0.0;  // NaN → 0
  const double s = t * 16.0;
  const size_t k = std::min(static_cast<size_t>(s), size_t{15});
  const double f = s - static_cast<double>(k);
  std::array<uint8_t, 3> c{};
  for (int j = 0; j < 3; ++j)
    c[j] = static_cast<uint8_t>(std::lround(kViridis[k][j] + f * (kViridis[k + 1][j] - kViridis[k][j])));
  return c;
}

MapScale map_scale(const Tensor& maps) {
  KZ_CHECK(maps.defined() && maps.numel() > 0, "map_scale", "the maps are empty ({})",
           shape_of(maps));
  const std::vector<float> v = maps.to_vector();
  KZ_CHECK(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }),
           "map_scale", "the maps {} hold non-finite values", shape_str(maps.shape()));
  const std::vector<double> d(v.begin(), v.end());
  MapScale s{quantile(d, 0.01), quantile(d, 0.99)};
  if (!(s.low < s.high)) s.high = s.low + 1e-12 * std::max(1.0, std::abs(s.low));
  return s;
}

std::vector<uint8_t> map_grid(const std::vector<std::vector<MapTile>>& rows, MapScale scale,
                              int zoom, int64_t* height, int64_t* width) {
  KZ_CHECK(height != nullptr && width != nullptr, "map_grid", "height and width must be given");
  KZ_CHECK(zoom >= 1 && zoom <= 64, "map_grid", "zoom must be in 1..64, not {}", zoom);
  KZ_CHECK(scale.low < scale.high, "map_grid", "the scale's low {} must be below its high {}",
           scale.low, scale.high);
  KZ_CHECK(!rows.empty(), "map_grid", "no groups to draw");
  int64_t h = 0, w = 0, grid_w = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    KZ_CHECK(!rows[r].empty(), "map_grid", "group {} has no tiles", r);
    for (size_t i = 0; i < rows[r].size(); ++i) {
      const MapTile& t = rows[r][i];
      const std::string at = fmt::format("group {} tile {}: ", r, i);
      check_image(t.image, h, w, "map_grid", at + "the image");
      h = t.image.size(1), w = t.image.size(2);
      if (t.reconstruction.defined())
        KZ_CHECK(t.reconstruction.shape() == t.image.shape(), "map_grid",
                 "{}the reconstruction {} must have the image's shape {}", at,
                 shape_str(t.reconstruction.shape()), shape_str(t.image.shape()));
      KZ_CHECK(t.map.defined() && t.map.shape() == Shape({h, w}), "map_grid",
               "{}the map must be (H,W) = ({}, {}) as the image {}, not {}", at, h, w,
               shape_str(t.image.shape()), shape_of(t.map));
    }
    const auto n = static_cast<int64_t>(rows[r].size());
    grid_w = std::max(grid_w, n * w * zoom + (n - 1) * kMapCellGap);
  }
  const int64_t ch = h * zoom, cw = w * zoom, band = 3 * ch + 2 * kMapCellGap;
  const auto n_rows = static_cast<int64_t>(rows.size());
  *height = n_rows * band + (n_rows - 1) * kMapGroupGap;
  *width = grid_w;
  std::vector<uint8_t> canvas(static_cast<size_t>(*height * grid_w * 3), 255);
  const std::vector<uint8_t> blank(static_cast<size_t>(h * w * 3), kMapBlankGrey);
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t y0 = r * (band + kMapGroupGap);
    for (size_t i = 0; i < rows[r].size(); ++i) {
      const MapTile& t = rows[r][i];
      const int64_t x0 = static_cast<int64_t>(i) * (cw + kMapCellGap);
      blit(canvas, grid_w, image_rgb(t.image), h, w, y0, x0, zoom);
      blit(canvas, grid_w, t.reconstruction.defined() ? image_rgb(t.reconstruction) : blank, h,
           w, y0 + ch + kMapCellGap, x0, zoom);
      blit(canvas, grid_w, map_rgb(t.map, scale), h, w, y0 + 2 * (ch + kMapCellGap), x0, zoom);
    }
  }
  return canvas;
}

std::vector<uint8_t> overlay(const Tensor& image, const Tensor& map, MapScale scale,
                             float alpha) {
  check_image(image, 0, 0, "overlay", "the image");
  const int64_t h = image.size(1), w = image.size(2);
  KZ_CHECK(map.defined() && map.shape() == Shape({h, w}), "overlay",
           "the map must be (H,W) = ({}, {}) as the image {}, not {}", h, w,
           shape_str(image.shape()), shape_of(map));
  KZ_CHECK(alpha >= 0.0f && alpha <= 1.0f, "overlay", "alpha must be in [0, 1], not {}", alpha);
  KZ_CHECK(scale.low < scale.high, "overlay", "the scale's low {} must be below its high {}",
           scale.low, scale.high);
  std::vector<uint8_t> out = image_rgb(image);
  const std::vector<uint8_t> colour = map_rgb(map, scale);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(std::lround((1.0f - alpha) * out[i] + alpha * colour[i]));
  return out;
}

std::string colorbar_html(MapScale scale, const std::string& label) {
  std::string stops;
  for (size_t k = 0; k < kViridis.size(); ++k)
    stops += fmt::format(", #{:02x}{:02x}{:02x} {}%", kViridis[k][0], kViridis[k][1],
                         kViridis[k][2], svg_num(100.0 * k / (kViridis.size() - 1)));
  return fmt::format(
      R"x(<div class="kz-colorbar" style="display:inline-flex;align-items:center;gap:6px;)x"
      R"x(font:12px sans-serif"><span>{:.3g}</span><span style="display:inline-block;)x"
      R"x(width:160px;height:12px;background:linear-gradient(to right{})"></span>)x"
      R"x(<span>{:.3g}</span><span>{}</span></div>)x",
      scale.low, stops, scale.high, xml_escape(label));
}

}  // namespace kz
