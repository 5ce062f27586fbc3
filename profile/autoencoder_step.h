/// \file
/// autoencoder_step.h — the training steps of the reconstruction networks that `kizuki
/// profile --network ae|vae|ssim-ae|mlp-ae` (apps/cmd_profile.cpp) times: one definition,
/// beside MobileNetV2's (profile/train_step.h). Header-only.
///
/// Shapes: B images of C×N×N (pixels uniform in [0, 1], as the presets' "unit" scaling), or
/// B table rows of F features (normal noise, as standardised rows); d the latent size.
///
/// The networks and losses are those of anomaly/methods/ae.cpp, vae.cpp and ssim_ae.cpp
/// with the presets of anomaly/experiment.cpp (reconstruction_preset and the table preset):
///   ae       ConvAutoencoder (layers/conv_autoencoder.h), loss mse_loss(x̂, x)
///   vae      ConvVAE (layers/conv_vae.h): z = μ + σ·ε, loss mean over images of
///            gaussian_nll(x; m, v) + KL(q(z|x) ‖ N(0, I)) (losses/gaussian.h)
///   ssim-ae  ConvAutoencoder, loss (1/B) Σ (1 − SSIM(x̂, x)) over the whole map, σ 1.5, the
///            window of ssim_default_window (7×7 up to 32 px, else 11×11)
///   mlp-ae   MlpAutoencoder (layers/mlp_autoencoder.h), widths 32, 16, 8, loss mse_loss
/// C is what the presets give at that size: 1 (Fashion-MNIST, grey) for N ≤ 28, else 3
/// (CIFAR-10 and the 96 px seed preset, RGB); d = 128 (ssim-ae on CIFAR-10: 32, so for
/// N = 32); widths default_widths(N). Optimiser: Adam lr 1e-3 (AMSGrad for mlp-ae, as the
/// table preset). The same batch every step; the VAE draws ε from the setup's generator.
/// With a Profiler, the step is one profiled step: zero_grad, the loss and the optimizer are
/// regions, the network's layers rows (the VAE's sampling and heads: its "model" row).
#pragma once

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "autograd/functions.h"
#include "layers/conv_autoencoder.h"
#include "layers/conv_vae.h"
#include "layers/mlp_autoencoder.h"
#include "losses/gaussian.h"
#include "losses/reconstruction.h"
#include "losses/ssim.h"
#include "optim/adam.h"
#include "profile/profiler.h"

