// scalers.cpp — MinMaxScaler, StandardScaler, CenteringScaler and the identity (see
// scalers.h).
// Shape letters: N samples, D features.
#include "anomaly/scalers.h"

#include <cfloat>
#include <cmath>
#include <limits>

#include "anomaly/scorers.h"

namespace kz {
namespace {

// x (N,D) checked against the fitted feature count.
Tensor checked_input(const Tensor& x, const std::string& op, size_t features, bool fitted) {
  KZ_CHECK(fitted, op, "transform called before fit");
  Tensor c = checked_features(x, op, "x");
  KZ_CHECK(c.size(1) == int64_t(features), op,
           "x {} has {} features but the scaler was fitted on {}", shape_str(c.shape()),
           c.size(1), features);
  return c;
}

// y[i][j] = (x[i][j] - shift[j]) * mul[j] + add. x is (N,D).
Tensor affine(const Tensor& x, const std::vector<double>& shift, const std::vector<double>& mul,
              double add) {
  const int64_t n = x.size(0), d = x.size(1);
  Tensor y = Tensor::empty({n, d});
  const float* px = x.data();
  float* py = y.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      py[i * d + j] = float((double(px[i * d + j]) - shift[j]) * mul[j] + add);
  return y;
}

Tensor to_tensor(const std::vector<double>& v) {
  Tensor t = Tensor::empty({int64_t(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data()[i] = float(v[i]);
  return t;
}

// A (D,) state entry as doubles.
std::vector<double> state_vector(const std::map<std::string, Tensor>& state,
                                 const std::string& key, const std::string& op) {
  KZ_CHECK(state.count(key), op, "state has no \"{}\" entry", key);
  const Tensor& t = state.at(key);
  KZ_CHECK(t.defined() && t.dim() == 1 && t.numel() >= 1, op,
           "state entry \"{}\" must be 1-D and non-empty, got shape {}", key,
           shape_str(t.defined() ? t.shape() : Shape{}));
  const std::vector<float> v = t.to_vector();
  for (float f : v) KZ_CHECK(std::isfinite(f), op, "state entry \"{}\" is not finite", key);
  return {v.begin(), v.end()};
}

}  // namespace

std::unique_ptr<Scaler> make_scaler(const std::string& name) {
  if (name == "none") return std::make_unique<IdentityScaler>();
  if (name == "minmax") return std::make_unique<MinMaxScaler>();
  if (name == "standard") return std::make_unique<StandardScaler>();
  if (name == "center") return std::make_unique<CenteringScaler>();
  fail("scaler", "unknown scaler \"" + name + "\"; known: none, minmax, standard, center");
}

std::string scaler_for(const std::string& scorer, bool center) {
  if (scorer == "gde") return "none";
  if (scorer != "cosine") return "minmax";
  return center ? "center" : "none";
}

// --- identity -------------------------------------------------------------------------------

void IdentityScaler::fit(const Tensor& x) { checked_features(x, "scaler", "x"); }
Tensor IdentityScaler::transform(const Tensor& x) const {
  return checked_features(x, "scaler", "x").clone();
}

// --- min-max --------------------------------------------------------------------------------

MinMaxScaler::MinMaxScaler(double low, double high) : low_(low), high_(high) {
  KZ_CHECK(low < high, "minmax_scaler", "feature range needs low < high, got ({}, {})", low,
           high);
}

void MinMaxScaler::set_scale() {
  scale_.resize(data_min_.size());
  for (size_t j = 0; j < scale_.size(); ++j) {
    const double range = data_max_[j] - data_min_[j];
    scale_[j] = (high_ - low_) / (range < 10.0 * FLT_EPSILON ? 1.0 : range);
  }
}

void MinMaxScaler::fit(const Tensor& x_in) {
  const Tensor x = checked_features(x_in, "minmax_scaler", "x");
  const int64_t n = x.size(0), d = x.size(1);
  const float* p = x.data();
  data_min_.assign(p, p + d);
  data_max_.assign(p, p + d);
  for (int64_t i = 1; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      data_min_[j] = std::min<double>(data_min_[j], p[i * d + j]);
      data_max_[j] = std::max<double>(data_max_[j], p[i * d + j]);
    }
  set_scale();
}

Tensor MinMaxScaler::transform(const Tensor& x) const {
  return affine(checked_input(x, "minmax_scaler", data_min_.size(), fitted()), data_min_,
                scale_, low_);
}

std::map<std::string, Tensor> MinMaxScaler::state_dict() const {
  KZ_CHECK(fitted(), "minmax_scaler", "state_dict called before fit");
  return {{"data_min", to_tensor(data_min_)},
          {"data_max", to_tensor(data_max_)},
          {"feature_range", to_tensor({low_, high_})}};
}

void MinMaxScaler::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::string op = "minmax_scaler";
  auto lo = state_vector(state, "data_min", op), hi = state_vector(state, "data_max", op);
  auto range = state_vector(state, "feature_range", op);
  KZ_CHECK(lo.size() == hi.size(), op, "state's data_min has {} features, data_max {}",
           lo.size(), hi.size());
  KZ_CHECK(range.size() == 2 && range[0] < range[1], op,
           "state's feature_range must be (low, high) with low < high");
  for (size_t j = 0; j < lo.size(); ++j)
    KZ_CHECK(lo[j] <= hi[j], op, "state's data_min exceeds data_max at feature {}", j);
  data_min_ = std::move(lo), data_max_ = std::move(hi), low_ = range[0], high_ = range[1];
  set_scale();
}

namespace {

// Column means of x (N,D), in double.
std::vector<double> column_means(const Tensor& x) {
  const int64_t n = x.size(0), d = x.size(1);
  const float* p = x.data();
  std::vector<double> mean(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mean[j] += p[i * d + j];
  for (double& m : mean) m /= double(n);
  return mean;
}

}  // namespace

// --- standard -------------------------------------------------------------------------------

void StandardScaler::fit(const Tensor& x_in) {
  const Tensor x = checked_features(x_in, "standard_scaler", "x");
  const int64_t n = x.size(0), d = x.size(1);
  const float* p = x.data();
  mean_ = column_means(x);
  var_.assign(d, 0.0);
  scale_.assign(d, 1.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double t = p[i * d + j] - mean_[j];
      var_[j] += t * t;
    }
  constexpr double eps = std::numeric_limits<double>::epsilon();
  for (int64_t j = 0; j < d; ++j) {
    var_[j] /= double(n);
    const double bound = n * eps * var_[j] + (n * mean_[j] * eps) * (n * mean_[j] * eps);
    scale_[j] = var_[j] <= bound ? 1.0 : std::sqrt(var_[j]);
  }
}

Tensor StandardScaler::transform(const Tensor& x) const {
  std::vector<double> inv(scale_.size());
  for (size_t j = 0; j < inv.size(); ++j) inv[j] = 1.0 / scale_[j];
  return affine(checked_input(x, "standard_scaler", mean_.size(), fitted()), mean_, inv, 0.0);
}

std::map<std::string, Tensor> StandardScaler::state_dict() const {
  KZ_CHECK(fitted(), "standard_scaler", "state_dict called before fit");
  return {{"mean", to_tensor(mean_)}, {"var", to_tensor(var_)}, {"scale", to_tensor(scale_)}};
}

void StandardScaler::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::string op = "standard_scaler";
  auto mean = state_vector(state, "mean", op), var = state_vector(state, "var", op);
  auto scale = state_vector(state, "scale", op);
  KZ_CHECK(mean.size() == scale.size() && var.size() == scale.size(), op,
           "state's mean, var and scale have {}, {} and {} features", mean.size(), var.size(),
           scale.size());
  for (size_t j = 0; j < scale.size(); ++j)
    KZ_CHECK(scale[j] > 0 && var[j] >= 0, op,
             "state's scale must be > 0 and var >= 0, got {} and {} at feature {}", scale[j],
             var[j], j);
  mean_ = std::move(mean), var_ = std::move(var), scale_ = std::move(scale);
}

// --- centring ------------------------------------------------------------------------------

void CenteringScaler::fit(const Tensor& x) {
  mean_ = column_means(checked_features(x, "center_scaler", "x"));
  for (double& m : mean_) m = static_cast<float>(m);  // as saved: a loaded one centres alike
}

Tensor CenteringScaler::transform(const Tensor& x) const {
  return affine(checked_input(x, "center_scaler", mean_.size(), fitted()), mean_,
                std::vector<double>(mean_.size(), 1.0), 0.0);
}

std::map<std::string, Tensor> CenteringScaler::state_dict() const {
  KZ_CHECK(fitted(), "center_scaler", "state_dict called before fit");
  return {{"mean", to_tensor(mean_)}};
}

void CenteringScaler::load_state_dict(const std::map<std::string, Tensor>& state) {
  mean_ = state_vector(state, "mean", "center_scaler");
}

}  // namespace kz
