// defects.cpp — the synthetic defects of defects.h: the Anomaly Twin's line, CutPaste and
// CutPaste-scar, each with its mask, and their application to a network batch.
#include "data/defects.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include <fmt/format.h>

#include "tensor/error.h"

namespace kz {

namespace {

// image must be a defined (C,H,W) tensor with C, H, W >= 1; returns it contiguous.
Tensor check_image(const Tensor& image, const char* op) {
  KZ_CHECK(image.defined() && image.dim() == 3 && image.numel() > 0, op,
           "expected a non-empty (C,H,W) image, got {}",
           image.defined() ? shape_str(image.shape()) : "an undefined tensor");
  return image.contiguous();
}

// Whether every channel of image (C,H,W), contiguous, equals the first.
bool all_channels_equal(const Tensor& image) {
  const int64_t c = image.size(0), hw = image.size(1) * image.size(2);
  const float* p = image.data();
  for (int64_t k = 1; k < c; ++k)
    if (std::memcmp(p, p + k * hw, static_cast<size_t>(hw) * sizeof(float)) != 0) return false;
  return true;
}

// Python's round(): half to even.
int64_t round_half_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

void check_jitter(double jitter, const char* op) {
  KZ_CHECK(jitter >= 0.0 && jitter <= 0.5, op, "jitter {} must be in [0, 0.5]", jitter);
}

// The h×w patch of image (C,H,W) at (top, left), colour-jittered with strength `jitter`.
Tensor cut_jittered(const Tensor& image, int64_t top, int64_t left, int64_t h, int64_t w,
                    double jitter, Generator& gen) {
  const Tensor patch = image.narrow(1, top, h).narrow(2, left, w).contiguous();
  if (jitter <= 0.0) return patch;
  ColorJitterOptions o;
  o.brightness = o.contrast = o.saturation = o.hue = static_cast<float>(jitter);
  const Tensor batch = patch.reshape({1, patch.size(0), h, w});
  return random_color_jitter(batch, o, gen).reshape({patch.size(0), h, w});
}

}  // namespace

Defect draw_line(const Tensor& image_in, const LineDefect& line) {
  const Tensor image = check_image(image_in, "draw_line");
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  KZ_CHECK(static_cast<int64_t>(line.colour.size()) == c, "draw_line",
           "the colour has {} values for an image of {} channels", line.colour.size(), c);
  KZ_CHECK(std::isfinite(line.width) && line.width > 0.0, "draw_line",
           "the width {} must be positive", line.width);
  KZ_CHECK(std::isfinite(line.y0) && std::isfinite(line.x0) && std::isfinite(line.y1) &&
               std::isfinite(line.x1),
           "draw_line", "the end points must be finite");
  Defect out{image.clone(), Tensor::zeros({h, w})};
  const double dy = line.y1 - line.y0, dx = line.x1 - line.x0, len2 = dy * dy + dx * dx;
  const double r = line.width / 2.0;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      // The distance from the pixel centre to the nearest point of the segment.
      double t = len2 > 0.0 ? ((y - line.y0) * dy + (x - line.x0) * dx) / len2 : 0.0;
      t = std::clamp(t, 0.0, 1.0);
      const double ey = y - (line.y0 + t * dy), ex = x - (line.x0 + t * dx);
      if (ey * ey + ex * ex > r * r) continue;
      out.mask.data()[y * w + x] = 1.0f;
      for (int64_t k = 0; k < c; ++k) out.image.data()[(k * h + y) * w + x] = line.colour[k];
    }
  return out;
}