namespace kz::profiling {

/// The networks `kizuki profile --network` accepts, the first the default.
inline const std::vector<std::string>& profile_networks() {
  static const std::vector<std::string> names{"mobilenet_v2", "ae", "vae", "ssim-ae", "mlp-ae"};
  return names;
}

/// Throws unless `network` is one of profile_networks(), naming --network and them.
inline void check_network(const std::string& network) {
  for (const std::string& n : profile_networks())
    if (n == network) return;
  fail("profile", fmt::format("--network '{}' is not one of {}", network,
                              fmt::join(profile_networks(), ", ")));
}

/// What is timed: one of the autoencoders on a batch of this shape.
struct AutoencoderConfig {
  std::string network = "ae";  ///< ae, vae, ssim-ae or mlp-ae
  /// N (images N×N; C from N as the file says), B, and F (mlp-ae's features)
  ///@{
  int64_t image_size = 28, batch = 64, features = 32;
  ///@}
  uint64_t seed = 0;  ///< weights, the batch and the VAE's ε
};

/// The network, its optimizer, the one batch and the region costs.
struct AutoencoderSetup {
  std::string network;          ///< as configured
  std::shared_ptr<Module> net;  ///< ConvAutoencoder, ConvVAE or MlpAutoencoder, train mode
  std::unique_ptr<Adam> optimizer;  ///< lr 1e-3
  Tensor x;                     ///< (B,C,N,N) in [0, 1], or (B,F) normal rows
  SsimOptions ssim;             ///< ssim-ae's
  Generator gen;                ///< the VAE's ε
  std::string loss_type;        ///< the loss row's description
  /// Costs of the regions (profiler.h's conventions). MSE: sub, square, sum (3 FLOPs, 12
  /// bytes per element), backward 2 FLOPs, 12 bytes. VAE: −log p(x|z) ≈ 7 FLOPs per pixel
  /// (sub, square, exp(−log v), mul, add, add, sum) and KL ≈ 6 per latent, each op reading two
  /// and writing one (12 bytes), backward ≈ 8 and 5 FLOPs, 16 bytes per op. SSIM:
  /// ssim_loss_cost. Adam: 12 FLOPs per parameter reading p, g, m, v and writing p, m, v
  /// (28 bytes); AMSGrad one more max and 8 more bytes.
  ///@{
  LayerCost loss_cost, adam_cost;
  ///@}
};

/// C for images of N×N, as the presets (see the file's description).
inline int64_t autoencoder_channels(int64_t image_size) { return image_size <= 28 ? 1 : 3; }

/// The network, optimizer, batch and costs of configuration `c`. Throws on an unknown
/// network (or mobilenet_v2, which is train_step.h's) or sizes the network cannot take.
inline AutoencoderSetup make_autoencoder_setup(const AutoencoderConfig& c) {
  check_network(c.network);
  KZ_CHECK(c.network != "mobilenet_v2", "profile",
           "--network mobilenet_v2 is profiled by train_step.h, not as an autoencoder");
  KZ_CHECK(c.batch >= 2 && c.features >= 8, "profile",
           "--batch {} must be at least 2 and --features {} at least 8 (mlp-ae's bottleneck)",
           c.batch, c.features);
  AutoencoderSetup s;
  s.network = c.network;
  s.gen = Generator(c.seed, 1);
  Generator gen(c.seed);
  const bool table = c.network == "mlp-ae";
  AdamOptions adam;
  adam.lr = 1e-3;
  adam.amsgrad = table;
  if (table) {
    MlpAutoencoderOptions o;
    o.in_features = c.features;
    o.widths = {32, 16, 8};  // the table preset's (Deep SAD's tabular autoencoder)
    s.net = std::make_shared<MlpAutoencoder>(o, gen);
    s.x = Tensor::normal({c.batch, c.features}, 0.0f, 1.0f, gen);
  } else {
    ConvAutoencoderOptions o;
    o.channels = autoencoder_channels(c.image_size);
    o.image_size = c.image_size;
    o.latent_dim = c.network == "ssim-ae" && o.channels == 3 ? 32 : 128;
    o.widths = default_widths(c.image_size);
    if (c.network == "vae")
      s.net = std::make_shared<ConvVAE>(o, gen);
    else
      s.net = std::make_shared<ConvAutoencoder>(o, gen);
    s.x = Tensor::uniform({c.batch, o.channels, c.image_size, c.image_size}, 0.0f, 1.0f, gen);
    s.ssim.window = ssim_default_window(c.image_size, c.image_size);
    s.ssim.crop_border = false;
  }
  s.net->train();
  s.optimizer = std::make_unique<Adam>(s.net->parameters(), adam);
  const double params = parameter_values(*s.net);
  s.adam_cost.forward = {(table ? 13 : 12) * params, (table ? 36 : 28) * params};
  const double n = static_cast<double>(s.x.numel());
  if (c.network == "vae") {
    const double latents =
        static_cast<double>(c.batch * static_cast<ConvVAE&>(*s.net).options().latent_dim);
    s.loss_type = "Gaussian NLL + KL";
    s.loss_cost.forward = {7 * n + 6 * latents, 12 * (7 * n + 6 * latents)};
    s.loss_cost.backward = {8 * n + 5 * latents, 16 * (7 * n + 6 * latents)};
  } else if (c.network == "ssim-ae") {
    s.loss_type = fmt::format("SSIM {}x{}", s.ssim.window, s.ssim.window);
    s.loss_cost = ssim_loss_cost(s.x.shape(), s.ssim.window);
  } else {
    s.loss_type = "MSE";
    s.loss_cost.forward = {3 * n, 12 * n};
    s.loss_cost.backward = {2 * n, 12 * n};
  }
  return s;
}

/// One training step (network in train mode); returns the loss. Throws when it is not finite.
inline float autoencoder_step(AutoencoderSetup& s, Profiler* profiler = nullptr) {
  const std::string adam = s.network == "mlp-ae" ? "Adam AMSGrad" : "Adam";
  return profiled_training_step(*s.optimizer, profiler, adam, s.adam_cost, "autoencoder_step", [&] {
    const Variable x(s.x);
    std::optional<Profiler::Region> region;
    if (s.network == "vae") {
      // The training pass is not forward() (that decodes μ): the model's frame is opened
      // here, through the observer the profiler installed, so the sampling and heads are its row.
      auto& vae = static_cast<ConvVAE&>(*s.net);
      ForwardObserver* observer = profiler ? forward_observer() : nullptr;
      if (observer) observer->begin(vae, x);
      const GaussianCode q = vae.encode(x);
      const GaussianImage p = vae.decode(reparameterize(q.mu, q.logvar, s.gen));
      if (observer) observer->end(vae, p.mean);
      if (profiler) region.emplace(*profiler, "loss", s.loss_type, "forward", s.loss_cost);
      return mean(add(gaussian_nll(x, p.mean, p.logvar), gaussian_kl_standard(q.mu, q.logvar)));
    }
    const Variable y = profiler ? profiler->forward(x) : s.net->forward(x);
    if (profiler) region.emplace(*profiler, "loss", s.loss_type, "forward", s.loss_cost);
    if (s.network == "ssim-ae") return ssim_loss(y, x, s.ssim);
    return mse_loss(y, x);
  });
}

/// FLOPs of one training step: every layer's forward and backward, the loss and Adam.
inline double autoencoder_step_flops(AutoencoderSetup& s) {
  double flops = 0;
  for (const CostEntry& e : count_costs(*s.net, s.x.shape()))
    flops += e.cost.forward.flops + e.cost.backward.flops;
  return flops + s.loss_cost.forward.flops + s.loss_cost.backward.flops +
         s.adam_cost.forward.flops;
}

}  // namespace kz::profiling
