// msc.cpp — the Mean-Shifted Contrastive loss (see msc.h), composed of autograd ops.
// Shapes: B images, F features, 2B rows of both views together.
#include "losses/msc.h"

#include <cmath>

#include "losses/margin_head.h"

namespace kz {

MscLoss msc_loss(const Variable& features1, const Variable& features2, const Tensor& center,
                 float tau) {
  KZ_CHECK(features1.defined() && features2.defined() && features1.dim() == 2 &&
               features1.shape() == features2.shape(),
           "msc_loss", "the two views' features must be (B,F) of the same shape, got {} and {}",
           features1.defined() ? shape_str(features1.shape()) : "undefined",
           features2.defined() ? shape_str(features2.shape()) : "undefined");
  const int64_t b = features1.size(0), f = features1.size(1);
  KZ_CHECK(b >= 2, "msc_loss", "needs a batch of at least 2 images (the others are the "
           "negatives), got {}", b);
  KZ_CHECK(center.defined() && center.dim() == 1 && center.size(0) == f, "msc_loss",
           "center must be ({}), got {}", f, center.defined() ? shape_str(center.shape()) : "undefined");
  KZ_CHECK(std::isfinite(tau) && tau > 0.0f, "msc_loss", "tau must be > 0, got {}", tau);
  const Variable c(center.reshape({1, f}));
  const Variable s1 = sub(l2_normalize(features1), c), s2 = sub(l2_normalize(features2), c);
  MscLoss out;
  out.angular = add(mean(sum(mul(s1, s1), {1})), mean(sum(mul(s2, s2), {1})));

  // Row i's positive is row (i + B) mod 2B; its own similarity is masked out by a large
  // negative constant (exp(−1e4) is 0 in float), not −∞, so 0·log-probability stays 0.
  const Variable w = cat({l2_normalize(s1), l2_normalize(s2)}, 0);  // (2B,F)
  const int64_t n = 2 * b;
  Tensor mask = Tensor::zeros({n, n}), positive = Tensor::zeros({n, n});
  for (int64_t i = 0; i < n; ++i) {
    mask.data()[i * n + i] = -1e4f;
    positive.data()[i * n + (i + b) % n] = 1.0f;
  }
  const Variable sim = add(mul(matmul(w, transpose(w, 0, 1)), 1.0f / tau), Variable(mask));
  const Variable log_p = log_softmax(sim, 1);
  out.contrastive = mul(sum(mul(log_p, Variable(positive))), -1.0f / static_cast<float>(n));
  out.total = add(out.contrastive, out.angular);
  return out;
}

}  // namespace kz