LineDefect random_line(const Tensor& image_in, Generator& gen) {
  const Tensor image = check_image(image_in, "random_line");
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  const double side = static_cast<double>(std::min(h, w));
  const double max_len = side / 5.0;
  LineDefect line;
  const double length = gen.uniform(static_cast<float>(std::min(1.0, max_len)),
                                    static_cast<float>(max_len));
  line.width = gen.uniform(1.0f, static_cast<float>(std::max(1.0, side / 16.0)));
  line.y0 = static_cast<double>(gen.below(static_cast<uint64_t>(h)));
  line.x0 = static_cast<double>(gen.below(static_cast<uint64_t>(w)));
  const double phi = gen.uniform(0.0f, static_cast<float>(2.0 * std::numbers::pi));
  line.y1 = std::clamp(line.y0 + length * std::sin(phi), 0.0, static_cast<double>(h - 1));
  line.x1 = std::clamp(line.x0 + length * std::cos(phi), 0.0, static_cast<double>(w - 1));
  if (all_channels_equal(image)) {
    line.colour.assign(static_cast<size_t>(c), gen.uniform(0.0f, 255.0f));
  } else {
    for (int64_t k = 0; k < c; ++k) line.colour.push_back(gen.uniform(0.0f, 255.0f));
  }
  return line;
}

Defect line_defect(const Tensor& image, Generator& gen) {
  return draw_line(image, random_line(image, gen));
}

std::pair<int64_t, int64_t> rotated_size(int64_t h, int64_t w, double degrees) {
  KZ_CHECK(h >= 1 && w >= 1 && std::isfinite(degrees), "rotated_size",
           "a {}×{} patch rotated by {}°: sizes must be >= 1 and the angle finite", h, w,
           degrees);
  if (degrees == 0.0) return {h, w};
  const double t = degrees * (std::numbers::pi / 180.0);  // as Python's math.radians
  const double cs = std::abs(std::cos(t)), sn = std::abs(std::sin(t));
  const auto bh = static_cast<int64_t>(std::ceil(h * cs + w * sn - 1e-6));
  const auto bw = static_cast<int64_t>(std::ceil(w * cs + h * sn - 1e-6));
  return {std::max<int64_t>(1, bh), std::max<int64_t>(1, bw)};
}

Defect paste_patch(const Tensor& image_in, const Tensor& patch_in, int64_t top, int64_t left,
                   double degrees) {
  const Tensor image = check_image(image_in, "paste_patch");
  const Tensor patch = check_image(patch_in, "paste_patch");
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  const int64_t ph = patch.size(1), pw = patch.size(2);
  KZ_CHECK(patch.size(0) == c, "paste_patch", "a patch {} into an image {}: channels differ",
           shape_str(patch.shape()), shape_str(image.shape()));
  const auto [bh, bw] = rotated_size(ph, pw, degrees);
  KZ_CHECK(top >= 0 && left >= 0 && top + bh <= h && left + bw <= w, "paste_patch",
           "a {}×{} box at ({}, {}) does not fit in the {}×{} image", bh, bw, top, left, h, w);
  Defect out{image.clone(), Tensor::zeros({h, w})};
  const double t = degrees * (std::numbers::pi / 180.0);  // as Python's math.radians
  const double cs = degrees == 0.0 ? 1.0 : std::cos(t), sn = degrees == 0.0 ? 0.0 : std::sin(t);
  for (int64_t r = 0; r < bh; ++r)
    for (int64_t q = 0; q < bw; ++q) {
      const double dy = r + 0.5 - bh / 2.0, dx = q + 0.5 - bw / 2.0;
      const auto sy = static_cast<int64_t>(std::floor(dx * sn + dy * cs + ph / 2.0));
      const auto sx = static_cast<int64_t>(std::floor(dx * cs - dy * sn + pw / 2.0));
      if (sy < 0 || sy >= ph || sx < 0 || sx >= pw) continue;
      const int64_t y = top + r, x = left + q;
      out.mask.data()[y * w + x] = 1.0f;
      for (int64_t k = 0; k < c; ++k)
        out.image.data()[(k * h + y) * w + x] = patch.data()[(k * ph + sy) * pw + sx];
    }
  return out;
}

