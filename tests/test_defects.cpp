// test_defects.cpp — the synthetic defects of data/defects.h: the line and the rotated paste
// against the NumPy re-implementation (tests/fixtures/make_defects.py), quarter turns against
// exact permutations, the definitions' bounds over many draws (length, area fraction, aspect
// ratio, scar sizes), pixels outside the mask untouched, the same seed the same defect, the
// batch form in a network's pixel scaling, and bad arguments refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "data/defects.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

using namespace kz;

namespace {

// A (C,H,W) image of pixel values 0..255, every pixel drawn (so patches are unique).
Tensor random_image(int64_t c, int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v;
  for (int64_t i = 0; i < c * h * w; ++i) v.push_back(std::floor(gen.uniform(0.0f, 256.0f)));
  return Tensor::from_vector(v, {c, h, w});
}

// Whether every pixel where mask is 0 equals the input's, in every channel.
bool unchanged_outside(const Tensor& before, const Defect& d) {
  const Tensor a = before.contiguous(), b = d.image.contiguous(), m = d.mask.contiguous();
  const int64_t c = a.size(0), hw = a.size(1) * a.size(2);
  for (int64_t k = 0; k < c; ++k)
    for (int64_t j = 0; j < hw; ++j)
      if (m.data()[j] == 0.0f && a.data()[k * hw + j] != b.data()[k * hw + j]) return false;
  return true;
}

// The mask's pixel count and bounding box (rows, columns).
struct Footprint {
  int64_t area = 0, top = 1 << 30, left = 1 << 30, bottom = -1, right = -1;
  int64_t rows() const { return bottom - top + 1; }
  int64_t cols() const { return right - left + 1; }
};
Footprint footprint(const Tensor& mask) {
  const Tensor m = mask.contiguous();
  Footprint f;
  bool binary = true;
  for (int64_t y = 0; y < m.size(0); ++y)
    for (int64_t x = 0; x < m.size(1); ++x) {
      const float v = m.data()[y * m.size(1) + x];
      binary = binary && (v == 0.0f || v == 1.0f);
      if (v == 0.0f) continue;
      ++f.area;
      f.top = std::min(f.top, y);
      f.bottom = std::max(f.bottom, y);
      f.left = std::min(f.left, x);
      f.right = std::max(f.right, x);
    }
  CHECK(binary);  // 0 or 1 only
  return f;
}

// The largest distance between the centres of two mask pixels.
double diameter(const Tensor& mask) {
  const Tensor m = mask.contiguous();
  std::vector<std::pair<double, double>> on;
  for (int64_t y = 0; y < m.size(0); ++y)
    for (int64_t x = 0; x < m.size(1); ++x)
      if (m.data()[y * m.size(1) + x] != 0.0f) on.emplace_back(y, x);
  double d = 0.0;
  for (const auto& a : on)
    for (const auto& b : on) d = std::max(d, std::hypot(a.first - b.first, a.second - b.second));
  return d;
}

}  // namespace

TEST_CASE("defects: draw_line and paste_patch match the NumPy re-implementation") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/defects.safetensors");
  const Tensor image = f.tensors.at("image");
  const Tensor lines = f.tensors.at("lines").contiguous();
  for (int64_t i = 0; i < lines.size(0); ++i) {
    CAPTURE(i);
    const float* l = lines.data() + i * lines.size(1);
    LineDefect line;
    line.y0 = l[0];
    line.x0 = l[1];
    line.y1 = l[2];
    line.x1 = l[3];
    line.width = l[4];
    line.colour = {l[5], l[6], l[7]};
    const Defect d = draw_line(image, line);
    CHECK(max_abs_diff(d.image, f.tensors.at("line_image").select(0, i)) == 0.0f);
    CHECK(max_abs_diff(d.mask, f.tensors.at("line_mask").select(0, i)) == 0.0f);
    CHECK(footprint(d.mask).area > 0);
  }
  const Tensor pastes = f.tensors.at("pastes").contiguous();
  for (int64_t i = 0; i < pastes.size(0); ++i) {
    const float* p = pastes.data() + i * 3;
    CAPTURE(p[0]);
    const Defect d = paste_patch(image, f.tensors.at("patch"), static_cast<int64_t>(p[1]),
                                 static_cast<int64_t>(p[2]), p[0]);
    CHECK(max_abs_diff(d.image, f.tensors.at("paste_image").select(0, i)) == 0.0f);
    CHECK(max_abs_diff(d.mask, f.tensors.at("paste_mask").select(0, i)) == 0.0f);
  }
}

