// conv_autoencoder.cpp — the convolutional encoder, decoder and autoencoder (see
// conv_autoencoder.h).
#include "layers/conv_autoencoder.h"

#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/simple.h"

namespace kz {

namespace {

// s_0 … s_S: the map size before the first stage and after each.
std::vector<int64_t> stage_sizes(int64_t image_size, size_t stages) {
  std::vector<int64_t> s{image_size};
  for (size_t i = 0; i < stages; ++i) s.push_back(s.back() / 2);  // k 4, stride 2, pad 1
  return s;
}

const std::vector<int64_t>& widths_of(const ConvAutoencoderOptions& o,
                                      std::vector<int64_t>& storage) {
  storage = o.widths.empty() ? default_widths(o.image_size) : o.widths;
  KZ_CHECK(o.channels >= 1 && o.latent_dim >= 1 && !storage.empty(), "ConvAutoencoder",
           "channels {} and latent_dim {} must be positive, with at least one stage",
           o.channels, o.latent_dim);
  KZ_CHECK(o.image_size >> storage.size() >= 1, "ConvAutoencoder",
           "a {}×{} image is too small for {} stages that each halve it", o.image_size,
           o.image_size, storage.size());
  return storage;
}

}  // namespace

std::vector<int64_t> default_widths(int64_t image_size) {
  if (image_size <= 64) return {32, 64, 128};
  return {32, 64, 128, 256};
}

ConvEncoder::ConvEncoder(const ConvAutoencoderOptions& o, int64_t out_features, Generator& gen)
    : channels_(o.channels), image_size_(o.image_size) {
  std::vector<int64_t> storage;
  const std::vector<int64_t>& w = widths_of(o, storage);
  const std::vector<int64_t> s = stage_sizes(o.image_size, w.size());
  features_ = register_module("features", std::make_shared<Sequential>());
  int64_t in = o.channels;
  for (const int64_t width : w) {
    features_->add(std::make_shared<Conv2d>(in, width, 4, Conv2dOptions{.stride = 2, .padding = 1}, gen));
    features_->add(std::make_shared<BatchNorm2d>(width));
    features_->add(std::make_shared<LeakyReLU>(o.negative_slope));
    in = width;
  }
  fc_ = register_module("fc", std::make_shared<Linear>(in * s.back() * s.back(), out_features,
                                                       true, gen));
}

Variable ConvEncoder::forward(const Variable& x) {
  const Shape& xs = x.shape();
  KZ_CHECK(xs.size() == 4 && xs[1] == channels_ && xs[2] == image_size_ && xs[3] == image_size_,
           "ConvEncoder", "expected (N,{},{},{}) images, got {}", channels_, image_size_,
           image_size_, shape_str(xs));
  return observed_forward(*fc_, flatten(observed_forward(*features_, x), 1));
}

ConvDecoder::ConvDecoder(const ConvAutoencoderOptions& o, int64_t out_channels, Generator& gen)
    : latent_dim_(o.latent_dim) {
  std::vector<int64_t> storage;
  const std::vector<int64_t>& w = widths_of(o, storage);
  const std::vector<int64_t> s = stage_sizes(o.image_size, w.size());
  first_channels_ = w.back();
  first_size_ = s.back();
  fc_ = register_module("fc", std::make_shared<Linear>(o.latent_dim,
                                                       first_channels_ * first_size_ * first_size_,
                                                       true, gen));
  features_ = register_module("features", std::make_shared<Sequential>());
  features_->add(std::make_shared<BatchNorm2d>(first_channels_));
  features_->add(std::make_shared<LeakyReLU>(o.negative_slope));
  for (size_t i = w.size(); i >= 1; --i) {
    const int64_t in = w[i - 1], out = i == 1 ? out_channels : w[i - 2];
    ConvTranspose2dOptions t;
    t.stride = 2;
    t.padding = 1;
    t.output_padding = s[i - 1] - 2 * s[i];  // 0 or 1: gives back s_{i−1} exactly
    features_->add(std::make_shared<ConvTranspose2d>(in, out, 4, t, gen));
    if (i == 1) break;
    features_->add(std::make_shared<BatchNorm2d>(out));
    features_->add(std::make_shared<LeakyReLU>(o.negative_slope));
  }
}

Variable ConvDecoder::forward(const Variable& z) {
  KZ_CHECK(z.dim() == 2 && z.shape()[1] == latent_dim_, "ConvDecoder",
           "expected (N,{}) codes, got {}", latent_dim_, shape_str(z.shape()));
  const Variable h = reshape(observed_forward(*fc_, z), {z.shape()[0], first_channels_, first_size_,
                                               first_size_});
  return observed_forward(*features_, h);
}

ConvAutoencoder::ConvAutoencoder(const ConvAutoencoderOptions& o, Generator& gen)
    : options_(o) {
  encoder_ = register_module("encoder", std::make_shared<ConvEncoder>(o, o.latent_dim, gen));
  decoder_ = register_module("decoder", std::make_shared<ConvDecoder>(o, o.channels, gen));
}

Variable ConvAutoencoder::encode(const Variable& x) { return observed_forward(*encoder_, x); }
Variable ConvAutoencoder::decode(const Variable& z) { return sigmoid(observed_forward(*decoder_, z)); }
Variable ConvAutoencoder::forward(const Variable& x) { return decode(encode(x)); }

}  // namespace kz