Defect cut_paste(const Tensor& image_in, Generator& gen, const CutPasteOptions& o) {
  const Tensor image = check_image(image_in, "cut_paste");
  KZ_CHECK(0.0 < o.area_lo && o.area_lo <= o.area_hi && o.area_hi <= 1.0, "cut_paste",
           "the area fractions [{}, {}] must satisfy 0 < lo <= hi <= 1", o.area_lo, o.area_hi);
  KZ_CHECK(0.0 < o.aspect_lo && o.aspect_lo <= o.aspect_hi && std::isfinite(o.aspect_hi),
           "cut_paste", "the aspect ratios [{}, {}] must satisfy 0 < lo <= hi", o.aspect_lo,
           o.aspect_hi);
  check_jitter(o.jitter, "cut_paste");
  const int64_t h = image.size(1), w = image.size(2);
  const double area = gen.uniform(static_cast<float>(o.area_lo), static_cast<float>(o.area_hi)) *
                      static_cast<double>(h * w);
  const double aspect = std::exp(gen.uniform(static_cast<float>(std::log(o.aspect_lo)),
                                             static_cast<float>(std::log(o.aspect_hi))));
  const int64_t pw = std::clamp<int64_t>(round_half_even(std::sqrt(area * aspect)), 1, w);
  const int64_t ph = std::clamp<int64_t>(round_half_even(std::sqrt(area / aspect)), 1, h);
  const auto from_top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - ph + 1)));
  const auto from_left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - pw + 1)));
  const Tensor patch = cut_jittered(image, from_top, from_left, ph, pw, o.jitter, gen);
  const auto to_top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - ph + 1)));
  const auto to_left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - pw + 1)));
  return paste_patch(image, patch, to_top, to_left);
}

Defect cut_paste_scar(const Tensor& image_in, Generator& gen, const ScarOptions& o) {
  const Tensor image = check_image(image_in, "cut_paste_scar");
  KZ_CHECK(0.0 < o.width_lo && o.width_lo <= o.width_hi && std::isfinite(o.width_hi),
           "cut_paste_scar", "the widths [{}, {}] must satisfy 0 < lo <= hi", o.width_lo,
           o.width_hi);
  KZ_CHECK(0.0 < o.length_lo && o.length_lo <= o.length_hi && std::isfinite(o.length_hi),
           "cut_paste_scar", "the lengths [{}, {}] must satisfy 0 < lo <= hi", o.length_lo,
           o.length_hi);
  KZ_CHECK(o.reference_size > 0.0 && std::isfinite(o.reference_size), "cut_paste_scar",
           "the reference size {} must be positive", o.reference_size);
  KZ_CHECK(o.max_degrees >= 0.0 && o.max_degrees <= 90.0, "cut_paste_scar",
           "the rotation bound {}° must be in [0, 90]", o.max_degrees);
  check_jitter(o.jitter, "cut_paste_scar");
  const int64_t h = image.size(1), w = image.size(2);
  const double scale = static_cast<double>(std::min(h, w)) / o.reference_size;
  const double width = gen.uniform(static_cast<float>(o.width_lo), static_cast<float>(o.width_hi));
  const double length =
      gen.uniform(static_cast<float>(o.length_lo), static_cast<float>(o.length_hi));
  const int64_t pw = std::clamp<int64_t>(round_half_even(width * scale), 1, w);
  const int64_t ph = std::clamp<int64_t>(round_half_even(length * scale), 1, h);
  const auto from_top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - ph + 1)));
  const auto from_left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - pw + 1)));
  const Tensor patch = cut_jittered(image, from_top, from_left, ph, pw, o.jitter, gen);
  const double degrees = gen.uniform(static_cast<float>(-o.max_degrees),
                                     static_cast<float>(o.max_degrees));
  const auto [bh, bw] = rotated_size(ph, pw, degrees);
  KZ_CHECK(bh <= h && bw <= w, "cut_paste_scar",
           "a {}×{} scar turned by {:.1f}° needs {}×{} pixels; the image is {}×{}", ph, pw,
           degrees, bh, bw, h, w);
  const auto to_top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - bh + 1)));
  const auto to_left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - bw + 1)));
  return paste_patch(image, patch, to_top, to_left, degrees);
}