TEST_CASE("defects: quarter turns paste the patch turned exactly (np.rot90)") {
  const Tensor image = random_image(2, 9, 10, 1), patch = random_image(2, 4, 3, 2);
  for (const int turns : {0, 1, 2, 3}) {
    CAPTURE(turns);
    const auto [bh, bw] = rotated_size(4, 3, 90.0 * turns);
    CHECK(bh == (turns % 2 ? 3 : 4));
    CHECK(bw == (turns % 2 ? 4 : 3));
    const Defect d = paste_patch(image, patch, 2, 5, 90.0 * turns);
    CHECK(footprint(d.mask).area == 12);
    CHECK(unchanged_outside(image, d));
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t r = 0; r < bh; ++r)
        for (int64_t q = 0; q < bw; ++q) {
          // Counter-clockwise as displayed: np.rot90(P, turns)[r][q].
          int64_t sy = r, sx = q;
          if (turns == 1) sy = q, sx = 2 - r;
          if (turns == 2) sy = 3 - r, sx = 2 - q;
          if (turns == 3) sy = 3 - q, sx = r;
          CHECK(d.image.contiguous().data()[(k * 9 + 2 + r) * 10 + 5 + q] ==
                patch.contiguous().data()[(k * 4 + sy) * 3 + sx]);
        }
  }
}

TEST_CASE("defects: the line is at most a fifth of the side, of its colour, nothing else changed") {
  const Tensor image = random_image(3, 40, 48, 3);
  Generator gen(5);
  double longest = 0.0, widest = 0.0;
  for (int draw = 0; draw < 300; ++draw) {
    const LineDefect line = random_line(image, gen);
    const double length = std::hypot(line.y1 - line.y0, line.x1 - line.x0);
    CHECK(length <= 40.0 / 5.0 + 1e-9);
    CHECK(line.width >= 1.0);
    CHECK(line.width <= 40.0 / 16.0);
    for (const double v : {line.y0, line.y1}) CHECK((v >= 0.0 && v <= 39.0));
    for (const double v : {line.x0, line.x1}) CHECK((v >= 0.0 && v <= 47.0));
    REQUIRE(line.colour.size() == 3);
    for (const float c : line.colour) CHECK((c >= 0.0f && c <= 255.0f));
    longest = std::max(longest, length);
    widest = std::max(widest, line.width);
    const Defect d = draw_line(image, line);
    const Footprint fp = footprint(d.mask);
    CHECK(fp.area >= 1);
    CHECK(diameter(d.mask) <= length + line.width + 1e-9);  // inside the line's capsule
    CHECK(unchanged_outside(image, d));
    const Tensor m = d.mask.contiguous(), out = d.image.contiguous();
    for (int64_t j = 0; j < 40 * 48; ++j)
      if (m.data()[j] != 0.0f)
        for (int64_t k = 0; k < 3; ++k) CHECK(out.data()[k * 40 * 48 + j] == line.colour[k]);
  }
  CHECK(longest > 7.0);  // the draws reach the bounds
  CHECK(widest > 2.0);
  // A grey image in three channels gets a grey line.
  const Tensor grey = cat({image.narrow(0, 0, 1), image.narrow(0, 0, 1), image.narrow(0, 0, 1)}, 0);
  for (int draw = 0; draw < 20; ++draw) {
    const LineDefect line = random_line(grey, gen);
    CHECK(line.colour[0] == line.colour[1]);
    CHECK(line.colour[1] == line.colour[2]);
  }
}

