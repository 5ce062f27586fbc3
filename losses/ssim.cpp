// ssim.cpp — SSIM map and means, composed of autograd ops (their gradients come from the
// ops' own backwards). Shapes: x, y (N,C,H,W); w the window, r = (w−1)/2; see ssim.h.
#include "losses/ssim.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kz {

namespace {

void check_arguments(const Variable& x, const Variable& y, const SsimOptions& o,
                     const char* op) {
  KZ_CHECK(x.defined() && y.defined(), op, "x and y must be defined");
  KZ_CHECK(x.dim() == 4 && y.dim() == 4, op, "x and y must be (N,C,H,W), got x {} and y {}",
           shape_str(x.shape()), shape_str(y.shape()));
  KZ_CHECK(x.shape() == y.shape(), op, "x {} and y {} must have the same shape",
           shape_str(x.shape()), shape_str(y.shape()));
  KZ_CHECK(o.window >= 1 && o.window % 2 == 1, op, "window must be odd and positive, got {}",
           o.window);
  KZ_CHECK(x.size(2) >= o.window && x.size(3) >= o.window, op,
           "image {} is smaller than the {}x{} window", shape_str(x.shape()), o.window, o.window);
  KZ_CHECK(std::isfinite(o.sigma) && o.sigma > 0.0f, op, "sigma must be > 0, got {}", o.sigma);
  KZ_CHECK(std::isfinite(o.data_range) && o.data_range > 0.0f, op,
           "data_range must be > 0, got {}", o.data_range);
  KZ_CHECK(std::isfinite(o.k1) && o.k1 > 0.0f && std::isfinite(o.k2) && o.k2 > 0.0f, op,
           "k1 and k2 must be > 0, got {} and {}", o.k1, o.k2);
}

Variable ssim_map_checked(const Variable& x, const Variable& y, const SsimOptions& o) {
  const int64_t c = x.size(1), r = o.window / 2;
  // The filter: the window's 1-D factor down the columns, then along the rows (Σ over a
  // w×w window of g[i]·g[j]), as depthwise convolutions with constant weights (C,1,w,1) and
  // (C,1,1,w): 2w multiply-adds per output instead of w².
  const Tensor g = ssim_window(o.window, o.sigma);
  const Variable down(g.reshape({1, 1, o.window, 1}).expand({c, 1, o.window, 1}).contiguous());
  const Variable along(g.reshape({1, 1, 1, o.window}).expand({c, 1, 1, o.window}).contiguous());
  const Conv2dParams p = Conv2dParams::symmetric(1, 0, c);
  const auto filter = [&](const Variable& t) {
    return conv2d(conv2d(t, down, Variable(), p), along, Variable(), p);
  };

  const Variable xp = pad2d_symmetric(x, r, r, r, r), yp = pad2d_symmetric(y, r, r, r, r);
  const Variable mu_x = filter(xp), mu_y = filter(yp);
  const Variable mu_xx = mul(mu_x, mu_x), mu_yy = mul(mu_y, mu_y), mu_xy = mul(mu_x, mu_y);
  const Variable var_x = sub(filter(mul(xp, xp)), mu_xx);
  const Variable var_y = sub(filter(mul(yp, yp)), mu_yy);
  const Variable cov_xy = sub(filter(mul(xp, yp)), mu_xy);

  const float c1 = (o.k1 * o.data_range) * (o.k1 * o.data_range);
  const float c2 = (o.k2 * o.data_range) * (o.k2 * o.data_range);
  const Variable num = mul(add(mul(mu_xy, 2.0f), c1), add(mul(cov_xy, 2.0f), c2));
  const Variable den = mul(add(add(mu_xx, mu_yy), c1), add(add(var_x, var_y), c2));
  return div(num, den);
}

}  // namespace

int64_t ssim_default_window(int64_t height, int64_t width) {
  return std::min(height, width) <= 32 ? 7 : 11;
}

Tensor ssim_window(int64_t window, float sigma) {
  KZ_CHECK(window >= 1 && window % 2 == 1, "ssim_window",
           "window must be odd and positive, got {}", window);
  KZ_CHECK(std::isfinite(sigma) && sigma > 0.0f, "ssim_window", "sigma must be > 0, got {}",
           sigma);
  const int64_t r = window / 2;
  std::vector<double> g(static_cast<size_t>(window));
  double total = 0.0;
  for (int64_t i = 0; i < window; ++i) {
    const double d = static_cast<double>(i - r), s = static_cast<double>(sigma);
    total += g[static_cast<size_t>(i)] = std::exp(-0.5 * d * d / (s * s));
  }
  std::vector<float> w(g.size());
  for (size_t i = 0; i < g.size(); ++i) w[i] = static_cast<float>(g[i] / total);
  return Tensor::from_vector(w, {window});
}

Variable ssim_map(const Variable& x, const Variable& y, const SsimOptions& options) {
  check_arguments(x, y, options, "ssim_map");
  return ssim_map_checked(x, y, options);
}

Variable ssim(const Variable& x, const Variable& y, const SsimOptions& options) {
  check_arguments(x, y, options, "ssim");
  Variable map = ssim_map_checked(x, y, options);
  if (options.crop_border) {
    const int64_t r = options.window / 2;
    map = narrow(narrow(map, 2, r, x.size(2) - 2 * r), 3, r, x.size(3) - 2 * r);
  }
  return mean(map, {1, 2, 3});
}

Variable ssim_loss(const Variable& reconstruction, const Variable& x, const SsimOptions& options) {
  check_arguments(reconstruction, x, options, "ssim_loss");
  const Variable map = ssim_map_checked(reconstruction, x, options);
  return mul(sum(add(neg(map), 1.0f)), 1.0f / static_cast<float>(x.size(0)));
}

Variable ssim_pixel_map(const Variable& x, const Variable& y, const SsimOptions& options) {
  check_arguments(x, y, options, "ssim_pixel_map");
  return mean(ssim_map_checked(x, y, options), {1});
}

}  // namespace kz
