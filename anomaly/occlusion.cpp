// occlusion.cpp — occlusion maps of any detector: the score drop when a square is filled
// with the mean normal image or an inpainter's prediction (see occlusion.h).
#include "anomaly/occlusion.h"

#include <algorithm>
#include <cmath>

#include "data/loader.h"
#include "tensor/ops.h"

namespace kz {

void check_occlusion_options(const OcclusionOptions& o, const std::string& where) {
  KZ_CHECK(o.size >= 1, where, "the occlusion mask size must be at least 1 pixel, got {}", o.size);
  KZ_CHECK(o.stride >= 1 && o.stride <= o.size, where,
           "the occlusion stride must be in 1 … the mask size {} (a larger one leaves pixels "
           "no mask covers), got {}", o.size, o.stride);
  KZ_CHECK(o.inpaint == "mean" || o.inpaint == "unet", where,
           "unknown inpainting '{}': mean (the mean normal image) or unet (a "
           "partial-convolution U-Net trained on the normal images)", o.inpaint);
}

std::vector<int64_t> occlusion_offsets(int64_t n, int64_t size, int64_t stride) {
  KZ_CHECK(size >= 1 && stride >= 1 && size <= n, "occlusion",
           "a {}-pixel mask with stride {} does not fit a side of {} pixels", size, stride, n);
  std::vector<int64_t> out;
  for (int64_t o = 0; o + size <= n; o += stride) out.push_back(o);
  if (out.back() + size < n) out.push_back(n - size);
  return out;
}

Tensor occlusion_maps(const ImageDataset& images, const Tensor& fill, const OcclusionOptions& o,
                      const ImageScoreFn& score) {
  const int64_t c = images.channels, h = images.height, w = images.width;
  KZ_CHECK(fill.dim() == 3 && fill.size(0) == c && fill.size(1) == h && fill.size(2) == w,
           "occlusion", "the fill image is {}, but the images are ({}, {}, {})",
           shape_str(fill.shape()), c, h, w);
  const std::vector<float> fv = fill.contiguous().to_vector();
  std::vector<uint8_t> fill_bytes(fv.size());
  for (size_t i = 0; i < fv.size(); ++i)
    fill_bytes[i] = static_cast<uint8_t>(std::clamp(std::lround(fv[i]), 0L, 255L));
  const OcclusionFillFn with_mean = [fill_bytes, c, h, w](ImageDataset& copies,
                                                          const std::vector<Square>& corners,
                                                          int64_t size) {
    for (int64_t k = 0; k < copies.size(); ++k) {
      const Square& q = corners[static_cast<size_t>(k)];
      uint8_t* px = copies.pixels.data() + k * c * h * w;
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = q.y; y < q.y + size; ++y)
          for (int64_t x = q.x; x < q.x + size; ++x) {
            const int64_t i = (ch * h + y) * w + x;
            px[i] = fill_bytes[static_cast<size_t>(i)];
          }
    }
  };
  return occlusion_maps(images, with_mean, o, score);
}

Tensor occlusion_maps(const ImageDataset& images, const OcclusionFillFn& fill,
                      const OcclusionOptions& o, const ImageScoreFn& score) {
  check_occlusion_options(o, "occlusion");
  KZ_CHECK(!images.table, "occlusion", "{}: a table has no pixels to occlude", images.source);
  const int64_t h = images.height, w = images.width;
  KZ_CHECK(o.size <= std::min(h, w), "occlusion",
           "the mask size {} is larger than the {}x{} images", o.size, h, w);
  const std::vector<int64_t> ys = occlusion_offsets(h, o.size, o.stride);
  const std::vector<int64_t> xs = occlusion_offsets(w, o.size, o.stride);
  std::vector<Square> corners;
  for (const int64_t oy : ys)
    for (const int64_t ox : xs) corners.push_back({oy, ox});
  const auto positions = static_cast<int64_t>(corners.size());
  const int64_t numel = images.image_numel();
  Tensor maps = Tensor::zeros({images.size(), h, w});
  float* out = maps.data();
  for (int64_t n = 0; n < images.size(); ++n) {
    // The image itself, then one filled copy per mask position.
    ImageDataset copies = images.subset(std::vector<int64_t>(static_cast<size_t>(positions), n));
    fill(copies, corners, o.size);
    ImageDataset batch = images.subset(std::vector<int64_t>(static_cast<size_t>(positions + 1), n));
    std::copy(copies.pixels.begin(), copies.pixels.end(), batch.pixels.begin() + numel);
    const std::vector<double> s = score(batch);
    KZ_CHECK(static_cast<int64_t>(s.size()) == positions + 1, "occlusion",
             "the detector gave {} scores for {} images", s.size(), positions + 1);
    std::vector<double> total(static_cast<size_t>(h * w), 0.0), count(total.size(), 0.0);
    for (int64_t k = 0; k < positions; ++k) {
      const Square& q = corners[static_cast<size_t>(k)];
      const double drop = s[0] - s[static_cast<size_t>(k + 1)];
      for (int64_t y = q.y; y < q.y + o.size; ++y)
        for (int64_t x = q.x; x < q.x + o.size; ++x) {
          total[static_cast<size_t>(y * w + x)] += drop;
          count[static_cast<size_t>(y * w + x)] += 1.0;
        }
    }
    for (int64_t i = 0; i < h * w; ++i)
      out[n * h * w + i] = static_cast<float>(total[static_cast<size_t>(i)] /
                                              count[static_cast<size_t>(i)]);
  }
  return maps;
}

OcclusionFillFn inpainter_fill(std::shared_ptr<const Inpainter> inpainter) {
  KZ_CHECK(inpainter != nullptr, "occlusion", "--inpaint unet needs a trained inpainter");
  return [inpainter](ImageDataset& copies, const std::vector<Square>& corners, int64_t size) {
    inpainter->fill_squares(copies, corners, size);
  };
}

Tensor mean_image(const ImageDataset& images) {
  KZ_CHECK(images.size() > 0 && !images.table, "occlusion",
           "{}: the mean image needs at least one image", images.source);
  std::vector<double> total(static_cast<size_t>(images.image_numel()), 0.0);
  for (int64_t n = 0; n < images.size(); ++n) {
    const uint8_t* px = images.image(n);
    for (size_t i = 0; i < total.size(); ++i) total[i] += px[i];
  }
  Tensor out = Tensor::zeros({images.channels, images.height, images.width});
  float* o = out.data();
  for (size_t i = 0; i < total.size(); ++i)
    o[i] = static_cast<float>(total[i] / static_cast<double>(images.size()));
  return out;
}

ImageDataset resize_images(const ImageDataset& images, int64_t height, int64_t width) {
  if (images.height == height && images.width == width) return images;
  Preprocess p;
  p.height = height;
  p.width = width;
  p.rgb = false;
  p.scaling = Scaling::none;
  const std::vector<float> v = preprocess(images, p).contiguous().to_vector();
  ImageDataset out = images;
  out.height = height;
  out.width = width;
  out.pixels.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out.pixels[i] = static_cast<uint8_t>(std::clamp(std::lround(v[i]), 0L, 255L));
  return out;
}

}  // namespace kz
