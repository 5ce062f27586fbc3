// vae.cpp — the variational autoencoder (Kingma & Welling 2014) as an anomaly detector, a
// scoring method giving three scores from one trained network.
//
// Network: ConvVAE (layers/conv_vae.h): q(z|x) = N(μ, diag σ²), p(z) = N(0, I), and a
// Gaussian decoder p(x|z) = N(m(z), diag v(z)) that learns each pixel's variance. Training
// minimises the negative ELBO per image, averaged over the batch:
//   −ELBO = E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)),
// with one sample z = μ + σ·ε (the reparameterisation) for the expectation and the KL in
// closed form (losses/gaussian.h).
//   score "elbo"           −log p(x|z = μ) + KL(q(z|x) ‖ p(z)): the negative ELBO with the
//                          expectation taken at the mean of q (no sampling, so the same
//                          value on every call)
//   score "recon-prob"     An & Cho (2015)'s reconstruction probability, as a negative log:
//                          −log (1/L) Σ_l p(x|z_l), z_l ~ q(z|x), L = vae_samples (10),
//                          averaged in log space (log-sum-exp); each image's L draws of ε
//                          come from a generator seeded by its index in the data set, so
//                          its value is the same on every call, whatever chunk it is in
//   score "unregularized"  Matsubara et al. (2018)'s score: −log p(x|z = μ), the ELBO without
//                          its KL term (the seed's "VAE that removes part of the loss")
//   map                    −log p(x|z = μ) per pixel, averaged over channels
// Here −log p(x|z) = Σ ½(log 2π + log v + (x − m)²/v) over channels and pixels.
#include <cmath>

#include "anomaly/methods/reconstruction.h"
#include "layers/conv_vae.h"
#include "losses/gaussian.h"
#include "tensor/ops.h"

namespace kz {

namespace {

constexpr uint64_t kReconProbSeed = 0x5eed'1e55'0000'0001ULL;

class VaeMethod final : public ReconstructionMethod {
 public:
  explicit VaeMethod(const MethodOptions& o) : ReconstructionMethod(o) {}
  std::vector<std::string> score_names() const override {
    return {"elbo", "recon-prob", "unregularized"};
  }

 protected:
  std::shared_ptr<Module> make_network(const ConvAutoencoderOptions& o,
                                       Generator& gen) const override {
    return std::make_shared<ConvVAE>(o, gen);
  }
  ConvVAE& vae() const { return static_cast<ConvVAE&>(*net_); }

  Variable batch_loss(const Tensor& x, Generator& gen) const override {
    const Variable xv(x);
    const GaussianCode q = vae().encode(xv);
    const GaussianImage p = vae().decode(reparameterize(q.mu, q.logvar, gen));
    return mean(add(gaussian_nll(xv, p.mean, p.logvar), gaussian_kl_standard(q.mu, q.logvar)));
  }

  std::vector<Tensor> batch_scores(const Tensor& x, int64_t first) const override {
    const Variable xv(x);
    const GaussianCode q = vae().encode(xv);
    const GaussianImage at_mean = vae().decode(q.mu);
    const Tensor nll = gaussian_nll(xv, at_mean.mean, at_mean.logvar).data();  // (N)
    const Tensor kl = gaussian_kl_standard(q.mu, q.logvar).data();
    // log p(x|z_l) for L samples, then −(log Σ_l exp − log L) per image, in double.
    const int64_t n = x.size(0), L = options_.vae_samples;
    KZ_CHECK(L >= 1, "vae", "vae_samples must be at least 1, got {}", L);
    const int64_t d = q.mu.shape()[1];
    std::vector<Generator> gens;
    for (int64_t i = 0; i < n; ++i)
      gens.emplace_back(derive_seed(kReconProbSeed, static_cast<uint64_t>(first + i), 0));
    std::vector<std::vector<double>> log_p(static_cast<size_t>(n));
    for (int64_t l = 0; l < L; ++l) {
      std::vector<Tensor> rows;  // ε of image i from its own generator
      for (Generator& g : gens) rows.push_back(Tensor::normal({1, d}, 0.0f, 1.0f, g));
      const GaussianImage p = vae().decode(reparameterize(q.mu, q.logvar, cat(rows, 0)));
      const std::vector<float> v = gaussian_nll(xv, p.mean, p.logvar).data().to_vector();
      for (int64_t i = 0; i < n; ++i) log_p[static_cast<size_t>(i)].push_back(-v[static_cast<size_t>(i)]);
    }
    Tensor recon_prob = Tensor::empty({n});
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<double>& a = log_p[static_cast<size_t>(i)];
      const double top = *std::max_element(a.begin(), a.end());
      double s = 0.0;
      for (double v : a) s += std::exp(v - top);
      recon_prob.data()[i] = static_cast<float>(-(top + std::log(s) - std::log(static_cast<double>(L))));
    }
    return {add(nll, kl), recon_prob, nll};
  }

  AnomalyMaps batch_maps(const Tensor& x) const override {
    const Variable xv(x);
    const GaussianImage p = vae().decode(vae().encode(xv).mu);
    // ½(log 2π + log v + (x − m)²/v), averaged over channels.
    const Tensor m = p.mean.data(), logv = p.logvar.data();
    const Tensor sq = mul(sub(x, m), sub(x, m));
    const Tensor per_pixel =
        mul(add(add(logv, div(sq, exp(logv))), static_cast<float>(std::log(2.0 * M_PI))), 0.5f);
    return {kz::mean(per_pixel, {1}), m};
  }
};

}  // namespace

std::unique_ptr<Method> make_vae(const MethodOptions& o) { return std::make_unique<VaeMethod>(o); }

}  // namespace kz
