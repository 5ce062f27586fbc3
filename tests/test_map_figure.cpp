// test_map_figure.cpp — PNG writing (data/image_write.h) and anomaly-map figures
// (anomaly/map_figure.h): PNG round trips through kizuki's own reader, atomic writes, the
// viridis colour map against matplotlib, map_scale against NumPy's percentile worked by
// hand, the grid layout and its cells, the overlay's ends, the HTML colour bar; bad
// arguments.
// Shapes: images (C,H,W) floats in [0,1], maps (H,W), pictures (H,W,3) RGB bytes.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "anomaly/map_figure.h"
#include "data/image_folder.h"
#include "data/image_write.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

using namespace kz;
using kz::test::error_of;
using kz::test::TempDir;

namespace {

using Rgb = std::array<uint8_t, 3>;

std::vector<uint8_t> random_bytes(size_t n, Generator& gen) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(gen.below(256));
  return v;
}

// hwc is (H,W,C); the first `keep` channels in (C,H,W) order, as decode_image gives them.
std::vector<uint8_t> to_chw(const std::vector<uint8_t>& hwc, int64_t h, int64_t w, int c,
                            int keep) {
  std::vector<uint8_t> chw(static_cast<size_t>(keep * h * w));
  for (int k = 0; k < keep; ++k)
    for (int64_t i = 0; i < h * w; ++i) chw[k * h * w + i] = hwc[i * c + k];
  return chw;
}

// A (C,H,W) image whose pixels are bytes[i]/255, so that they draw as bytes[i] exactly.
Tensor image_of_bytes(const std::vector<uint8_t>& bytes, int64_t c, int64_t h, int64_t w) {
  std::vector<float> v(bytes.begin(), bytes.end());
  for (auto& x : v) x /= 255.0f;
  return Tensor::from_vector(v, {c, h, w});
}

Rgb pixel(const std::vector<uint8_t>& rgb, int64_t width, int64_t y, int64_t x) {
  const size_t i = static_cast<size_t>((y * width + x) * 3);
  return {rgb[i], rgb[i + 1], rgb[i + 2]};
}

// Relative luminance (linear-light sRGB, Rec. 709 weights).
double luminance(Rgb c) {
  auto lin = [](uint8_t b) {
    const double v = b / 255.0;
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

}  // namespace

TEST_CASE("map_figure: encode_png round trips through decode_image byte for byte") {
  Generator gen(7);
  for (int c : {3, 1, 4}) {
    CAPTURE(c);
    const int64_t h = 5, w = 7;
    const std::vector<uint8_t> hwc = random_bytes(static_cast<size_t>(h * w * c), gen);
    const std::string png = encode_png(hwc, h, w, c);
    CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    const Image img = decode_image(png, "test.png", 0);  // channels as the file holds them
    const int keep = c == 1 ? 1 : 3;  // kizuki's reader drops alpha
    CHECK(img.channels == keep);
    CHECK(img.height == h);
    CHECK(img.width == w);
    CHECK(img.pixels == to_chw(hwc, h, w, c, keep));
  }
}

TEST_CASE("map_figure: write_png writes atomically and names a bad path") {
  TempDir dir("png");
  Generator gen(3);
  const std::string path = dir / "grid.png";
  for (int round = 0; round < 2; ++round) {  // a new file, then over an old one
    const std::vector<uint8_t> hwc = random_bytes(4 * 6 * 3, gen);
    write_png(path, hwc, 4, 6, 3);
    const Image img = load_image(path, 3);
    CHECK(img.pixels == to_chw(hwc, 4, 6, 3, 3));
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path))
      names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{"grid.png"});  // no temporary file left
  }
  const std::string bad = dir / "no_such_folder/grid.png";
  const std::string msg = error_of([&] { write_png(bad, std::vector<uint8_t>(3, 0), 1, 1, 3); });
  CHECK(msg.find(bad) != std::string::npos);
  CHECK(!std::filesystem::exists(bad));
}

TEST_CASE("map_figure: encode_png refuses bad sizes") {
  const std::vector<uint8_t> six(6, 0);
  CHECK_THROWS_WITH_AS(encode_png(six, 2, 3, 3), doctest::Contains("[encode_png] 6 bytes for a 2x3 image (HxW) of 3 channels: expected 18"), Error);
  CHECK_THROWS_WITH_AS(encode_png(six, 2, 3, 2), doctest::Contains("channels must be 1, 3 or 4, not 2"), Error);
  CHECK_THROWS_WITH_AS(encode_png({}, 0, 3, 1), doctest::Contains("a 0x3 image (HxW) is empty"), Error);
  CHECK_THROWS_WITH_AS(encode_png(six, -2, -3, 1), doctest::Contains("[encode_png]"), Error);
  CHECK_THROWS_WITH_AS(encode_png(six, int64_t{1} << 20, int64_t{1} << 20, 1),
                       doctest::Contains("too large"), Error);
}

