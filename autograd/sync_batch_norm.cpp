// sync_batch_norm.cpp — batch normalisation with the statistics of a global batch spread
// over processes (autograd/functions.h sync_batch_norm). The per-channel sums (Σx and the
// count; then Σ(x − μ0) and Σ(x − μ0)² about the first mean μ0) are this
// file's loops (in double); the normalisation and the per-element backward reuse the
// inference kernels of tensor/batch_norm.h with the global statistics as constants, plus
// the terms through the statistics:
//   dx = γ/σ · (dy − Σdy/M − x̂·Σ(dy·x̂)/M),  σ = sqrt(var + ε), M the global count.
#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "tensor/batch_norm.h"

namespace kz {

namespace {

// Calls f(c, value) for every element of the dense (N,C,H,W) tensor t, in memory order.
template <class F>
void for_each_channel(const Tensor& t, F&& f) {
  const int64_t n = t.size(0), c = t.size(1), hw = t.size(2) * t.size(3);
  const float* p = t.data();
  if (t.is_channels_last()) {
    for (int64_t i = 0; i < n * hw; ++i)
      for (int64_t k = 0; k < c; ++k) f(k, p[i * c + k]);
  } else {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < c; ++k)
        for (int64_t j = 0; j < hw; ++j) f(k, p[(i * c + k) * hw + j]);
  }
}

Tensor dense(const Tensor& t) { return t.is_dense() ? t : t.contiguous(); }

}  // namespace

Variable sync_batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                         Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                         const StatSum& sum) {
  KZ_CHECK(x.defined() && x.dim() == 4, "sync_batch_norm", "x must be (N,C,H,W)");
  KZ_CHECK(weight.defined() && bias.defined(), "sync_batch_norm", "weight and bias are needed");
  KZ_CHECK(sum != nullptr, "sync_batch_norm", "no StatSum given");
  const Tensor xd = dense(x.data());
  const int64_t c = xd.size(1);
  const auto cs = static_cast<size_t>(c);
  // Σx and the count, summed over the processes: the global mean.
  std::vector<double> acc(cs, 0.0);
  for_each_channel(xd, [&](int64_t k, float v) { acc[static_cast<size_t>(k)] += v; });
  std::vector<float> stats(cs + 1);
  for (size_t k = 0; k < cs; ++k) stats[k] = static_cast<float>(acc[k]);
  stats[cs] = static_cast<float>(xd.numel() / c);
  sum(stats);
  const double count = stats[cs];
  KZ_CHECK(count > 1, "sync_batch_norm", "{} values per channel over all processes: batch "
           "norm needs more than 1", count);
  // A first mean μ0 from float sums is off by rounding relative to |μ|, which matters where
  // |μ| ≫ σ (common after a convolution): the second pass sums x − μ0 too, and the mean is
  // μ0 plus that correction; the variance is Σ(x − μ0)²/M − (μ − μ0)².
  std::vector<double> mu0(cs), acc2(cs, 0.0);
  for (size_t k = 0; k < cs; ++k) mu0[k] = static_cast<float>(stats[k] / count);
  std::fill(acc.begin(), acc.end(), 0.0);
  for_each_channel(xd, [&](int64_t k, float v) {
    const auto kk = static_cast<size_t>(k);
    const double d = static_cast<double>(v) - mu0[kk];
    acc[kk] += d;
    acc2[kk] += d * d;
  });
  std::vector<float> second(2 * cs);
  for (size_t k = 0; k < cs; ++k)
    second[k] = static_cast<float>(acc[k]), second[cs + k] = static_cast<float>(acc2[k]);
  sum(second);
  Tensor mean = Tensor::empty({c}), var = Tensor::empty({c});
  for (size_t k = 0; k < cs; ++k) {
    const double shift = second[k] / count;
    mean.data()[k] = static_cast<float>(mu0[k] + shift);
    var.data()[k] = static_cast<float>(std::max(0.0, second[cs + k] / count - shift * shift));
  }

  Tensor out = batch_norm_forward(xd, weight.data(), bias.data(), mean, var, false, momentum,
                                  eps, nullptr);
  batch_norm_update_running(running_mean, running_var, mean, var, momentum,
                            static_cast<int64_t>(count));
  if (!needs_grad({x, weight, bias})) return Variable(std::move(out));
  const Tensor w = weight.data();
  return make_result(
      std::move(out), "sync_batch_norm", {x, weight, bias},
      [xd, w, mean, var, eps, count, sum](const Tensor& dout) {
        Tensor dx, dweight, dbias;
        const Tensor dy = xd.is_channels_last() == dout.is_channels_last() && dout.is_dense()
                              ? dout
                              : (xd.is_channels_last() ? dout.to_channels_last() : dout.contiguous());
        batch_norm_backward_inference(dy, xd, w, mean, var, eps, &dx, &dweight, &dbias);
        // The terms through the statistics need the global Σdy and Σdy·x̂.
        const int64_t ch = xd.size(1);
        const auto cn = static_cast<size_t>(ch);
        std::vector<float> sums(2 * cn);
        const Tensor db = dbias.contiguous(), dw = dweight.contiguous();
        for (size_t k = 0; k < cn; ++k) sums[k] = db.data()[k], sums[cn + k] = dw.data()[k];
        sum(sums);
        std::vector<float> inv_std(cn), a(cn), b(cn);
        const float* g = w.data();
        for (size_t k = 0; k < cn; ++k) {
          inv_std[k] = 1.0f / std::sqrt(var.data()[k] + eps);
          const double scale = static_cast<double>(g[k]) * inv_std[k] / count;
          a[k] = static_cast<float>(scale * sums[k]);       // γ/σ · Σdy/M
          b[k] = static_cast<float>(scale * sums[cn + k]);  // γ/σ · Σ(dy·x̂)/M
        }
        if (!dx.is_dense() || dx.is_channels_last() != xd.is_channels_last())
          dx = xd.is_channels_last() ? dx.to_channels_last() : dx.contiguous();
        float* d = dx.data();
        const float* mu = mean.data();
        int64_t i = 0;
        for_each_channel(xd, [&](int64_t k, float v) {
          const auto kk = static_cast<size_t>(k);
          d[i++] -= a[kk] + b[kk] * (v - mu[kk]) * inv_std[kk];
        });
        return std::vector<Tensor>{dx, dweight, dbias};
      });
}

}  // namespace kz
