// inpainter.cpp — the partial-convolution U-Net trained on normal images, and its fill of
// occlusion squares (see inpainter.h).
#include "anomaly/inpainter.h"

#include <algorithm>
#include <cmath>

#include "optim/adam.h"
#include "tensor/ops.h"

namespace kz {

namespace {

// Images [first, first+count) of `data` as (count,C,H,W) floats in [0, 1].
Tensor unit_images(const ImageDataset& data, int64_t first, int64_t count) {
  return mul(data.to_tensor(first, count), 1.0f / 255.0f);
}

void make_hole(float* m, int64_t w, int64_t y0, int64_t x0, int64_t hh, int64_t ww) {
  for (int64_t y = y0; y < y0 + hh; ++y)
    for (int64_t x = x0; x < x0 + ww; ++x) m[y * w + x] = 0.0f;
}

}  // namespace

Tensor inpainting_masks(int64_t n, int64_t h, int64_t w, int64_t square, Generator& gen) {
  KZ_CHECK(n >= 1 && h >= 1 && w >= 1 && square >= 1, "inpainter",
           "masks of {} images {}×{} with a square of {}", n, h, w, square);
  const int64_t s = std::min({square, h, w});
  Tensor out = Tensor::ones({n, 1, h, w});
  float* m = out.data();
  for (int64_t i = 0; i < n; ++i) {
    float* mi = m + i * h * w;
    const auto y = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - s + 1)));
    const auto x = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - s + 1)));
    make_hole(mi, w, y, x, s, s);
    const auto rectangles = static_cast<int64_t>(gen.below(3));
    for (int64_t r = 0; r < rectangles; ++r) {
      const int64_t rh = 1 + static_cast<int64_t>(gen.below(static_cast<uint64_t>((h + 1) / 2)));
      const int64_t rw = 1 + static_cast<int64_t>(gen.below(static_cast<uint64_t>((w + 1) / 2)));
      const auto ry = static_cast<int64_t>(gen.below(static_cast<uint64_t>(h - rh + 1)));
      const auto rx = static_cast<int64_t>(gen.below(static_cast<uint64_t>(w - rw + 1)));
      make_hole(mi, w, ry, rx, rh, rw);
    }
  }
  return out;
}

Inpainter::Inpainter(const PartialUNetOptions& net, int64_t height, int64_t width,
                     Generator& gen)
    : net_(std::make_shared<PartialUNet>(net, gen)), height_(height), width_(width) {
  const int64_t smallest = int64_t{1} << net.widths.size();
  KZ_CHECK(height >= smallest && width >= smallest && height <= 4096 && width <= 4096,
           "inpainter", "{}×{} images do not fit a U-Net of {} levels (at least {} px a side)",
           height, width, net.widths.size(), smallest);
  net_->eval();
}

std::shared_ptr<Inpainter> Inpainter::train(const ImageDataset& normal,
                                            const InpainterOptions& o, Generator& gen) {
  KZ_CHECK(!normal.table && normal.size() >= 2, "inpainter",
           "{}: the inpainter trains on at least 2 normal images, got {}{}", normal.source,
           normal.size(), normal.table ? " table rows" : "");
  KZ_CHECK(o.epochs >= 1 && o.batch_size >= 2 && o.lr > 0.0 && o.mask_size >= 1 &&
               o.max_images >= 2,
           "inpainter", "epochs {}, batch {}, lr {}, mask size {}, images {}: each must be "
           "positive (batch and images at least 2)", o.epochs, o.batch_size, o.lr,
           o.mask_size, o.max_images);
  PartialUNetOptions net;
  net.channels = normal.channels;
  net.widths = o.widths;
  auto in = std::make_shared<Inpainter>(net, normal.height, normal.width, gen);
  const int64_t n = std::min(normal.size(), o.max_images);
  const Tensor all = unit_images(normal, 0, n);
  AdamOptions ao;
  ao.lr = o.lr;
  Adam adam(in->net_->parameters(), ao);
  in->net_->train();
  for (int64_t e = 0; e < o.epochs; ++e) {
    const std::vector<int64_t> order = random_permutation(n, gen);
    double total = 0.0;
    int64_t batches = 0;
    for (int64_t first = 0; first < n; first += o.batch_size) {
      const int64_t count = std::min(o.batch_size, n - first);
      if (count < 2) break;  // batch norm needs two images
      const std::vector<int64_t> idx(order.begin() + first, order.begin() + first + count);
      const Tensor x = index_select0(all, idx);
      const Tensor mask = inpainting_masks(count, in->height_, in->width_, o.mask_size, gen);
      const Variable loss = inpainting_loss(in->net_->forward(Variable(x), mask), x, mask);
      const double value = loss.item();
      KZ_CHECK(std::isfinite(value), "inpainter",
               "the inpainting loss is {} at epoch {} batch {}: training diverged (try a "
               "lower learning rate)", value, e + 1, batches + 1);
      adam.zero_grad();
      loss.backward();
      adam.step();
      total += value;
      ++batches;
    }
    in->final_loss_ = total / static_cast<double>(std::max<int64_t>(1, batches));
  }
  in->net_->eval();
  return in;
}

