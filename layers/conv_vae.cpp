// conv_vae.cpp — the convolutional VAE (see conv_vae.h).
#include "layers/conv_vae.h"

namespace kz {

ConvVAE::ConvVAE(const ConvAutoencoderOptions& o, Generator& gen) : options_(o) {
  encoder_ = register_module("encoder", std::make_shared<ConvEncoder>(o, 2 * o.latent_dim, gen));
  decoder_ = register_module("decoder", std::make_shared<ConvDecoder>(o, 2 * o.channels, gen));
}

GaussianCode ConvVAE::encode(const Variable& x) {
  const Variable h = observed_forward(*encoder_, x);
  const int64_t d = options_.latent_dim;
  return {narrow(h, 1, 0, d), narrow(h, 1, d, d)};
}

GaussianImage ConvVAE::decode(const Variable& z) {
  const Variable out = observed_forward(*decoder_, z);
  const int64_t c = options_.channels;
  const Variable raw_logvar = narrow(out, 1, c, c);
  return {sigmoid(narrow(out, 1, 0, c)),
          add(softplus(add(raw_logvar, -kMinLogVar)), kMinLogVar)};
}

Variable ConvVAE::forward(const Variable& x) { return decode(encode(x).mu).mean; }

}  // namespace kz
