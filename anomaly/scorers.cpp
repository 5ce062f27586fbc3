// scorers.cpp — the cosine and k-NN distance scorers, the scorer factory and the shared
// feature check (see scorers.h). Shape letters: N fitted rows, M scored rows, D features,
// C classes, R reference rows (N or C).
#include "anomaly/scorers.h"

#include "anomaly/gaussian_density.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "anomaly/lof.h"
#include "tensor/blas.h"

namespace kz {

Tensor checked_features(const Tensor& x, const std::string& op, const std::string& what) {
  KZ_CHECK(x.defined(), op, "{} is an undefined tensor", what);
  KZ_CHECK(x.dim() == 2, op, "{} must be 2-D (samples, features), got shape {}", what,
           shape_str(x.shape()));
  KZ_CHECK(x.size(0) >= 1 && x.size(1) >= 1, op, "{} is empty: shape {}", what,
           shape_str(x.shape()));
  Tensor c = x.contiguous();
  const float* p = c.data();
  const int64_t count = c.numel();
  int finite = 1;  // one vectorised pass, on all threads when long; the culprit only on failure
#pragma omp parallel for simd reduction(& : finite) schedule(static) if (count > (1 << 18))
  for (int64_t i = 0; i < count; ++i) finite &= std::abs(p[i]) <= FLT_MAX;
  for (int64_t i = 0; !finite && i < count; ++i)
    KZ_CHECK(std::isfinite(p[i]), op, "{} {} has a non-finite value ({}) at row {}, column {}",
             what, shape_str(x.shape()), p[i], i / x.size(1), i % x.size(1));
  return c;
}

std::unique_ptr<Scorer> make_scorer(const std::string& name, int64_t k) {
  if (name == "lof") return std::make_unique<Lof>(k > 0 ? k : 20);
  if (name == "knn") return std::make_unique<KnnScorer>(k > 0 ? k : 5);
  if (name == "cosine") return std::make_unique<CosineScorer>(CosineScorer::Mode::kNearest);
  if (name == "cosine_centres")
    return std::make_unique<CosineScorer>(CosineScorer::Mode::kCentres);
  if (name == "gde") return std::make_unique<GaussianDensityScorer>();
  fail("scorer", "unknown scorer \"" + name + "\"; known: lof, knn, cosine, cosine_centres, gde");
}

namespace {

// Reads a one-value state entry.
double state_value(const std::map<std::string, Tensor>& state, const std::string& key,
                   const std::string& op) {
  KZ_CHECK(state.count(key), op, "state has no \"{}\" entry", key);
  const Tensor& t = state.at(key);
  KZ_CHECK(t.defined() && t.numel() == 1, op, "state entry \"{}\" must hold one value", key);
  return t.contiguous().data()[0];
}

// Unit-length copies of the rows of x (zero rows stay zero), normalised in double.
// x is (R,D).
std::vector<double> unit_rows(const float* x, int64_t rows, int64_t d) {
  std::vector<double> u(x, x + rows * d);
  for (int64_t i = 0; i < rows; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += u[i * d + j] * u[i * d + j];
    const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
    for (int64_t j = 0; j < d; ++j) u[i * d + j] *= inv;
  }
  return u;
}

Tensor to_tensor(const std::vector<double>& v, const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  std::transform(v.begin(), v.end(), t.data(), [](double a) { return float(a); });
  return t;
}

}  // namespace

// --- cosine ---------------------------------------------------------------------------------

CosineScorer::CosineScorer(Mode mode) : mode_(mode) {}

std::string CosineScorer::name() const {
  return mode_ == Mode::kNearest ? "cosine" : "cosine_centres";
}

void CosineScorer::fit(const Tensor& train) {
  fit(train, std::vector<int64_t>(train.defined() && train.dim() >= 1 ? train.size(0) : 0, 0));
}

void CosineScorer::fit(const Tensor& train_in, const std::vector<int64_t>& labels) {
  const Tensor train = checked_features(train_in, "cosine", "train");
  const int64_t n = train.size(0), d = train.size(1);
  KZ_CHECK(int64_t(labels.size()) == n, "cosine", "{} labels for train {}", labels.size(),
           shape_str(train.shape()));
  const std::vector<double> unit = unit_rows(train.data(), n, d);
  if (mode_ == Mode::kNearest) {
    references_ = to_tensor(unit, {n, d});
    return;
  }
  int64_t classes = 0;
  for (int64_t i = 0; i < n; ++i) {
    KZ_CHECK(labels[i] >= 0, "cosine", "label {} at index {} is negative", labels[i], i);
    classes = std::max(classes, labels[i] + 1);
  }
  std::vector<double> centres(classes * d, 0.0);
  std::vector<int64_t> count(classes, 0);
  for (int64_t i = 0; i < n; ++i) {
    ++count[labels[i]];
    for (int64_t j = 0; j < d; ++j) centres[labels[i] * d + j] += unit[i * d + j];
  }
  for (int64_t c = 0; c < classes; ++c) {
    KZ_CHECK(count[c] > 0, "cosine", "class {} has no training samples (labels span 0..{})", c,
             classes - 1);
    for (int64_t j = 0; j < d; ++j) centres[c * d + j] /= double(count[c]);
  }
  std::vector<float> as_float(centres.begin(), centres.end());
  references_ = to_tensor(unit_rows(as_float.data(), classes, d), {classes, d});
}

Tensor CosineScorer::score(const Tensor& test_in) const {
  KZ_CHECK(fitted(), "cosine", "score called before fit");
  const Tensor test = checked_features(test_in, "cosine", "test");
  const int64_t m = test.size(0), d = test.size(1), r = references_.size(0);
  KZ_CHECK(d == references_.size(1), "cosine",
           "test {} has {} features but the scorer was fitted on {}", shape_str(test.shape()),
           d, references_.size(1));
  const std::vector<double> unit = unit_rows(test.data(), m, d);
  const std::vector<float> unit_f(unit.begin(), unit.end());
  const float* ref = references_.data();
  Tensor out = Tensor::empty({m});
  const int64_t bs = std::clamp<int64_t>((int64_t{1} << 22) / r, 1, m);
  std::vector<float> sim(bs * r);
  for (int64_t r0 = 0; r0 < m; r0 += bs) {
    const int64_t rows = std::min(bs, m - r0);
    // sim (rows,R) = unit test rows . reference rows^T
    sgemm(false, true, rows, r, d, 1.0f, unit_f.data() + r0 * d, d, ref, d, 0.0f, sim.data(),
          r);
    for (int64_t i = 0; i < rows; ++i) {
      const float* s = sim.data() + i * r;
      const int64_t best = std::max_element(s, s + r) - s;
      const double* x = unit.data() + (r0 + i) * d;
      const float* t = ref + best * d;
      double x_norm = 0, t_norm = 0, dist = 0;
      for (int64_t j = 0; j < d; ++j) x_norm += x[j] * x[j], t_norm += double(t[j]) * t[j];
      if (x_norm == 0 || t_norm == 0) {  // a zero vector: best similarity 0, score 1
        out.data()[r0 + i] = 1.0f;
        continue;
      }
      const double inv = 1.0 / std::sqrt(t_norm);
      for (int64_t j = 0; j < d; ++j) {
        const double diff = x[j] - t[j] * inv;
        dist += diff * diff;
      }
      out.data()[r0 + i] = float(0.5 * dist);  // 1 - cos = |x^ - t^|^2 / 2
    }
  }
  return out;
}

std::map<std::string, Tensor> CosineScorer::state_dict() const {
  KZ_CHECK(fitted(), "cosine", "state_dict called before fit");
  return {{"references", references_},
          {"mode", Tensor::full({1}, mode_ == Mode::kNearest ? 0.0f : 1.0f)}};
}

void CosineScorer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const double mode = state_value(state, "mode", "cosine");
  KZ_CHECK(mode == 0 || mode == 1, "cosine", "state's mode must be 0 or 1, got {}", mode);
  KZ_CHECK(state.count("references"), "cosine", "state has no \"references\" entry");
  const Tensor refs = checked_features(state.at("references"), "cosine", "state references");
  mode_ = mode == 0 ? Mode::kNearest : Mode::kCentres;
  references_ = to_tensor(unit_rows(refs.data(), refs.size(0), refs.size(1)), refs.shape());
}

