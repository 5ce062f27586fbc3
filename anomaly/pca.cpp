// pca.cpp — principal component analysis (see pca.h). Shapes: N rows, F features, d
// components.
#include "anomaly/pca.h"

#include <algorithm>
#include <cmath>
#include <vector>

extern "C" {
// LAPACK (OpenBLAS ships it): selected eigenvalues and eigenvectors of a symmetric matrix,
// column-major.
void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a,
             const int* lda, const double* vl, const double* vu, const int* il, const int* iu,
             const double* abstol, int* m, double* w, double* z, const int* ldz, int* isuppz,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info);
}

namespace kz {
namespace {

// The top d eigenpairs of the symmetric n×n matrix a (row- or column-major alike), largest
// first: values (d) and vectors (d rows of n).
void top_eigen(std::vector<double> a, int n, int d, std::vector<double>& values,
               std::vector<double>& vectors) {
  const int il = n - d + 1, iu = n;
  const double vl = 0.0, vu = 0.0, abstol = 0.0;
  int m = 0, info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0.0;
  std::vector<double> w(static_cast<size_t>(n)), z(static_cast<size_t>(n) * static_cast<size_t>(d));
  std::vector<int> isuppz(static_cast<size_t>(2 * d));
  dsyevr_("V", "I", "L", &n, a.data(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(), z.data(),
          &n, isuppz.data(), &work_query, &lwork, &iwork_query, &liwork, &info);
  KZ_CHECK(info == 0, "pca", "LAPACK dsyevr workspace query failed (info {})", info);
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  dsyevr_("V", "I", "L", &n, a.data(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(), z.data(),
          &n, isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  KZ_CHECK(info == 0 && m == d, "pca", "LAPACK dsyevr failed (info {}, {} of {} eigenvalues)",
           info, m, d);
  values.assign(static_cast<size_t>(d), 0.0);
  vectors.assign(static_cast<size_t>(d) * static_cast<size_t>(n), 0.0);
  for (int c = 0; c < d; ++c) {  // dsyevr gives them ascending: reverse
    const int src = d - 1 - c;
    values[static_cast<size_t>(c)] = w[static_cast<size_t>(src)];
    for (int i = 0; i < n; ++i)
      vectors[static_cast<size_t>(c) * static_cast<size_t>(n) + static_cast<size_t>(i)] =
          z[static_cast<size_t>(src) * static_cast<size_t>(n) + static_cast<size_t>(i)];
  }
}

}  // namespace

Pca fit_pca(const Tensor& x_in, int64_t d) {
  KZ_CHECK(x_in.defined() && x_in.dim() == 2, "pca", "x must be (N,F)");
  const Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), F = x.size(1);
  KZ_CHECK(N >= 2, "pca", "needs at least 2 rows, got {}", N);
  KZ_CHECK(d >= 1 && d <= std::min(N, F), "pca", "{} components of {} rows of {} features: need "
           "1 ≤ d ≤ min(N, F)", d, N, F);
  std::vector<double> mean(static_cast<size_t>(F), 0.0), xc(static_cast<size_t>(N * F));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < F; ++j) {
      const double v = x.data()[i * F + j];
      KZ_CHECK(std::isfinite(v), "pca", "x holds a non-finite value (row {})", i);
      mean[static_cast<size_t>(j)] += v;
    }
  for (double& m : mean) m /= static_cast<double>(N);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < F; ++j)
      xc[static_cast<size_t>(i * F + j)] = x.data()[i * F + j] - mean[static_cast<size_t>(j)];
  std::vector<double> values, vecs, comps(static_cast<size_t>(d * F));
  if (F <= N) {  // X̄ᵀX̄ (F×F)
    std::vector<double> s(static_cast<size_t>(F * F), 0.0);
    for (int64_t i = 0; i < N; ++i) {
      const double* r = &xc[static_cast<size_t>(i * F)];
      for (int64_t a = 0; a < F; ++a)
        for (int64_t b = 0; b <= a; ++b) s[static_cast<size_t>(a * F + b)] += r[a] * r[b];
    }
    for (int64_t a = 0; a < F; ++a)
      for (int64_t b = 0; b < a; ++b) s[static_cast<size_t>(b * F + a)] = s[static_cast<size_t>(a * F + b)];
    top_eigen(std::move(s), static_cast<int>(F), static_cast<int>(d), values, vecs);
    comps = vecs;
  } else {  // X̄X̄ᵀ (N×N): u its eigenvector, X̄ᵀu / ‖X̄ᵀu‖ the component
    std::vector<double> g(static_cast<size_t>(N * N), 0.0);
    for (int64_t a = 0; a < N; ++a)
      for (int64_t b = 0; b <= a; ++b) {
        double s = 0.0;
        for (int64_t j = 0; j < F; ++j) s += xc[static_cast<size_t>(a * F + j)] * xc[static_cast<size_t>(b * F + j)];
        g[static_cast<size_t>(a * N + b)] = g[static_cast<size_t>(b * N + a)] = s;
      }
    top_eigen(std::move(g), static_cast<int>(N), static_cast<int>(d), values, vecs);
    for (int64_t c = 0; c < d; ++c) {
      double norm = 0.0;
      for (int64_t j = 0; j < F; ++j) {
        double s = 0.0;
        for (int64_t i = 0; i < N; ++i) s += xc[static_cast<size_t>(i * F + j)] * vecs[static_cast<size_t>(c * N + i)];
        comps[static_cast<size_t>(c * F + j)] = s;
        norm += s * s;
      }
      norm = std::sqrt(norm);
      for (int64_t j = 0; j < F; ++j)
        comps[static_cast<size_t>(c * F + j)] = norm > 0.0 ? comps[static_cast<size_t>(c * F + j)] / norm : 0.0;
    }
  }
  // Sign: the largest-magnitude entry of each component positive.
  for (int64_t c = 0; c < d; ++c) {
    double* v = &comps[static_cast<size_t>(c * F)];
    const double* big = std::max_element(v, v + F, [](double a, double b) {
      return std::fabs(a) < std::fabs(b);
    });
    if (*big < 0.0)
      for (int64_t j = 0; j < F; ++j) v[j] = -v[j];
  }
  Pca p;
  p.mean = Tensor::from_vector(std::vector<float>(mean.begin(), mean.end()), {F});
  p.components = Tensor::from_vector(std::vector<float>(comps.begin(), comps.end()), {d, F});
  std::vector<float> var;
  for (double v : values) var.push_back(static_cast<float>(std::max(v, 0.0) / static_cast<double>(N - 1)));
  p.variance = Tensor::from_vector(var, {d});
  return p;
}

Tensor Pca::project(const Tensor& x_in) const {
  KZ_CHECK(mean.defined(), "pca", "project before fit_pca");
  const int64_t F = mean.size(0), d = components.size(0);
  KZ_CHECK(x_in.defined() && x_in.dim() == 2 && x_in.size(1) == F, "pca",
           "rows to project must be (M,{}), the fitted feature count", F);
  const Tensor x = x_in.contiguous();
  const int64_t M = x.size(0);
  std::vector<float> out(static_cast<size_t>(M * d));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t c = 0; c < d; ++c) {
      double s = 0.0;
      for (int64_t j = 0; j < F; ++j)
        s += (static_cast<double>(x.data()[i * F + j]) - mean.data()[j]) * components.data()[c * F + j];
      out[static_cast<size_t>(i * d + c)] = static_cast<float>(s);
    }
  return Tensor::from_vector(out, {M, d});
}

}  // namespace kz
