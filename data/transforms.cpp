// transforms.cpp — resize, grey→RGB, scaling presets, random flip and crop (see transforms.h).
#include "data/transforms.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace kz {

const char* scaling_name(Scaling s) {
  switch (s) {
    case Scaling::none: return "none";
    case Scaling::unit: return "unit";
    case Scaling::symmetric: return "symmetric";
    case Scaling::imagenet: return "imagenet";
  }
  return "?";
}

Scaling parse_scaling(const std::string& name) {
  for (Scaling s : {Scaling::none, Scaling::unit, Scaling::symmetric, Scaling::imagenet})
    if (name == scaling_name(s)) return s;
  fail("scaling", fmt::format("unknown scaling '{}' (none, unit, symmetric, imagenet)", name));
}

namespace {

// x must be a 4-D image batch; returns it contiguous.
Tensor check_images(const Tensor& x, const char* op) {
  KZ_CHECK(x.defined() && x.dim() == 4, op, "expected an (N,C,H,W) tensor, got {}",
           x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  return x.contiguous();
}

// PyTorch's linear-interpolation taps along one dimension (align_corners=False): for each
// output i, input indices i0, i1 and weights w0, w1. As PyTorch 1.13 on CPU (measured against
// it): the ratio S/O in float, the source coordinate in double, the weights rounded to float.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
};
Taps linear_taps(int64_t in, int64_t out) {
  Taps t;
  const double scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t i = 0; i < out; ++i) {
    const double src = std::max(scale * (static_cast<double>(i) + 0.5) - 0.5, 0.0);
    const auto i0 = static_cast<int64_t>(src);
    const double l1 = std::clamp(src - static_cast<double>(i0), 0.0, 1.0);
    t.i0.push_back(i0);
    t.i1.push_back(i0 + (i0 < in - 1 ? 1 : 0));
    t.w0.push_back(static_cast<float>(1.0 - l1));
    t.w1.push_back(static_cast<float>(l1));
  }
  return t;
}

}  // namespace

void resize_bilinear_plane(const float* src, int64_t h, int64_t w, float* dst, int64_t oh,
                           int64_t ow) {
  const Taps rows = linear_taps(h, oh), cols = linear_taps(w, ow);
  for (int64_t y = 0; y < oh; ++y) {
    const float* r0 = src + rows.i0[y] * w;
    const float* r1 = src + rows.i1[y] * w;
    const float a = rows.w0[y], b = rows.w1[y];
    float* out = dst + y * ow;
    for (int64_t x = 0; x < ow; ++x) {
      const int64_t c0 = cols.i0[x], c1 = cols.i1[x];
      const float t0 = r0[c0] * cols.w0[x] + r0[c1] * cols.w1[x];
      const float t1 = r1[c0] * cols.w0[x] + r1[c1] * cols.w1[x];
      out[x] = t0 * a + t1 * b;
    }
  }
}

Tensor resize_bilinear(const Tensor& x_in, int64_t oh, int64_t ow) {
  const Tensor x = check_images(x_in, "resize_bilinear");
  KZ_CHECK(oh > 0 && ow > 0, "resize_bilinear", "output size {}x{} must be positive", oh, ow);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  KZ_CHECK(h > 0 && w > 0, "resize_bilinear", "cannot resize empty images {}",
           shape_str(x.shape()));
  Tensor out = Tensor::empty({n, c, oh, ow});
  const float* src = x.data();
  float* dst = out.data();
  for (int64_t p = 0; p < n * c; ++p)
    resize_bilinear_plane(src + p * h * w, h, w, dst + p * oh * ow, oh, ow);
  return out;
}

Tensor grey_to_rgb(const Tensor& x_in) {
  const Tensor x = check_images(x_in, "grey_to_rgb");
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  if (c == 3) return x;
  KZ_CHECK(c == 1, "grey_to_rgb", "expected 1 or 3 channels, got {}", shape_str(x.shape()));
  Tensor out = Tensor::empty({n, 3, x.size(2), x.size(3)});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < 3; ++k)
      std::memcpy(out.data() + (i * 3 + k) * hw, x.data() + i * hw,
                  static_cast<size_t>(hw) * sizeof(float));
  return out;
}

void scale_pixels_(Tensor& x, Scaling s) {
  KZ_CHECK(x.defined() && x.dim() == 4 && x.is_contiguous(), "scale_pixels",
           "expected a contiguous (N,C,H,W) tensor, got {}",
           x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  static constexpr float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
  KZ_CHECK(s != Scaling::imagenet || c == 3, "scale_pixels",
           "imagenet scaling needs 3 channels, got {}", shape_str(x.shape()));
  if (s == Scaling::none) return;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      float* p = x.data() + (i * c + k) * hw;
      // As torchvision: ToTensor divides by 255, then Normalize subtracts and divides.
      if (s == Scaling::unit)
        for (int64_t j = 0; j < hw; ++j) p[j] = p[j] / 255.0f;
      else if (s == Scaling::symmetric)
        for (int64_t j = 0; j < hw; ++j) p[j] = p[j] / 127.5f - 1.0f;
      else
        for (int64_t j = 0; j < hw; ++j) p[j] = (p[j] / 255.0f - kMean[k]) / kStd[k];
    }
}

Tensor random_horizontal_flip(const Tensor& x_in, Generator& gen, float p) {
  const Tensor x = check_images(x_in, "random_horizontal_flip");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = x.clone();
  for (int64_t i = 0; i < n; ++i) {
    if (!(gen.uniform() < p)) continue;
    for (int64_t row = 0; row < c * h; ++row) {
      const float* s = x.data() + (i * c * h + row) * w;
      float* d = out.data() + (i * c * h + row) * w;
      for (int64_t j = 0; j < w; ++j) d[j] = s[w - 1 - j];
    }
  }
  return out;
}

Tensor random_crop(const Tensor& x_in, int64_t padding, Generator& gen) {
  const Tensor x = check_images(x_in, "random_crop");
  KZ_CHECK(padding >= 0, "random_crop", "padding {} must not be negative", padding);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = Tensor::zeros({n, c, h, w});
  for (int64_t i = 0; i < n; ++i) {
    // Window origin in the padded image, then as a shift of the original.
    const int64_t dy = static_cast<int64_t>(gen.below(static_cast<uint64_t>(2 * padding + 1))) -
                       padding;
    const int64_t dx = static_cast<int64_t>(gen.below(static_cast<uint64_t>(2 * padding + 1))) -
                       padding;
    const int64_t x_lo = std::max<int64_t>(0, -dx), x_hi = std::min(w, w - dx);
    for (int64_t k = 0; k < c; ++k)
      for (int64_t y = std::max<int64_t>(0, -dy); y < std::min(h, h - dy); ++y) {
        const float* s = x.data() + ((i * c + k) * h + y + dy) * w;
        float* d = out.data() + ((i * c + k) * h + y) * w;
        if (x_hi > x_lo)
          std::memcpy(d + x_lo, s + x_lo + dx,
                      static_cast<size_t>(x_hi - x_lo) * sizeof(float));
      }
  }
  return out;
}

}  // namespace kz
