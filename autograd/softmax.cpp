// softmax.cpp — log_softmax, softmax and cross-entropy, fused and numerically stable.
//   log_softmax(x) = x − max − log Σ exp(x − max)
//   backward: dx = dy − softmax(x) · Σ dy           (Σ along dim)
//   cross_entropy(z, t) = mean_i [ −Σ_c q_ic log_softmax(z)_ic ],
//     q = (1−ε)·onehot(t) + ε/C (label smoothing ε, as PyTorch);
//   backward: dz = (softmax(z) − q) / N.
#include <cmath>

#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

namespace {
Tensor log_softmax_forward(const Tensor& x, int64_t dim) {
  const Tensor shifted = sub(x, max(x, dim, true));
  return sub(shifted, log(sum(exp(shifted), {dim}, true)));
}
}  // namespace

Variable log_softmax(const Variable& x, int64_t dim) {
  const Tensor y = log_softmax_forward(x.data(), dim);
  return make_result(y, "log_softmax", {x}, [y, dim](const Tensor& dout) {
    return std::vector<Tensor>{sub(dout, mul(exp(y), sum(dout, {dim}, true)))};
  });
}

Variable softmax(const Variable& x, int64_t dim) {
  const Tensor y = exp(log_softmax_forward(x.data(), dim));
  return make_result(y, "softmax", {x}, [y, dim](const Tensor& dout) {
    // dx = y · (dy − Σ dy·y)
    return std::vector<Tensor>{mul(y, sub(dout, sum(mul(dout, y), {dim}, true)))};
  });
}

Variable cross_entropy(const Variable& logits, const std::vector<int64_t>& targets,
                       float label_smoothing) {
  KZ_CHECK(logits.dim() == 2, "cross_entropy", "logits must be (N,C), got {}",
           shape_str(logits.shape()));
  const int64_t N = logits.size(0), C = logits.size(1);
  KZ_CHECK(static_cast<int64_t>(targets.size()) == N, "cross_entropy",
           "{} targets for logits {}", targets.size(), shape_str(logits.shape()));
  KZ_CHECK(N > 0, "cross_entropy", "empty batch");
  KZ_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, "cross_entropy",
           "label_smoothing {} is outside [0, 1]", label_smoothing);
  for (int64_t t : targets)
    KZ_CHECK(t >= 0 && t < C, "cross_entropy", "target {} out of range for {} classes", t, C);

  const Tensor logp = log_softmax_forward(logits.data(), 1);  // (N,C), contiguous
  const float eps = label_smoothing, on = 1.0f - eps, each = eps / static_cast<float>(C);
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const float* row = logp.data() + i * C;
    double all = 0.0;
    for (int64_t c = 0; c < C; ++c) all += row[c];
    total -= on * row[targets[size_t(i)]] + each * all;
  }
  Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(N)));
  return make_result(loss, "cross_entropy", {logits},
                     [logp, targets, N, C, on, each](const Tensor& dout) {
                       const float scale = dout.item() / static_cast<float>(N);
                       Tensor dz = Tensor::empty({N, C});
                       for (int64_t i = 0; i < N; ++i) {
                         const float* lp = logp.data() + i * C;
                         float* d = dz.data() + i * C;
                         for (int64_t c = 0; c < C; ++c) d[c] = (std::exp(lp[c]) - each) * scale;
                         d[targets[size_t(i)]] -= on * scale;
                       }
                       return std::vector<Tensor>{dz};
                     });
}

}  // namespace kz