TEST_CASE("map_figure: colormap is matplotlib's viridis, darkest to lightest, clamped") {
  // matplotlib's documented ends of viridis.
  CHECK(colormap(0.0) == Rgb{0x44, 0x01, 0x54});
  CHECK(colormap(1.0) == Rgb{0xfd, 0xe7, 0x25});
  // matplotlib 3.6.3: round(255 · viridis.colors[round(255 t)]) for these t.
  const std::vector<std::pair<double, Rgb>> reference = {
      {0.1, {72, 37, 118}}, {0.3, {53, 95, 141}}, {0.5, {33, 145, 140}},
      {0.7, {66, 190, 113}}, {0.9, {189, 223, 38}}};
  for (const auto& [t, want] : reference) {
    CAPTURE(t);
    const Rgb got = colormap(t);
    for (int k = 0; k < 3; ++k) CHECK(std::abs(got[k] - want[k]) <= 6);
  }
  // Perceptual order: relative luminance rises at every step of 1/64.
  for (int i = 0; i < 64; ++i) {
    CAPTURE(i);
    CHECK(luminance(colormap((i + 1) / 64.0)) > luminance(colormap(i / 64.0)));
  }
  CHECK(colormap(-0.5) == colormap(0.0));
  CHECK(colormap(7.0) == colormap(1.0));
  CHECK(colormap(std::nan("")) == colormap(0.0));
}

TEST_CASE("map_figure: map_scale is NumPy's 1st and 99th percentile") {
  // NumPy's linear percentile of n sorted values v: h = (n−1)·q, v[⌊h⌋] + (h−⌊h⌋)(v[⌊h⌋+1] − v[⌊h⌋]).
  // 1) The values 0, 10, …, 90 (n = 10), stored out of order and seen through a transpose:
  //    q = 0.01: h = 0.09 → 0 + 0.09·10 = 0.9;  q = 0.99: h = 8.91 → 80 + 0.91·10 = 89.1.
  const Tensor a = Tensor::from_vector({50, 0, 90, 30, 70, 10, 60, 20, 80, 40}, {5, 2}).transpose(0, 1);
  MapScale s = map_scale(a);
  CHECK(s.low == doctest::Approx(0.9).epsilon(1e-12));
  CHECK(s.high == doctest::Approx(89.1).epsilon(1e-12));
  // 2) 0, 1, …, 99 and one hot pixel 10000 (n = 101): h = 1 → 1 and h = 99 → 99: the hot
  //    pixel does not stretch the scale.
  std::vector<float> v;
  for (int i = 99; i >= 0; --i) v.push_back(static_cast<float>(i));
  v.insert(v.begin() + 37, 10000.0f);
  s = map_scale(Tensor::from_vector(v, {1, 101}));
  CHECK(s.low == 1.0);
  CHECK(s.high == 99.0);
  // 3) Constant maps: high = low + 1e-12·max(1, |low|), strictly above low.
  for (float c : {0.0f, 5.0f, -3.0f, 1e6f}) {
    CAPTURE(c);
    s = map_scale(Tensor::full({3, 4, 4}, c));
    CHECK(s.low == c);
    CHECK(s.high > s.low);
    CHECK(s.high - s.low <= 1.01e-12 * std::max(1.0, std::abs(double(c))));
  }
  CHECK_THROWS_WITH_AS(map_scale(Tensor()), doctest::Contains("[map_scale] the maps are empty"), Error);
  CHECK_THROWS_WITH_AS(map_scale(Tensor::from_vector({1, NAN}, {2})), doctest::Contains("non-finite"), Error);
}

