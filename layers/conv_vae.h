/// \file
/// conv_vae.h — the convolutional variational autoencoder of the `vae` method (Kingma &
/// Welling 2014), with a Gaussian decoder that predicts each pixel's variance too.
///
/// Shapes: x is (N,C,H,H); d the latent size; encoder and decoder as in
/// layers/conv_autoencoder.h.
///
/// \code{.unparsed}
///   q(z|x) = N(μ, diag σ²):  (μ, log σ²) = the two halves of encoder(x), encoder out = 2d
///   p(x|z) = N(m, diag v):   the decoder gives 2C channels: m = sigmoid(first C),
///                            log v = −6 + softplus(last C + 6)
/// \endcode
/// The floor log v ≥ −6 (a standard deviation of at least 0.05 on pixels in [0, 1]) keeps the
/// likelihood bounded where pixels never vary (Fashion-MNIST's black background): without it
/// the variance collapses there and the loss runs to −∞. Parameter names as PyTorch's for
/// the same tree ("encoder.fc.weight", "decoder.features.8.bias", …).
#pragma once

#include <memory>

#include "layers/conv_autoencoder.h"

namespace kz {

/// q(z|x): the mean and log-variance of a diagonal Gaussian over the latent.
struct GaussianCode {
  /// (N,d) each
  ///@{
  Variable mu, logvar;
  ///@}
};
/// p(x|z): each pixel's mean (in [0, 1]) and log-variance (≥ kMinLogVar).
struct GaussianImage {
  /// (N,C,H,H) each
  ///@{
  Variable mean, logvar;
  ///@}
};

/// The convolutional VAE of the vae method (see the file's description).
class ConvVAE : public Module {
 public:
  /// Parameters drawn from `gen` as PyTorch's defaults for the same layers.
  ConvVAE(const ConvAutoencoderOptions& o, Generator& gen);
  GaussianCode encode(const Variable& x);   ///< (N,C,H,H) -> q(z|x)
  GaussianImage decode(const Variable& z);  ///< (N,d) -> p(x|z)
  /// The decoder's mean at z = μ: the reconstruction, (N,C,H,H) in [0, 1].
  Variable forward(const Variable& x) override;
  const ConvAutoencoderOptions& options() const { return options_; }  ///< as constructed
  std::string type_name() const override { return "ConvVAE"; }

  static constexpr float kMinLogVar = -6.0f;  ///< the floor of the decoder's log v

 private:
  ConvAutoencoderOptions options_;
  std::shared_ptr<ConvEncoder> encoder_;
  std::shared_ptr<ConvDecoder> decoder_;
};

}  // namespace kz
