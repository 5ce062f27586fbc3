/// \file
/// gan.h — the losses of the adversarial anomaly detectors: the dual autoencoders of adae
/// (Vu et al. 2019) and the latent search of anogan (Schlegl et al. 2017).
///
/// Shapes: images x, G(x), D(x), D(G(x)) are (N,C,H,W), any layout; ‖·‖₁ is the mean
/// absolute error over every element (l1_loss, losses/reconstruction.h), as the authors'
/// code reduces it (a sum would only rescale Adam's steps).
/// \code{.unparsed}
///   adae_generator_loss      L_G = ‖x − G(x)‖₁ + ‖G(x) − D(G(x))‖₁
///   adae_discriminator_loss  L_D = ‖x − D(x)‖₁ − ‖G(x) − D(G(x))‖₁
///   anogan_search_loss       per image n: (1 − λ)·Σ|x_n − G(z)_n| + λ·Σ|f(x)_n − f(G(z))_n|,
///                            sums over every element of the image and of its feature map
/// \endcode
/// (Vu et al. 2019, arXiv 1902.06924, §3 "Proposed method": the losses of the generator and
/// the discriminator.) G learns to reconstruct
/// x in a way D reconstructs well; D learns to reconstruct real images and to fail on G's.
/// anogan_search_loss is AnoGAN's (Schlegl et al. 2017, §2.2 "Mapping new images to the
/// latent space": the residual loss L_R and the discrimination loss L_D of the feature
/// matching variant, weighted (1 − λ) and λ); f is an intermediate layer of the
/// discriminator (layers/dcgan.h), shape (N,…).
/// Gradients flow into every argument; the caller decides which network learns from which
/// loss (adae freezes the other network's parameters).
#pragma once

#include "autograd/functions.h"

namespace kz {

/// L_G of adae, a scalar: l1(x, g) + l1(g, dg) with g = G(x), dg = D(G(x)).
Variable adae_generator_loss(const Variable& x, const Variable& g, const Variable& dg);
/// L_D of adae, a scalar: l1(x, dx) − l1(g, dg) with dx = D(x), g = G(x), dg = D(G(x)).
Variable adae_discriminator_loss(const Variable& x, const Variable& dx, const Variable& g,
                                 const Variable& dg);
/// AnoGAN's loss of the latent search, one value per image (N): x, gz = G(z) (N,C,H,W); fx =
/// f(x), fgz = f(G(z)) of one shape (N,…); lambda in [0, 1].
Variable anogan_search_loss(const Variable& x, const Variable& gz, const Variable& fx,
                            const Variable& fgz, double lambda);

}  // namespace kz