DefectBatch defect_batch(const Tensor& x_in, Scaling scaling, const DefectFn& defect,
                         Generator& gen) {
  KZ_CHECK(x_in.defined() && x_in.dim() == 4, "defect_batch",
           "expected an (N,C,H,W) batch, got {}",
           x_in.defined() ? shape_str(x_in.shape()) : "an undefined tensor");
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), hw = h * w;
  KZ_CHECK(scaling != Scaling::imagenet || c == 3, "defect_batch",
           "imagenet scaling needs 3 channels, got {}", shape_str(x.shape()));
  static constexpr float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
  // Back to 0..255 (the inverse of scale_pixels_).
  Tensor pixels = x.clone();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      float* p = pixels.data() + (i * c + k) * hw;
      for (int64_t j = 0; j < hw; ++j) {
        if (scaling == Scaling::unit) p[j] = p[j] * 255.0f;
        else if (scaling == Scaling::symmetric) p[j] = (p[j] + 1.0f) * 127.5f;
        else if (scaling == Scaling::imagenet) p[j] = (p[j] * kStd[k] + kMean[k]) * 255.0f;
      }
    }
  DefectBatch out{x.clone(), Tensor::zeros({n, h, w})};
  for (int64_t i = 0; i < n; ++i) {
    const Defect d = defect(pixels.select(0, i), gen);
    KZ_CHECK(d.image.defined() && d.image.shape() == Shape({c, h, w}) && d.mask.defined() &&
                 d.mask.shape() == Shape({h, w}),
             "defect_batch", "the defect changed the image's shape");
    Tensor scaled = d.image.contiguous().reshape({1, c, h, w}).clone();
    scale_pixels_(scaled, scaling);
    const Tensor mask = d.mask.contiguous();
    std::memcpy(out.masks.data() + i * hw, mask.data(), static_cast<size_t>(hw) * sizeof(float));
    // Only the defect's pixels change: the others stay the batch's bit for bit.
    for (int64_t k = 0; k < c; ++k)
      for (int64_t j = 0; j < hw; ++j)
        if (mask.data()[j] != 0.0f)
          out.images.data()[(i * c + k) * hw + j] = scaled.data()[k * hw + j];
  }
  return out;
}

DefectFn defect_by_name(const std::string& name, const std::string& where) {
  if (name == "line") return [](const Tensor& x, Generator& g) { return line_defect(x, g); };
  if (name == "cutpaste") return [](const Tensor& x, Generator& g) { return cut_paste(x, g); };
  if (name == "scar") return [](const Tensor& x, Generator& g) { return cut_paste_scar(x, g); };
  fail(where, fmt::format("unknown defect '{}' (line, cutpaste or scar)", name));
}

DefectImages defect_images(const ImageDataset& data, const DefectFn& defect, int64_t n,
                           uint64_t seed) {
  KZ_CHECK(!data.table, "defect_images", "{} is a table: defects are drawn on images",
           data.source);
  KZ_CHECK(n >= 1 && n <= data.size(), "defect_images",
           "{}: {} defective images wanted, it has {}", data.source, n, data.size());
  Generator gen(seed);
  const std::vector<int64_t> perm = random_permutation(data.size(), gen);
  DefectImages out;
  out.index.assign(perm.begin(), perm.begin() + n);
  out.images = data.subset(out.index);
  out.images.labels.assign(static_cast<size_t>(n), 0);
  out.images.class_names = {"with a synthetic defect"};
  const int64_t hw = data.height * data.width, numel = data.image_numel();
  out.masks = Tensor::zeros({n, data.height, data.width});
  float* masks = out.masks.data();
  for (int64_t i = 0; i < n; ++i) {
    const Defect d = defect(out.images.to_tensor(i, 1).reshape({data.channels, data.height,
                                                                 data.width}),
                            gen);
    const Tensor image = d.image.contiguous(), mask = d.mask.contiguous();
    const float* px = image.data();
    uint8_t* dst = out.images.pixels.data() + i * numel;
    for (int64_t k = 0; k < numel; ++k)
      dst[k] = static_cast<uint8_t>(std::clamp(std::lround(px[k]), 0L, 255L));
    std::memcpy(masks + i * hw, mask.data(), static_cast<size_t>(hw) * sizeof(float));
  }
  return out;
}

}  // namespace kz
