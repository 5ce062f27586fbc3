// transforms.cpp — resize, grey→RGB, scaling presets, random flip and crop, and the
// contrastive augmentations: resized crop, colour jitter, greying, Gaussian blur (see
// transforms.h).
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
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

// --- the contrastive augmentations ---------------------------------------------------------

namespace {

constexpr float kMaxPixel = 255.0f;  // torchvision's bound 1.0 for floats, in 0..255 pixels

// x must be (N,C,H,W) with C = 1 or 3; returns it contiguous.
Tensor check_colour_images(const Tensor& x_in, const char* op) {
  const Tensor x = check_images(x_in, op);
  KZ_CHECK(x.size(1) == 1 || x.size(1) == 3, op, "expected 1 or 3 channels, got {}",
           shape_str(x.shape()));
  return x;
}

// torchvision's _blend: clamp(r·a + (1−r)·b, 0, 255), r and 1 − r rounded to float.
inline float blend(float a, float b, float r, float r_rest) {
  return std::clamp(r * a + r_rest * b, 0.0f, kMaxPixel);
}

// ITU-R 601-2 luma as torchvision's rgb_to_grayscale, in float32 and that order.
inline float luma(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }

// Applies `one` (an image (1,C,H,W) -> (1,C',H',W')) to image i of x where `pick(i)`, and
// stacks the results; images not picked are copied. x is (N,C,H,W).
template <class One, class Pick>
Tensor per_image(const Tensor& x, Pick pick, One one) {
  const int64_t n = x.size(0);
  Tensor out;
  for (int64_t i = 0; i < n; ++i) {
    const Tensor img = x.narrow(0, i, 1);
    const Tensor y = pick(i) ? one(img).contiguous() : img.contiguous();
    if (!out.defined()) out = Tensor::empty({n, y.size(1), y.size(2), y.size(3)});
    KZ_CHECK(y.numel() * n == out.numel(), "augment", "images of different output sizes");
    std::memcpy(out.data() + i * y.numel(), y.data(), static_cast<size_t>(y.numel()) * sizeof(float));
  }
  return out;
}

}  // namespace

Tensor resized_crop(const Tensor& x_in, int64_t top, int64_t left, int64_t height, int64_t width,
                    int64_t oh, int64_t ow) {
  const Tensor x = check_images(x_in, "resized_crop");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  KZ_CHECK(top >= 0 && left >= 0 && height >= 1 && width >= 1 && top + height <= h &&
               left + width <= w,
           "resized_crop", "window rows {}..{}, columns {}..{} is not inside the {}x{} image",
           top, top + height - 1, left, left + width - 1, h, w);
  Tensor crop = Tensor::empty({n, c, height, width});
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t y = 0; y < height; ++y)
      std::memcpy(crop.data() + (p * height + y) * width, x.data() + (p * h + top + y) * w + left,
                  static_cast<size_t>(width) * sizeof(float));
  return resize_bilinear(crop, oh, ow);
}

Tensor rgb_to_grayscale(const Tensor& x_in, int64_t channels) {
  const Tensor x = check_colour_images(x_in, "rgb_to_grayscale");
  KZ_CHECK(channels == 1 || channels == 3, "rgb_to_grayscale",
           "output channels must be 1 or 3, got {}", channels);
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({n, channels, x.size(2), x.size(3)});
  for (int64_t i = 0; i < n; ++i) {
    const float* src = x.data() + i * c * hw;
    float* dst = out.data() + i * channels * hw;
    for (int64_t j = 0; j < hw; ++j)
      dst[j] = c == 1 ? src[j] : luma(src[j], src[hw + j], src[2 * hw + j]);
    for (int64_t k = 1; k < channels; ++k)
      std::memcpy(dst + k * hw, dst, static_cast<size_t>(hw) * sizeof(float));
  }
  return out;
}

Tensor adjust_brightness(const Tensor& x_in, float factor) {
  const Tensor x = check_colour_images(x_in, "adjust_brightness");
  KZ_CHECK(factor >= 0, "adjust_brightness", "factor {} must not be negative", factor);
  Tensor out = Tensor::empty(x.shape());
  const float rest = static_cast<float>(1.0 - static_cast<double>(factor));
  for (int64_t j = 0; j < x.numel(); ++j) out.data()[j] = blend(x.data()[j], 0.0f, factor, rest);
  return out;
}

Tensor adjust_contrast(const Tensor& x_in, float factor) {
  const Tensor x = check_colour_images(x_in, "adjust_contrast");
  KZ_CHECK(factor >= 0, "adjust_contrast", "factor {} must not be negative", factor);
  const Tensor grey = rgb_to_grayscale(x, 1);
  const int64_t n = x.size(0), per_image = x.numel() / n, hw = grey.numel() / n;
  const float rest = static_cast<float>(1.0 - static_cast<double>(factor));
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < hw; ++j) sum += grey.data()[i * hw + j];
    const auto mean = static_cast<float>(sum / static_cast<double>(hw));
    for (int64_t j = i * per_image; j < (i + 1) * per_image; ++j)
      out.data()[j] = blend(x.data()[j], mean, factor, rest);
  }
  return out;
}

