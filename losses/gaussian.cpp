// gaussian.cpp — the VAE's KL term, Gaussian negative log-likelihood and reparameterisation
// (formulas in gaussian.h), composed of autograd ops. Shapes: N samples, D latent dims.
#include "losses/gaussian.h"

#include <cmath>
#include <numbers>

namespace kz {

namespace {

std::string shape_of(const Variable& v) { return v.defined() ? shape_str(v.shape()) : "undefined"; }

void check_same_shape(const Variable& mu, const Variable& logvar, const char* op) {
  KZ_CHECK(mu.defined() && logvar.defined() && mu.shape() == logvar.shape(), op,
           "mu {} and logvar {} must have the same shape", shape_of(mu), shape_of(logvar));
}

// True when `from` broadcasts to exactly `to` (aligned from the last dim; 1 stretches).
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[lead + i]) return false;
  return true;
}

}  // namespace

// mu, logvar (N,D) -> (N).
Variable gaussian_kl_standard(const Variable& mu, const Variable& logvar) {
  const char* op = "gaussian_kl_standard";
  check_same_shape(mu, logvar, op);
  KZ_CHECK(mu.dim() == 2, op, "mu {} and logvar {} must be (N, D)", shape_of(mu),
           shape_of(logvar));
  // −½ Σ_j (1 + logvar − μ² − e^logvar)
  const Variable inner = sub(sub(add(logvar, 1.0f), mul(mu, mu)), exp(logvar));
  return mul(sum(inner, {1}), -0.5f);
}

// x, mean (N, ...); logvar broadcasts to x -> (N).
Variable gaussian_nll(const Variable& x, const Variable& mean, const Variable& logvar) {
  const char* op = "gaussian_nll";
  KZ_CHECK(x.defined() && mean.defined() && logvar.defined(), op,
           "x {}, mean {} and logvar {} must be defined", shape_of(x), shape_of(mean),
           shape_of(logvar));
  KZ_CHECK(x.dim() >= 1, op, "x must be (N, ...), got {}", shape_str(x.shape()));
  KZ_CHECK(mean.shape() == x.shape(), op, "x {} and mean {} differ in shape",
           shape_str(x.shape()), shape_str(mean.shape()));
  KZ_CHECK(broadcasts_to(logvar.shape(), x.shape()), op,
           "logvar {} does not broadcast to x {}", shape_str(logvar.shape()),
           shape_str(x.shape()));
  // ½(log 2π + logvar + (x − μ)²·e^−logvar), summed per sample
  const Variable d = sub(x, mean);
  const Variable scaled = mul(mul(d, d), exp(neg(logvar)));
  const float log_2pi = static_cast<float>(std::log(2.0 * std::numbers::pi));
  const Variable per_element = mul(add(add(scaled, logvar), log_2pi), 0.5f);
  if (x.dim() == 1) return per_element;
  Shape dims;
  for (int64_t k = 1; k < x.dim(); ++k) dims.push_back(k);
  return sum(per_element, dims);
}

// mu, logvar any shape (the same), eps that shape -> z that shape.
Variable reparameterize(const Variable& mu, const Variable& logvar, const Tensor& eps) {
  const char* op = "reparameterize";
  check_same_shape(mu, logvar, op);
  KZ_CHECK(eps.defined() && eps.shape() == mu.shape(), op, "eps {} and mu {} differ in shape",
           eps.defined() ? shape_str(eps.shape()) : "undefined", shape_str(mu.shape()));
  return add(mu, mul(exp(mul(logvar, 0.5f)), Variable(eps)));  // μ + e^(½ logvar)·ε
}

Variable reparameterize(const Variable& mu, const Variable& logvar, Generator& gen) {
  check_same_shape(mu, logvar, "reparameterize");  // before drawing: a failed call draws none
  return reparameterize(mu, logvar, Tensor::normal(mu.shape(), 0.0f, 1.0f, gen));
}

}  // namespace kz
