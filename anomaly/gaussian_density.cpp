// gaussian_density.cpp — Ledoit–Wolf and the Gaussian density scorer (see gaussian_density.h).
// Shapes: N fitted rows, M scored rows, D features.
#include "anomaly/gaussian_density.h"

#include <cmath>
#include <vector>

#include "tensor/ops.h"

extern "C" {
// LAPACK (OpenBLAS ships it): Cholesky factorisation and inverse of a symmetric positive
// definite matrix, column-major.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace kz {

// train (N,D) -> μ, Σ, ρ.
LedoitWolf ledoit_wolf(const Tensor& train_in) {
  const Tensor train = checked_features(train_in, "ledoit_wolf", "train");
  const int64_t N = train.size(0), D = train.size(1);
  KZ_CHECK(N >= 2, "ledoit_wolf", "needs at least 2 training rows, got {}", N);
  std::vector<double> mu(static_cast<size_t>(D), 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < D; ++j) mu[static_cast<size_t>(j)] += train.data()[i * D + j];
  for (double& v : mu) v /= static_cast<double>(N);
  std::vector<double> X(static_cast<size_t>(N * D)), X2(static_cast<size_t>(N * D));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < D; ++j) {
      const double x = train.data()[i * D + j] - mu[static_cast<size_t>(j)];
      X[static_cast<size_t>(i * D + j)] = x;
      X2[static_cast<size_t>(i * D + j)] = x * x;
    }
  // S = XᵀX/N and Σ_jk (X2ᵀX2)_jk, row by row (D² work per row).
  std::vector<double> S(static_cast<size_t>(D * D), 0.0), B(static_cast<size_t>(D * D), 0.0);
  for (int64_t i = 0; i < N; ++i) {
    const double* x = X.data() + i * D;
    const double* x2 = X2.data() + i * D;
    for (int64_t j = 0; j < D; ++j) {
      double* s = S.data() + j * D;
      double* b = B.data() + j * D;
      for (int64_t k = 0; k < D; ++k) {
        s[k] += x[j] * x[k];
        b[k] += x2[j] * x2[k];
      }
    }
  }
  double trace = 0.0, beta_sum = 0.0, delta_sum = 0.0;
  for (double& v : S) v /= static_cast<double>(N);
  for (int64_t j = 0; j < D; ++j) trace += S[static_cast<size_t>(j * D + j)];
  for (size_t q = 0; q < S.size(); ++q) {
    beta_sum += B[q];
    delta_sum += S[q] * S[q];
  }
  const double n = static_cast<double>(N), d = static_cast<double>(D);
  const double m = trace / d;
  double beta = (beta_sum / n - delta_sum) / (d * n);
  const double delta = (delta_sum - 2.0 * m * trace + d * m * m) / d;
  beta = std::min(beta, delta);
  LedoitWolf out;
  out.shrinkage = beta == 0.0 ? 0.0 : beta / delta;
  out.location = Tensor::empty({D});
  out.covariance = Tensor::empty({D, D});
  for (int64_t j = 0; j < D; ++j) {
    out.location.data()[j] = static_cast<float>(mu[static_cast<size_t>(j)]);
    for (int64_t k = 0; k < D; ++k)
      out.covariance.data()[j * D + k] = static_cast<float>(
          (1.0 - out.shrinkage) * S[static_cast<size_t>(j * D + k)] +
          (j == k ? out.shrinkage * m : 0.0));
  }
  return out;
}

void GaussianDensityScorer::fit(const Tensor& train) {
  const LedoitWolf lw = ledoit_wolf(train);
  const int64_t D = lw.location.size(0);
  // Σ⁻¹ in double from the covariance recomputed in double would be exacter; Σ in float has
  // 7 digits, which the scores' comparison with scikit-learn (1e-4 relative) allows.
  std::vector<double> a(static_cast<size_t>(D * D));
  for (int64_t q = 0; q < D * D; ++q) a[static_cast<size_t>(q)] = lw.covariance.data()[q];
  const int n = static_cast<int>(D);
  int info = 0;
  dpotrf_("L", &n, a.data(), &n, &info);
  KZ_CHECK(info == 0, "gde",
           "the shrunk covariance of the {} training rows is not positive definite (LAPACK "
           "dpotrf info {}): the features are constant or collinear and the shrinkage is 0",
           train.size(0), info);
  dpotri_("L", &n, a.data(), &n, &info);
  KZ_CHECK(info == 0, "gde", "inverting the covariance failed (LAPACK dpotri info {})", info);
  precision_ = Tensor::empty({D, D});
  for (int64_t j = 0; j < D; ++j)
    for (int64_t k = 0; k < D; ++k) {  // column-major lower triangle holds the inverse
      const int64_t lo = std::max(j, k), hi = std::min(j, k);
      precision_.data()[j * D + k] = static_cast<float>(a[static_cast<size_t>(hi * D + lo)]);
    }
  location_ = lw.location;
  shrinkage_ = lw.shrinkage;
}

// test (M,D) -> (M): rowwise (x − μ)ᵀ P (x − μ), Y = (X − μ)·P by one GEMM.
Tensor GaussianDensityScorer::score(const Tensor& test_in) const {
  KZ_CHECK(fitted(), "gde", "score() before fit()");
  const Tensor test = checked_features(test_in, "gde", "test");
  const int64_t M = test.size(0), D = location_.size(0);
  KZ_CHECK(test.size(1) == D, "gde", "test has {} features, the fit had {}", test.size(1), D);
  const Tensor centred = sub(test, location_.reshape({1, D})).contiguous();
  const Tensor y = matmul(centred, precision_).contiguous();
  Tensor out = Tensor::empty({M});
  for (int64_t i = 0; i < M; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < D; ++j)
      s += static_cast<double>(centred.data()[i * D + j]) * y.data()[i * D + j];
    out.data()[i] = static_cast<float>(s);
  }
  return out;
}

std::map<std::string, Tensor> GaussianDensityScorer::state_dict() const {
  KZ_CHECK(fitted(), "gde", "state_dict() before fit()");
  return {{"location", location_}, {"precision", precision_}};
}

void GaussianDensityScorer::load_state_dict(const std::map<std::string, Tensor>& state) {
  KZ_CHECK(state.count("location") && state.count("precision") && state.size() == 2, "gde",
           "state must hold exactly \"location\" and \"precision\"");
  const Tensor& mu = state.at("location");
  const Tensor& p = state.at("precision");
  KZ_CHECK(mu.defined() && mu.dim() == 1 && p.defined() && p.dim() == 2 &&
               p.size(0) == mu.size(0) && p.size(1) == mu.size(0),
           "gde", "state: location (D) and precision (D,D) expected, got {} and {}",
           mu.defined() ? shape_str(mu.shape()) : "undefined",
           p.defined() ? shape_str(p.shape()) : "undefined");
  location_ = mu.contiguous().clone();
  precision_ = p.contiguous().clone();
}

}  // namespace kz