Tensor adjust_saturation(const Tensor& x_in, float factor) {
  const Tensor x = check_colour_images(x_in, "adjust_saturation");
  KZ_CHECK(factor >= 0, "adjust_saturation", "factor {} must not be negative", factor);
  if (x.size(1) == 1) return x.clone();
  const Tensor grey = rgb_to_grayscale(x, 1);
  const int64_t n = x.size(0), hw = grey.numel() / n;
  const float rest = static_cast<float>(1.0 - static_cast<double>(factor));
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < 3; ++k)
      for (int64_t j = 0; j < hw; ++j)
        out.data()[(i * 3 + k) * hw + j] =
            blend(x.data()[(i * 3 + k) * hw + j], grey.data()[i * hw + j], factor, rest);
  return out;
}

Tensor adjust_hue(const Tensor& x_in, float hue) {
  const Tensor x = check_colour_images(x_in, "adjust_hue");
  KZ_CHECK(hue >= -0.5f && hue <= 0.5f, "adjust_hue", "hue {} is not in [-0.5, 0.5]", hue);
  if (x.size(1) == 1) return x.clone();
  const int64_t n = x.size(0), hw = x.size(2) * x.size(3);
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < n; ++i) {
    const float* src = x.data() + i * 3 * hw;
    float* dst = out.data() + i * 3 * hw;
    for (int64_t j = 0; j < hw; ++j) {
      // _rgb2hsv, on values in [0, 1].
      const float r = src[j] / kMaxPixel, g = src[hw + j] / kMaxPixel,
                  b = src[2 * hw + j] / kMaxPixel;
      const float maxc = std::max({r, g, b}), minc = std::min({r, g, b});
      const bool eqc = maxc == minc;
      const float cr = maxc - minc;
      const float s = cr / (eqc ? 1.0f : maxc);
      const float cr_div = eqc ? 1.0f : cr;
      const float rc = (maxc - r) / cr_div, gc = (maxc - g) / cr_div, bc = (maxc - b) / cr_div;
      const float hr = maxc == r ? bc - gc : 0.0f;
      const float hg = maxc == g && maxc != r ? 2.0f + rc - bc : 0.0f;
      const float hb = maxc != g && maxc != r ? 4.0f + gc - rc : 0.0f;
      float h = std::fmod((hr + hg + hb) / 6.0f + 1.0f, 1.0f);
      // h ← (h + hue) mod 1 (torch.remainder: a − floor(a / b)·b).
      h = h + hue;
      h = h - std::floor(h);
      // _hsv2rgb.
      const float v = maxc;
      const float i6 = std::floor(h * 6.0f), f = h * 6.0f - i6;
      const int sector = static_cast<int>(i6) % 6;
      const float p = std::clamp(v * (1.0f - s), 0.0f, 1.0f);
      const float q = std::clamp(v * (1.0f - s * f), 0.0f, 1.0f);
      const float t = std::clamp(v * (1.0f - s * (1.0f - f)), 0.0f, 1.0f);
      const float rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
      for (int k = 0; k < 3; ++k) dst[k * hw + j] = rgb[sector][k] * kMaxPixel;
    }
  }
  return out;
}

Tensor gaussian_blur(const Tensor& x_in, int64_t kernel_size, float sigma) {
  const Tensor x = check_images(x_in, "gaussian_blur");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t half = kernel_size / 2;
  KZ_CHECK(kernel_size >= 1 && kernel_size % 2 == 1, "gaussian_blur",
           "kernel size {} must be odd and positive", kernel_size);
  KZ_CHECK(sigma > 0, "gaussian_blur", "sigma {} must be positive", sigma);
  KZ_CHECK(half < h && half < w, "gaussian_blur",
           "kernel size {} needs images larger than {}x{} (reflect padding of {})", kernel_size,
           half, half, half);
  // _get_gaussian_kernel1d, in float32.
  std::vector<float> g(static_cast<size_t>(kernel_size));
  float sum = 0;
  for (int64_t i = 0; i < kernel_size; ++i) {
    const float t = (static_cast<float>(i - half)) / sigma;
    g[static_cast<size_t>(i)] = std::exp(-0.5f * t * t);
    sum += g[static_cast<size_t>(i)];
  }
  for (float& v : g) v /= sum;
  auto reflect = [](int64_t i, int64_t size) { return i < 0 ? -i : i >= size ? 2 * size - 2 - i : i; };
  Tensor out = Tensor::empty(x.shape());
  std::vector<float> rows(static_cast<size_t>(h * w));  // blurred along each row
  for (int64_t p = 0; p < n * c; ++p) {
    const float* src = x.data() + p * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        float acc = 0;
        for (int64_t k = 0; k < kernel_size; ++k)
          acc += g[static_cast<size_t>(k)] * src[y * w + reflect(xx + k - half, w)];
        rows[static_cast<size_t>(y * w + xx)] = acc;
      }
    float* dst = out.data() + p * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        float acc = 0;
        for (int64_t k = 0; k < kernel_size; ++k)
          acc += g[static_cast<size_t>(k)] * rows[static_cast<size_t>(reflect(y + k - half, h) * w + xx)];
        dst[y * w + xx] = acc;
      }
  }
  return out;
}

