/// \file
/// conv_autoencoder.h — the convolutional autoencoder of the reconstruction methods (ae,
/// ssim-ae), and the encoder and decoder it shares with the VAE (layers/conv_vae.h).
///
/// Shapes: x is (N,C,H,H) with H = image_size (square images); S stages of widths
/// w_1 … w_S (default 32/64/128 up to 64 px, 32/64/128/256 above: 3 stages at 28–32 px, 4 at
/// 96 px); s_0 = H, s_i = ⌊s_{i−1}/2⌋ the map size after stage i; d the latent size.
///
/// \code{.unparsed}
///   encoder   features: S × [Conv2d(k 4, stride 2, pad 1) – BatchNorm2d – LeakyReLU(0.2)]
///             (N,C,H,H) → (N,w_S,s_S,s_S); flatten; fc: Linear(w_S·s_S², out) → (N,out)
///   decoder   fc: Linear(d, w_S·s_S²), reshaped to (N,w_S,s_S,s_S); features:
///             BatchNorm2d – LeakyReLU, then for i = S … 1: ConvTranspose2d(k 4, stride 2,
///             pad 1, output_padding s_{i−1} − 2·s_i) to w_{i−1} channels (C_out at the
///             last), each but the last followed by BatchNorm2d – LeakyReLU → (N,C_out,H,H)
///             logits (no output activation: the owner applies it)
///   ConvAutoencoder   x̂ = sigmoid(decoder(encoder(x))), out = d: pixels in [0, 1]
/// \endcode
///
/// output_padding makes the decoder give back exactly H for any H (28 → 14 → 7 → 3 and
/// back), so Fashion-MNIST's 28 px need no resizing. Parameter names are PyTorch's for the
/// same nn.Module tree ("encoder.features.0.weight", "encoder.fc.bias",
/// "decoder.features.2.weight", …), so tests/fixtures and scripts/*_torch.py load them.
#pragma once

#include <memory>
#include <vector>

#include "layers/conv_transpose.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/sequential.h"

namespace kz {

/// The architecture of the autoencoder and the VAE (see the file's description).
struct ConvAutoencoderOptions {
  int64_t channels = 1;            ///< C of the input images
  int64_t image_size = 32;         ///< H = W
  int64_t latent_dim = 128;        ///< d
  std::vector<int64_t> widths;     ///< w_1 … w_S; empty = default_widths(image_size)
  float negative_slope = 0.2f;     ///< of the LeakyReLUs
};

/// 32/64/128 for images up to 64 px, 32/64/128/256 above.
std::vector<int64_t> default_widths(int64_t image_size);

/// S stride-2 conv stages, then a Linear layer: (N,C,H,H) -> (N,out_features).
class ConvEncoder : public Module {
 public:
  /// out_features: d for the autoencoder, 2d for the VAE (μ and log σ²).
  ConvEncoder(const ConvAutoencoderOptions& o, int64_t out_features, Generator& gen);
  Variable forward(const Variable& x) override;  ///< (N,C,H,H) -> (N,out_features)
  std::string type_name() const override { return "ConvEncoder"; }

 private:
  int64_t channels_, image_size_;
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> fc_;
};

/// A Linear layer, then S stride-2 transposed-conv stages: (N,d) -> (N,out_channels,H,H).
class ConvDecoder : public Module {
 public:
  /// out_channels: C for the autoencoder, 2C for the VAE (mean and log-variance).
  ConvDecoder(const ConvAutoencoderOptions& o, int64_t out_channels, Generator& gen);
  Variable forward(const Variable& z) override;  ///< (N,d) -> (N,out_channels,H,H) logits
  std::string type_name() const override { return "ConvDecoder"; }
  /// The map fc's output is reshaped to: w_S channels of s_S×s_S
  ///@{
  int64_t first_channels() const { return first_channels_; }
  int64_t first_size() const { return first_size_; }
  ///@}

 private:
  int64_t latent_dim_, first_channels_, first_size_;
  std::shared_ptr<Linear> fc_;
  std::shared_ptr<Sequential> features_;
};

/// The autoencoder of ae and ssim-ae: x̂ = sigmoid(decoder(encoder(x))).
class ConvAutoencoder : public Module {
 public:
  /// Parameters drawn from `gen` as PyTorch's defaults for the same layers.
  ConvAutoencoder(const ConvAutoencoderOptions& o, Generator& gen);
  Variable forward(const Variable& x) override;  ///< (N,C,H,H) -> x̂ (N,C,H,H) in [0, 1]
  Variable encode(const Variable& x);            ///< (N,C,H,H) -> (N,d)
  Variable decode(const Variable& z);            ///< (N,d) -> (N,C,H,H) in [0, 1]
  const ConvAutoencoderOptions& options() const { return options_; }  ///< as constructed
  std::string type_name() const override { return "ConvAutoencoder"; }

 private:
  ConvAutoencoderOptions options_;
  std::shared_ptr<ConvEncoder> encoder_;
  std::shared_ptr<ConvDecoder> decoder_;
};

}  // namespace kz