TEST_CASE("map_figure: map_grid lays out groups of input / reconstruction / map cells") {
  Generator gen(11);
  const int64_t h = 3, w = 4;
  const int zoom = 2;
  auto random_map = [&] { return Tensor::uniform({h, w}, 0.2f, 0.8f, gen); };
  const std::vector<uint8_t> rgb0 = random_bytes(3 * h * w, gen), rgb2 = random_bytes(3 * h * w, gen),
                             rec2 = random_bytes(3 * h * w, gen), grey = random_bytes(h * w, gen);
  Tensor hot = random_map();
  hot.at({1, 2}) = 5.0f;  // the one maximum
  hot.at({2, 0}) = -5.0f;  // the one minimum
  const std::vector<std::vector<MapTile>> rows = {
      {{image_of_bytes(rgb0, 3, h, w), Tensor(), hot, "a"},
       {image_of_bytes(rgb0, 3, h, w), Tensor(), random_map(), "b"},
       {image_of_bytes(rgb2, 3, h, w), image_of_bytes(rec2, 3, h, w), random_map(), "c"}},
      {{image_of_bytes(grey, 1, h, w), image_of_bytes(grey, 1, h, w), random_map(), "d"}}};
  const MapScale scale = map_scale(hot);  // its 99th percentile is below 5, 1st above −5
  int64_t gh = 0, gw = 0;
  const std::vector<uint8_t> grid = map_grid(rows, scale, zoom, &gh, &gw);

  // Cells 6×8; a band is 3·6 + 2·2 = 22 high; 2 bands + one 6-px group gap; 3 columns + 2 gaps.
  const int64_t ch = h * zoom, cw = w * zoom;
  CHECK(gh == 2 * (3 * ch + 2 * kMapCellGap) + kMapGroupGap);
  CHECK(gh == 50);
  CHECK(gw == 3 * cw + 2 * kMapCellGap);
  CHECK(gw == 28);
  REQUIRE(grid.size() == static_cast<size_t>(gh * gw * 3));

  // cell(y0, x0, y, x): the output pixel of cell pixel (y, x), zoomed.
  const Rgb white{255, 255, 255}, blank{kMapBlankGrey, kMapBlankGrey, kMapBlankGrey};
  const int64_t band = 3 * ch + 2 * kMapCellGap, col = cw + kMapCellGap, row1 = band + kMapGroupGap;
  for (int64_t y = 0; y < ch; ++y)
    for (int64_t x = 0; x < cw; ++x) {
      CAPTURE(y);
      CAPTURE(x);
      const int64_t i = (y / zoom) * w + x / zoom;  // the source pixel
      // group 0, tile 2: its input and its reconstruction, channel by channel
      CHECK(pixel(grid, gw, y, 2 * col + x) == Rgb{rgb2[i], rgb2[h * w + i], rgb2[2 * h * w + i]});
      CHECK(pixel(grid, gw, ch + kMapCellGap + y, 2 * col + x) ==
            Rgb{rec2[i], rec2[h * w + i], rec2[2 * h * w + i]});
      // group 0, tiles 0 and 1: no reconstruction → blank grey
      CHECK(pixel(grid, gw, ch + kMapCellGap + y, x) == blank);
      CHECK(pixel(grid, gw, ch + kMapCellGap + y, col + x) == blank);
      // group 1, tile 0: grey input as grey RGB
      CHECK(pixel(grid, gw, row1 + y, x) == Rgb{grey[i], grey[i], grey[i]});
      // right of group 1's only column: white
      CHECK(pixel(grid, gw, row1 + y, col + x) == white);
    }
  // The map cell of group 0 tile 0: the maximum at (1,2) → colormap(1), the minimum at
  // (2,0) → colormap(0), both over their zoom×zoom block.
  const int64_t map_y0 = 2 * (ch + kMapCellGap);
  for (int64_t dy = 0; dy < zoom; ++dy)
    for (int64_t dx = 0; dx < zoom; ++dx) {
      CHECK(pixel(grid, gw, map_y0 + 1 * zoom + dy, 2 * zoom + dx) == colormap(1.0));
      CHECK(pixel(grid, gw, map_y0 + 2 * zoom + dy, 0 * zoom + dx) == colormap(0.0));
    }
  // Any other map pixel is drawn at t = (v − low)/(high − low).
  CHECK(pixel(grid, gw, map_y0, 0) == colormap((hot.at({0, 0}) - scale.low) / (scale.high - scale.low)));
  // Gaps are white: between columns, between cells, between groups.
  for (int64_t y = 0; y < gh; ++y)
    for (int64_t g = 0; g < kMapCellGap; ++g) CHECK(pixel(grid, gw, y, cw + g) == white);
  for (int64_t x = 0; x < gw; ++x) {
    for (int64_t g = 0; g < kMapCellGap; ++g) CHECK(pixel(grid, gw, ch + g, x) == white);
    for (int64_t g = 0; g < kMapGroupGap; ++g) CHECK(pixel(grid, gw, band + g, x) == white);
  }
}

