// gan.cpp — the adversarial detectors' losses (see gan.h).
#include "losses/gan.h"

#include "losses/reconstruction.h"

namespace kz {

Variable adae_generator_loss(const Variable& x, const Variable& g, const Variable& dg) {
  return add(l1_loss(g, x), l1_loss(dg, g));
}

Variable adae_discriminator_loss(const Variable& x, const Variable& dx, const Variable& g,
                                 const Variable& dg) {
  return sub(l1_loss(dx, x), l1_loss(dg, g));
}

Variable anogan_search_loss(const Variable& x, const Variable& gz, const Variable& fx,
                            const Variable& fgz, double lambda) {
  KZ_CHECK(lambda >= 0.0 && lambda <= 1.0, "anogan_search_loss", "lambda {} is not in [0, 1]",
           lambda);
  KZ_CHECK(x.dim() >= 2 && fx.dim() >= 2 && x.shape()[0] == fx.shape()[0], "anogan_search_loss",
           "images {} and features {} must hold the same number of images",
           shape_str(x.shape()), shape_str(fx.shape()));
  auto per_image = [](const Variable& a, const Variable& b) {
    const Variable e = l1_loss(a, b, Reduction::none);
    return sum(flatten(e, 1), {1});
  };
  return add(mul(per_image(gz, x), static_cast<float>(1.0 - lambda)),
             mul(per_image(fgz, fx), static_cast<float>(lambda)));
}

}  // namespace kz