// --- k-NN distance --------------------------------------------------------------------------

KnnScorer::KnnScorer(int64_t k, Reduce reduce) : k_(k), reduce_(reduce) {
  KZ_CHECK(k >= 1, "knn", "k must be >= 1, got {}", k);
}

bool KnnScorer::fitted() const { return index_ != nullptr; }

int64_t KnnScorer::k_used() const { return fitted() ? std::min(k_, index_->size()) : k_; }

void KnnScorer::fit(const Tensor& train) {
  index_ = std::make_shared<const KnnIndex>(checked_features(train, "knn", "train"));
}

Tensor KnnScorer::score(const Tensor& test_in) const {
  KZ_CHECK(fitted(), "knn", "score called before fit");
  const Tensor test = checked_features(test_in, "knn", "test");
  KZ_CHECK(test.size(1) == index_->dim(), "knn",
           "test {} has {} features but the scorer was fitted on {}", shape_str(test.shape()),
           test.size(1), index_->dim());
  const int64_t k = k_used();
  const Neighbors nb = index_->search(test, k);
  Tensor out = Tensor::empty({nb.rows});
  for (int64_t i = 0; i < nb.rows; ++i) {
    const double* dist = nb.distance.data() + i * k;
    double s = dist[k - 1];
    if (reduce_ == Reduce::kMean) {
      s = 0;
      for (int64_t j = 0; j < k; ++j) s += dist[j];
      s /= double(k);
    }
    out.data()[i] = float(s);
  }
  return out;
}

std::map<std::string, Tensor> KnnScorer::state_dict() const {
  KZ_CHECK(fitted(), "knn", "state_dict called before fit");
  return {{"train", index_->base()},
          {"k", Tensor::full({1}, float(k_))},
          {"reduce", Tensor::full({1}, reduce_ == Reduce::kKth ? 0.0f : 1.0f)}};
}

void KnnScorer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const double k = state_value(state, "k", "knn"), reduce = state_value(state, "reduce", "knn");
  KZ_CHECK(k >= 1, "knn", "state's k must be >= 1, got {}", k);
  KZ_CHECK(reduce == 0 || reduce == 1, "knn", "state's reduce must be 0 or 1, got {}", reduce);
  KZ_CHECK(state.count("train"), "knn", "state has no \"train\" entry");
  KnnScorer loaded(int64_t(k), reduce == 0 ? Reduce::kKth : Reduce::kMean);
  loaded.fit(state.at("train"));
  *this = std::move(loaded);
}

}  // namespace kz