TEST_CASE("defects: CutPaste's area fraction and aspect ratio stay in the paper's ranges") {
  const Tensor image = random_image(3, 256, 256, 7);
  Generator gen(11);
  double min_area = 1.0, max_area = 0.0, min_aspect = 100.0, max_aspect = 0.0;
  for (int draw = 0; draw < 150; ++draw) {
    const Defect d = cut_paste(image, gen);
    CHECK(unchanged_outside(image, d));
    const Footprint fp = footprint(d.mask);
    REQUIRE(fp.area == fp.rows() * fp.cols());  // a box
    const double h = static_cast<double>(fp.rows()), w = static_cast<double>(fp.cols());
    const double fraction = fp.area / (256.0 * 256.0);
    const double slack = (0.5 * (h + w) + 0.25) / (256.0 * 256.0);  // w, h rounded
    CHECK(fraction >= 0.02 - slack);
    CHECK(fraction <= 0.15 + slack);
    CHECK(w / h >= 0.3 - (0.5 * 0.3 + 0.5) / h);
    CHECK(w / h <= 3.3 + (0.5 * 3.3 + 0.5) / h);
    min_area = std::min(min_area, fraction);
    max_area = std::max(max_area, fraction);
    min_aspect = std::min(min_aspect, w / h);
    max_aspect = std::max(max_aspect, w / h);
  }
  CHECK(min_area < 0.03);
  CHECK(max_area > 0.13);
  CHECK(min_aspect < 0.4);
  CHECK(max_aspect > 2.5);
}

TEST_CASE("defects: without jitter the pasted patch is a patch of the same image") {
  const Tensor image = random_image(1, 24, 24, 9);
  CutPasteOptions o;
  o.jitter = 0.0;
  Generator gen(3);
  for (int draw = 0; draw < 10; ++draw) {
    const Defect d = cut_paste(image, gen, o);
    const Footprint fp = footprint(d.mask);
    const Tensor pasted = d.image.narrow(1, fp.top, fp.rows()).narrow(2, fp.left, fp.cols());
    bool found = false;
    for (int64_t y = 0; y + fp.rows() <= 24 && !found; ++y)
      for (int64_t x = 0; x + fp.cols() <= 24 && !found; ++x)
        found = max_abs_diff(image.narrow(1, y, fp.rows()).narrow(2, x, fp.cols()), pasted) == 0.0f;
    CHECK(found);
  }
}

TEST_CASE("defects: scars are 2-16 by 10-25 px at 256 px, scaled to the image, turned by at most 45°") {
  ScarOptions straight;
  straight.max_degrees = 0.0;
  for (const int64_t side : {256, 32}) {
    CAPTURE(side);
    const Tensor image = random_image(3, side, side, 13);
    const double scale = side / 256.0;
    Generator gen(17);
    int64_t thinnest = 1 << 30, thickest = 0;
    for (int draw = 0; draw < 100; ++draw) {
      const Defect d = cut_paste_scar(image, gen, straight);
      CHECK(unchanged_outside(image, d));
      const Footprint fp = footprint(d.mask);
      REQUIRE(fp.area == fp.rows() * fp.cols());
      CHECK(fp.cols() >= std::max<int64_t>(1, std::lround(2 * scale)));
      CHECK(fp.cols() <= std::max<int64_t>(1, std::lround(16 * scale)));
      CHECK(fp.rows() >= std::max<int64_t>(1, std::lround(10 * scale)));
      CHECK(fp.rows() <= std::max<int64_t>(1, std::lround(25 * scale)));
      thinnest = std::min(thinnest, fp.cols());
      thickest = std::max(thickest, fp.cols());
    }
    CHECK(thinnest < thickest);
  }
  // Turned: the footprint's box is at most that of a 16×25 scar at 45°, its area about w·l.
  const Tensor image = random_image(3, 256, 256, 19);
  Generator gen(23);
  for (int draw = 0; draw < 50; ++draw) {
    const Defect d = cut_paste_scar(image, gen);
    CHECK(unchanged_outside(image, d));
    const Footprint fp = footprint(d.mask);
    CHECK(fp.rows() <= rotated_size(25, 16, 45.0).first);
    CHECK(fp.cols() <= rotated_size(25, 16, 45.0).second);
    CHECK(fp.area >= 2 * 10 / 2);
    CHECK(fp.area <= 16 * 25 * 3 / 2);
  }
}

TEST_CASE("defects: the same seed gives the same defect, another seed another") {
  const Tensor image = random_image(3, 32, 32, 29);
  const std::vector<DefectFn> makers{
      line_defect, [](const Tensor& x, Generator& g) { return cut_paste(x, g); },
      [](const Tensor& x, Generator& g) { return cut_paste_scar(x, g); }};
  for (size_t k = 0; k < makers.size(); ++k) {
    CAPTURE(k);
    Generator a(31), b(31), c(32);
    const Defect da = makers[k](image, a), db = makers[k](image, b), dc = makers[k](image, c);
    CHECK(max_abs_diff(da.image, db.image) == 0.0f);
    CHECK(max_abs_diff(da.mask, db.mask) == 0.0f);
    CHECK(max_abs_diff(da.image, dc.image) > 0.0f);
  }
}

