// dcgan.cpp — the DCGAN generator and discriminator (see dcgan.h).
#include "layers/dcgan.h"

#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/conv_transpose.h"
#include "layers/simple.h"
#include "tensor/ops.h"

namespace kz {

namespace {

// s_0 … s_3: the map sizes from the generator's first stage to the image.
std::vector<int64_t> dcgan_sizes(const DcganOptions& o) {
  KZ_CHECK(o.channels >= 1 && o.latent_dim >= 1 && o.width >= 1 && o.image_size >= 8, "dcgan",
           "channels {}, latent_dim {} and width {} must be positive and the image size {} "
           "at least 8", o.channels, o.latent_dim, o.width, o.image_size);
  std::vector<int64_t> s{o.image_size};
  for (int i = 0; i < 3; ++i) s.insert(s.begin(), s.front() / 2);
  return s;
}

}  // namespace

DcganGenerator::DcganGenerator(const DcganOptions& o, Generator& gen) : options_(o) {
  const std::vector<int64_t> s = dcgan_sizes(o);
  const int64_t w = o.width;
  features_ = register_module("features", std::make_shared<Sequential>());
  features_->add(std::make_shared<ConvTranspose2d>(o.latent_dim, 4 * w, s[0],
                                                   ConvTranspose2dOptions{}, gen));
  features_->add(std::make_shared<BatchNorm2d>(4 * w));
  features_->add(std::make_shared<ReLU>());
  const int64_t widths[4] = {4 * w, 2 * w, w, o.channels};
  for (int i = 1; i <= 3; ++i) {
    ConvTranspose2dOptions t;
    t.stride = 2;
    t.padding = 1;
    t.output_padding = s[static_cast<size_t>(i)] - 2 * s[static_cast<size_t>(i - 1)];
    features_->add(std::make_shared<ConvTranspose2d>(widths[i - 1], widths[i], 4, t, gen));
    if (i == 3) break;
    features_->add(std::make_shared<BatchNorm2d>(widths[i]));
    features_->add(std::make_shared<ReLU>());
  }
}

Variable DcganGenerator::forward(const Variable& z) {
  KZ_CHECK(z.dim() == 2 && z.shape()[1] == options_.latent_dim, "DcganGenerator",
           "expected (N,{}) codes, got {}", options_.latent_dim, shape_str(z.shape()));
  return tanh(features_->forward(reshape(z, {z.shape()[0], options_.latent_dim, 1, 1})));
}

DcganDiscriminator::DcganDiscriminator(const DcganOptions& o, Generator& gen) : options_(o) {
  const std::vector<int64_t> s = dcgan_sizes(o);
  const int64_t w = o.width;
  features_ = register_module("features", std::make_shared<Sequential>());
  const Conv2dOptions half{.stride = 2, .padding = 1};
  features_->add(std::make_shared<Conv2d>(o.channels, w, 4, half, gen));
  features_->add(std::make_shared<LeakyReLU>(0.2f));
  features_->add(std::make_shared<Conv2d>(w, 2 * w, 4, half, gen));
  features_->add(std::make_shared<BatchNorm2d>(2 * w));
  features_->add(std::make_shared<LeakyReLU>(0.2f));
  features_->add(std::make_shared<Conv2d>(2 * w, 4 * w, 4, half, gen));
  features_->add(std::make_shared<BatchNorm2d>(4 * w));
  features_->add(std::make_shared<LeakyReLU>(0.2f));
  classifier_ = register_module("classifier",
                                std::make_shared<Conv2d>(4 * w, 1, s[0], Conv2dOptions{}, gen));
}

Variable DcganDiscriminator::features(const Variable& x) {
  const Shape& xs = x.shape();
  KZ_CHECK(xs.size() == 4 && xs[1] == options_.channels && xs[2] == options_.image_size &&
               xs[3] == options_.image_size,
           "DcganDiscriminator", "expected (N,{},{},{}) images, got {}", options_.channels,
           options_.image_size, options_.image_size, shape_str(xs));
  return features_->forward(x);
}

Variable DcganDiscriminator::logits(const Variable& f) {
  return reshape(classifier_->forward(f), {f.shape()[0]});
}

Variable DcganDiscriminator::forward(const Variable& x) { return logits(features(x)); }

}  // namespace kz