TEST_CASE("map_figure: map_grid refuses bad tiles") {
  const Tensor img = Tensor::zeros({3, 4, 5}), map = Tensor::zeros({4, 5});
  const MapScale scale{0, 1};
  int64_t gh = 0, gw = 0;
  auto grid = [&](const std::vector<std::vector<MapTile>>& rows, int zoom = 1) {
    return map_grid(rows, scale, zoom, &gh, &gw);
  };
  CHECK_THROWS_WITH_AS(grid({{{img, Tensor(), Tensor::zeros({5, 4}), ""}}}),
                       doctest::Contains("[map_grid] group 0 tile 0: the map must be (H,W) = (4, 5) as the image (3, 4, 5), not (5, 4)"), Error);
  CHECK_THROWS_WITH_AS(grid({{{img, Tensor(), map, ""}}, {{Tensor::zeros({3, 4, 6}), Tensor(), map, ""}}}),
                       doctest::Contains("group 1 tile 0: the image must be (C,H,W) with C = 1 or 3 and H×W = 4×5, not (3, 4, 6)"), Error);
  CHECK_THROWS_WITH_AS(grid({{{Tensor::zeros({2, 4, 5}), Tensor(), map, ""}}}),
                       doctest::Contains("not (2, 4, 5)"), Error);
  CHECK_THROWS_WITH_AS(grid({{{img, Tensor::zeros({1, 4, 5}), map, ""}}}),
                       doctest::Contains("the reconstruction (1, 4, 5) must have the image's shape (3, 4, 5)"), Error);
  CHECK_THROWS_WITH_AS(grid({{{img, Tensor(), map, ""}}, {}}), doctest::Contains("group 1 has no tiles"), Error);
  CHECK_THROWS_WITH_AS(grid({}), doctest::Contains("no groups"), Error);
  CHECK_THROWS_WITH_AS(grid({{{img, Tensor(), map, ""}}}, 0), doctest::Contains("zoom must be in 1..64, not 0"), Error);
  CHECK_THROWS_WITH_AS(map_grid({{{img, Tensor(), map, ""}}}, MapScale{1, 1}, 1, &gh, &gw),
                       doctest::Contains("low 1 must be below its high 1"), Error);
}

TEST_CASE("map_figure: overlay runs from the image (alpha 0) to the colour map (alpha 1)") {
  Generator gen(5);
  const int64_t h = 4, w = 6;
  const std::vector<uint8_t> bytes = random_bytes(3 * h * w, gen);
  const Tensor image = image_of_bytes(bytes, 3, h, w);
  const Tensor map = Tensor::uniform({h, w}, -1.0f, 3.0f, gen);
  const MapScale scale{-0.5, 2.5};  // some values fall outside: clamped
  const std::vector<uint8_t> plain = overlay(image, map, scale, 0.0f);
  const std::vector<uint8_t> coloured = overlay(image, map, scale, 1.0f);
  const std::vector<uint8_t> half = overlay(image, map, scale, 0.5f);
  REQUIRE(plain.size() == static_cast<size_t>(h * w * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      const Rgb img{bytes[i], bytes[h * w + i], bytes[2 * h * w + i]};
      const Rgb col = colormap((map.at({y, x}) - scale.low) / (scale.high - scale.low));
      CHECK(pixel(plain, w, y, x) == img);
      CHECK(pixel(coloured, w, y, x) == col);
      for (int k = 0; k < 3; ++k)
        CHECK(std::abs(2.0 * pixel(half, w, y, x)[k] - (img[k] + col[k])) <= 1.0);
    }
  // A grey image is blended as grey RGB.
  const std::vector<uint8_t> g = random_bytes(h * w, gen);
  const std::vector<uint8_t> grey = overlay(image_of_bytes(g, 1, h, w), map, scale, 0.0f);
  CHECK(pixel(grey, w, 2, 3) == Rgb{g[2 * w + 3], g[2 * w + 3], g[2 * w + 3]});
  CHECK_THROWS_WITH_AS(overlay(image, map, scale, 1.5f), doctest::Contains("[overlay] alpha must be in [0, 1], not 1.5"), Error);
  CHECK_THROWS_WITH_AS(overlay(image, Tensor::zeros({h, w + 1}), scale),
                       doctest::Contains("the map must be (H,W) = (4, 6) as the image (3, 4, 6), not (4, 7)"), Error);
  CHECK_THROWS_WITH_AS(overlay(image.unsqueeze(0), map, scale), doctest::Contains("[overlay] the image must be (C,H,W)"), Error);
}

TEST_CASE("map_figure: colorbar_html is a self-contained legend") {
  const std::string html = colorbar_html(MapScale{0.0123456, 98765.4}, "SSIM <loss> & co");
  CHECK(html.find("0.0123") != std::string::npos);
  CHECK(html.find("9.88e+04") != std::string::npos);
  CHECK(html.find("linear-gradient") != std::string::npos);
  CHECK(html.find("#440154 0%") != std::string::npos);
  CHECK(html.find("#21918c 50%") != std::string::npos);
  CHECK(html.find("#fde725 100%") != std::string::npos);
  CHECK(html.find("SSIM &lt;loss&gt; &amp; co") != std::string::npos);
  CHECK(html.find("<loss>") == std::string::npos);
  CHECK(html.find("http") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
}