TEST_CASE("defects: a batch in the network's scaling gets each image's defect, nothing else changes") {
  const Tensor pixels = random_image(3, 16, 16, 37).reshape({1, 3, 16, 16});
  const Tensor two = cat({pixels, mul(pixels, 0.5f)}, 0);  // (2,3,16,16), 0..255
  for (const Scaling s : {Scaling::unit, Scaling::symmetric, Scaling::imagenet}) {
    CAPTURE(scaling_name(s));
    Tensor x = two.clone();
    scale_pixels_(x, s);
    Generator gen(41), again(41);
    const DefectBatch batch = defect_batch(x, s, line_defect, gen);
    REQUIRE(batch.images.shape() == x.shape());
    REQUIRE(batch.masks.shape() == Shape({2, 16, 16}));
    for (int64_t i = 0; i < 2; ++i) {
      const Defect one = line_defect(two.select(0, i), again);  // the same draws, in order
      CHECK(max_abs_diff(batch.masks.select(0, i), one.mask) == 0.0f);
      Tensor expected = one.image.reshape({1, 3, 16, 16}).clone();
      scale_pixels_(expected, s);
      CHECK(max_abs_diff(batch.images.select(0, i), expected.select(0, 0)) < 1e-5f);
      // Outside the mask: the batch's values bit for bit.
      const Tensor m = one.mask.contiguous(), got = batch.images.select(0, i).contiguous(),
                   in = x.select(0, i).contiguous();
      for (int64_t k = 0; k < 3; ++k)
        for (int64_t j = 0; j < 256; ++j)
          if (m.data()[j] == 0.0f) CHECK(got.data()[k * 256 + j] == in.data()[k * 256 + j]);
    }
  }
}

TEST_CASE("defects: bad arguments are refused with a clear message") {
  const Tensor image = random_image(3, 16, 16, 43);
  Generator gen(1);
  LineDefect line;
  line.colour = {1.0f, 2.0f};
  CHECK_THROWS_WITH_AS(draw_line(image, line), doctest::Contains("[draw_line] the colour has 2 values for an image of 3 channels"), Error);
  line.colour = {1.0f, 2.0f, 3.0f};
  line.width = 0.0;
  CHECK_THROWS_WITH_AS(draw_line(image, line), doctest::Contains("width 0 must be positive"), Error);
  CHECK_THROWS_WITH_AS(line_defect(Tensor::zeros({16, 16}), gen),
                       doctest::Contains("[random_line] expected a non-empty (C,H,W) image"), Error);
  CutPasteOptions area;
  area.area_lo = 0.0;
  CHECK_THROWS_WITH_AS(cut_paste(image, gen, area), doctest::Contains("[cut_paste] the area fractions [0, 0.15]"), Error);
  CutPasteOptions aspect;
  aspect.aspect_lo = 4.0;
  CHECK_THROWS_WITH_AS(cut_paste(image, gen, aspect), doctest::Contains("aspect ratios [4, 3.3]"), Error);
  CutPasteOptions jitter;
  jitter.jitter = 0.7;
  CHECK_THROWS_WITH_AS(cut_paste(image, gen, jitter), doctest::Contains("jitter 0.7 must be in [0, 0.5]"), Error);
  ScarOptions turn;
  turn.max_degrees = 100.0;
  CHECK_THROWS_WITH_AS(cut_paste_scar(image, gen, turn), doctest::Contains("[cut_paste_scar] the rotation bound 100°"), Error);
  ScarOptions width;
  width.width_hi = 1.0;
  CHECK_THROWS_WITH_AS(cut_paste_scar(image, gen, width), doctest::Contains("the widths [2, 1]"), Error);
  CHECK_THROWS_WITH_AS(paste_patch(image, random_image(3, 4, 4, 1), 14, 0),
                       doctest::Contains("[paste_patch] a 4×4 box at (14, 0) does not fit in the 16×16 image"), Error);
  CHECK_THROWS_WITH_AS(paste_patch(image, random_image(1, 4, 4, 1), 0, 0),
                       doctest::Contains("channels differ"), Error);
  CHECK_THROWS_WITH_AS(defect_batch(image, Scaling::unit, line_defect, gen),
                       doctest::Contains("[defect_batch] expected an (N,C,H,W) batch"), Error);
}