CropBox random_resized_crop_box(int64_t h, int64_t w, Generator& gen, float scale_lo,
                                float scale_hi, float ratio_lo, float ratio_hi) {
  KZ_CHECK(h >= 1 && w >= 1, "random_resized_crop", "image size {}x{} is empty", h, w);
  KZ_CHECK(0 < scale_lo && scale_lo <= scale_hi && scale_hi <= 1, "random_resized_crop",
           "scale ({}, {}) must satisfy 0 < low <= high <= 1", scale_lo, scale_hi);
  KZ_CHECK(0 < ratio_lo && ratio_lo <= ratio_hi, "random_resized_crop",
           "ratio ({}, {}) must satisfy 0 < low <= high", ratio_lo, ratio_hi);
  const double area = static_cast<double>(h * w);
  const float log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * static_cast<double>(gen.uniform(scale_lo, scale_hi));
    const double aspect = std::exp(static_cast<double>(gen.uniform(log_lo, log_hi)));
    const auto cw = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
    const auto ch = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
    if (0 < cw && cw <= w && 0 < ch && ch <= h) {
      const auto top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - ch + 1)));
      const auto left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - cw + 1)));
      return {top, left, ch, cw};
    }
  }
  // Fallback: the central crop, its aspect ratio clamped to the range.
  const double in_ratio = static_cast<double>(w) / static_cast<double>(h);
  int64_t cw = w, ch = h;
  if (in_ratio < ratio_lo)
    ch = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio_lo));
  else if (in_ratio > ratio_hi)
    cw = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio_hi));
  return {(h - ch) / 2, (w - cw) / 2, ch, cw};
}

Tensor random_resized_crop(const Tensor& x_in, int64_t oh, int64_t ow, Generator& gen,
                           float scale_lo, float scale_hi, float ratio_lo, float ratio_hi) {
  const Tensor x = check_images(x_in, "random_resized_crop");
  return per_image(x, [](int64_t) { return true; }, [&](const Tensor& img) {
    const CropBox b =
        random_resized_crop_box(x.size(2), x.size(3), gen, scale_lo, scale_hi, ratio_lo, ratio_hi);
    return resized_crop(img, b.top, b.left, b.height, b.width, oh, ow);
  });
}

Tensor random_color_jitter(const Tensor& x_in, const ColorJitterOptions& o, Generator& gen,
                           float p) {
  const Tensor x = check_colour_images(x_in, "random_color_jitter");
  KZ_CHECK(o.brightness >= 0 && o.contrast >= 0 && o.saturation >= 0, "random_color_jitter",
           "brightness, contrast and saturation ({}, {}, {}) must not be negative", o.brightness,
           o.contrast, o.saturation);
  KZ_CHECK(o.hue >= 0 && o.hue <= 0.5f, "random_color_jitter", "hue {} must be in [0, 0.5]",
           o.hue);
  auto factor = [&](float strength) {
    return gen.uniform(std::max(0.0f, 1.0f - strength), 1.0f + strength);
  };
  return per_image(x, [&](int64_t) { return gen.uniform() < p; }, [&](const Tensor& img) {
    const std::vector<int64_t> order = random_permutation(4, gen);
    const float b = o.brightness > 0 ? factor(o.brightness) : 1.0f;
    const float c = o.contrast > 0 ? factor(o.contrast) : 1.0f;
    const float s = o.saturation > 0 ? factor(o.saturation) : 1.0f;
    const float h = o.hue > 0 ? gen.uniform(-o.hue, o.hue) : 0.0f;
    Tensor y = img;
    for (const int64_t step : order) {
      if (step == 0 && o.brightness > 0) y = adjust_brightness(y, b);
      if (step == 1 && o.contrast > 0) y = adjust_contrast(y, c);
      if (step == 2 && o.saturation > 0) y = adjust_saturation(y, s);
      if (step == 3 && o.hue > 0) y = adjust_hue(y, h);
    }
    return y;
  });
}

Tensor random_grayscale(const Tensor& x_in, Generator& gen, float p) {
  const Tensor x = check_colour_images(x_in, "random_grayscale");
  return per_image(x, [&](int64_t) { return gen.uniform() < p; },
                   [&](const Tensor& img) { return rgb_to_grayscale(img, img.size(1)); });
}

Tensor random_gaussian_blur(const Tensor& x_in, int64_t kernel_size, Generator& gen,
                            float sigma_lo, float sigma_hi, float p) {
  const Tensor x = check_images(x_in, "random_gaussian_blur");
  KZ_CHECK(0 < sigma_lo && sigma_lo <= sigma_hi, "random_gaussian_blur",
           "sigma ({}, {}) must satisfy 0 < low <= high", sigma_lo, sigma_hi);
  return per_image(x, [&](int64_t) { return gen.uniform() < p; }, [&](const Tensor& img) {
    return gaussian_blur(img, kernel_size, gen.uniform(sigma_lo, sigma_hi));
  });
}

}  // namespace kz