Tensor Inpainter::predict(const Tensor& x, const Tensor& mask) const {
  NoGradGuard no_grad;
  return net_->forward(Variable(x), mask).data();
}

void Inpainter::fill_squares(ImageDataset& copies, const std::vector<Square>& corners,
                             int64_t size) const {
  const int64_t c = channels(), h = height_, w = width_;
  KZ_CHECK(!copies.table && copies.channels == c && copies.height == h && copies.width == w &&
               static_cast<int64_t>(corners.size()) == copies.size() && size >= 1 &&
               size <= std::min(h, w),
           "inpainter", "{} copies of {}×{}×{} with {} squares of {} px, for an inpainter of "
           "{}×{}×{} images", copies.size(), copies.channels, copies.height, copies.width,
           corners.size(), size, c, h, w);
  constexpr int64_t kChunk = 256;
  for (int64_t first = 0; first < copies.size(); first += kChunk) {
    const int64_t count = std::min(kChunk, copies.size() - first);
    Tensor mask = Tensor::ones({count, 1, h, w});
    for (int64_t k = 0; k < count; ++k) {
      const Square& q = corners[static_cast<size_t>(first + k)];
      KZ_CHECK(q.y >= 0 && q.x >= 0 && q.y + size <= h && q.x + size <= w, "inpainter",
               "a {}-px square at ({}, {}) leaves the {}×{} image", size, q.y, q.x, h, w);
      make_hole(mask.data() + k * h * w, w, q.y, q.x, size, size);
    }
    const std::vector<float> out =
        predict(unit_images(copies, first, count), mask).contiguous().to_vector();
    for (int64_t k = 0; k < count; ++k) {
      const Square& q = corners[static_cast<size_t>(first + k)];
      uint8_t* px = copies.pixels.data() + (first + k) * c * h * w;
      const float* o = out.data() + k * c * h * w;
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = q.y; y < q.y + size; ++y)
          for (int64_t x = q.x; x < q.x + size; ++x) {
            const int64_t i = (ch * h + y) * w + x;
            px[i] = static_cast<uint8_t>(std::clamp(std::lround(o[i] * 255.0f), 0L, 255L));
          }
    }
  }
}

nlohmann::json Inpainter::architecture() const {
  return {{"channels", channels()}, {"height", height_}, {"width", width_},
          {"widths", net_->options().widths}};
}

std::shared_ptr<Inpainter> Inpainter::from_architecture(const nlohmann::json& a,
                                                        const std::string& where) {
  PartialUNetOptions net;
  int64_t h = 0, w = 0;
  try {
    net.channels = a.at("channels").get<int64_t>();
    net.widths = a.at("widths").get<std::vector<int64_t>>();
    h = a.at("height").get<int64_t>();
    w = a.at("width").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail(where, std::string("the inpainter's architecture is not valid: ") + e.what());
  }
  KZ_CHECK(net.channels >= 1 && net.channels <= 4 && !net.widths.empty() &&
               net.widths.size() <= 6,
           where, "the inpainter's architecture {} is out of range", a.dump());
  for (const int64_t width : net.widths)
    KZ_CHECK(width >= 1 && width <= 1024, where, "the inpainter's level width {} is out of range",
             width);
  Generator gen(0);  // overwritten by the loaded state
  return std::make_shared<Inpainter>(net, h, w, gen);
}

StateDict Inpainter::state_dict() const { return net_->state_dict(); }

void Inpainter::load_state_dict(const StateDict& state) { net_->load_state_dict(state); }

}  // namespace kz
