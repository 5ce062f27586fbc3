// lof.cpp — the GEMM k-NN search and Local Outlier Factor (see lof.h for the definitions).
// Shape letters: N base (training) rows, M query rows, D features, k neighbours.
#include "anomaly/lof.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/blas.h"

namespace kz {
namespace {

// Loops with less work than this (in inner iterations) run on one thread: waking the
// OpenMP team costs more than they do.
constexpr int64_t kParallelWork = int64_t{1} << 18;

// A neighbour candidate ordered by (approximate squared distance, index).
struct Candidate {
  float key;
  int64_t index;
  bool operator<(const Candidate& o) const {
    return key < o.key || (key == o.key && index < o.index);
  }
};

// A bounded max-heap per row keeping the `capacity` smallest candidates offered.
class CandidateHeaps {
 public:
  CandidateHeaps(int64_t rows, int64_t capacity)
      : capacity_(capacity), size_(rows, 0), data_(rows * capacity) {}

  void offer(int64_t row, Candidate c) {
    Candidate* h = data_.data() + row * capacity_;
    int64_t& n = size_[row];
    if (n < capacity_) {
      h[n++] = c;
      std::push_heap(h, h + n);
    } else if (c < h[0]) {
      std::pop_heap(h, h + n);
      h[n - 1] = c;
      std::push_heap(h, h + n);
    }
  }
  int64_t capacity() const { return capacity_; }
  const Candidate* row(int64_t r) const { return data_.data() + r * capacity_; }
  int64_t size(int64_t r) const { return size_[r]; }

 private:
  int64_t capacity_;
  std::vector<int64_t> size_;
  std::vector<Candidate> data_;
};

// Exact squared Euclidean distance in double. a and b are (D).
double squared_distance(const float* a, const float* b, int64_t d) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < d; ++j) {
    const double t = double(a[j]) - double(b[j]);
    s += t * t;
  }
  return s;
}

// Step 4 of lof.h: exact distances for each row's candidates, the k nearest kept.
// queries is (rows,D), base is (N,D).
Neighbors refine(const CandidateHeaps& heaps, int64_t rows, int64_t k, const float* queries,
                 const float* base, int64_t d) {
  Neighbors nb;
  nb.rows = rows, nb.k = k;
  nb.index.resize(rows * k);
  nb.distance.resize(rows * k);
#pragma omp parallel for schedule(static) if (rows * heaps.capacity() * d > kParallelWork)
  for (int64_t i = 0; i < rows; ++i) {
    const Candidate* c = heaps.row(i);
    std::vector<std::pair<double, int64_t>> exact(heaps.size(i));
    for (int64_t j = 0; j < heaps.size(i); ++j)
      exact[j] = {std::sqrt(squared_distance(queries + i * d, base + c[j].index * d, d)),
                  c[j].index};
    std::partial_sort(exact.begin(), exact.begin() + k, exact.end());
    for (int64_t j = 0; j < k; ++j)
      nb.distance[i * k + j] = exact[j].first, nb.index[i * k + j] = exact[j].second;
  }
  return nb;
}

int64_t candidate_count(int64_t k, int64_t available) {
  return std::min(available, k + std::max<int64_t>(8, k / 2));
}

}  // namespace

// --- KnnIndex -------------------------------------------------------------------------------

KnnIndex::KnnIndex(const Tensor& base, int64_t block_rows)
    : base_(checked_features(base, "knn", "base").clone()), block_rows_(block_rows) {
  KZ_CHECK(block_rows >= 0, "knn", "block_rows must be >= 0, got {}", block_rows);
  const int64_t n = size(), d = dim();
  const float* x = base_.data();
  mean_.assign(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mean_[j] += x[i * d + j];
  for (double& m : mean_) m /= double(n);
  centred_ = Tensor::empty({n, d});
  float* centred = centred_.data();
  sq_norm_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
      const float c = float(double(x[i * d + j]) - mean_[j]);
      centred[i * d + j] = c;
      s += double(c) * c;
    }
    sq_norm_[i] = float(s);
  }
}

int64_t KnnIndex::rows_per_block(int64_t columns) const {
  if (block_rows_ > 0) return block_rows_;
  return std::clamp<int64_t>((int64_t{1} << 22) / std::max<int64_t>(columns, 1), 32, 2048);
}

Neighbors KnnIndex::search(const Tensor& query_in, int64_t k) const {
  const Tensor query = checked_features(query_in, "knn", "query");
  const int64_t n = size(), d = dim(), m = query.size(0);
  KZ_CHECK(query.size(1) == d, "knn", "query {} has {} features, the base {} has {}",
           shape_str(query.shape()), query.size(1), shape_str(base_.shape()), d);
  KZ_CHECK(k >= 1 && k <= n, "knn", "k must be in [1, {}] (base rows), got {}", n, k);

  CandidateHeaps heaps(m, candidate_count(k, n));
  const int64_t bs = std::min(m, rows_per_block(n));
  // Work buffers from the tensor allocator's cache: no page faults on repeated calls.
  Tensor q_block = Tensor::empty({bs, d}), dist_block = Tensor::empty({bs, n});
  float *q = q_block.data(), *dist = dist_block.data();
  std::vector<float> q_norm(bs);
  const float* x = query.data();
  for (int64_t r0 = 0; r0 < m; r0 += bs) {
    const int64_t rows = std::min(bs, m - r0);
    for (int64_t i = 0; i < rows; ++i) {  // centre the block on the base mean
      double s = 0;
      for (int64_t j = 0; j < d; ++j) {
        const float c = float(double(x[(r0 + i) * d + j]) - mean_[j]);
        q[i * d + j] = c;
        s += double(c) * c;
      }
      q_norm[i] = float(s);
    }
    // dist (rows,N) = -2 q c^T, then + |q|^2 + |c|^2
    sgemm(false, true, rows, n, d, -2.0f, q, d, centred_.data(), d, 0.0f, dist, n);
#pragma omp parallel for schedule(static) if (rows * n > kParallelWork)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j)
        heaps.offer(r0 + i, {std::max(0.0f, dist[i * n + j] + q_norm[i] + sq_norm_[j]), j});
  }
  return refine(heaps, m, k, x, base_.data(), d);
}

Neighbors KnnIndex::search_self(int64_t k) const {
  const int64_t n = size(), d = dim();
  KZ_CHECK(k >= 1 && k <= n - 1, "knn", "self search needs k in [1, {}] (base rows - 1), got {}",
           n - 1, k);
  CandidateHeaps heaps(n, candidate_count(k, n - 1));
  // At least ~8 blocks, so the skipped lower triangle is most of the half.
  const int64_t auto_rows = std::min(rows_per_block(n), std::max<int64_t>(64, (n + 7) / 8));
  const int64_t bs = std::min(n, block_rows_ > 0 ? block_rows_ : auto_rows);
  Tensor dist_block = Tensor::empty({bs, n});
  float* dist = dist_block.data();
  const float* c = centred_.data();
  for (int64_t r0 = 0; r0 < n; r0 += bs) {
    const int64_t rows = std::min(bs, n - r0), r1 = r0 + rows, cols = n - r0;
    // dist (rows, cols) = -2 c[r0:r1] c[r0:n]^T: this block against itself and all later rows
    sgemm(false, true, rows, cols, d, -2.0f, c + r0 * d, d, c + r0 * d, d, 0.0f, dist, cols);
    auto key = [&](int64_t i, int64_t j) {  // i in [r0, r1), j in [r0, n)
      return std::max(0.0f, dist[(i - r0) * cols + (j - r0)] + sq_norm_[i] + sq_norm_[j]);
    };
    // Each block row i takes every j >= r0 but itself ...
#pragma omp parallel for schedule(static) if (rows * cols > kParallelWork)
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t j = r0; j < n; ++j)
        if (j != i) heaps.offer(i, {key(i, j), j});
    // ... and each later row j takes the block rows (pairs j < r0 came from earlier blocks).
    constexpr int64_t kChunk = 64;
#pragma omp parallel for schedule(static) if (rows * (n - r1) > kParallelWork)
    for (int64_t j0 = r1; j0 < n; j0 += kChunk)
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = j0; j < std::min(n, j0 + kChunk); ++j) heaps.offer(j, {key(i, j), i});
  }
  return refine(heaps, n, k, base_.data(), base_.data(), d);
}

// --- LOF ------------------------------------------------------------------------------------

Lof::Lof(int64_t n_neighbors, int64_t block_rows)
    : n_neighbors_(n_neighbors), block_rows_(block_rows) {
  KZ_CHECK(n_neighbors >= 1, "lof", "n_neighbors must be >= 1, got {}", n_neighbors);
  KZ_CHECK(block_rows >= 0, "lof", "block_rows must be >= 0, got {}", block_rows);
}

std::vector<double> Lof::reach_density(const Neighbors& nb) const {
  std::vector<double> lrd(nb.rows);
  for (int64_t i = 0; i < nb.rows; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < k_; ++j)
      sum += std::max(nb.distance[i * k_ + j], k_distance_[nb.index[i * k_ + j]]);
    lrd[i] = 1.0 / (sum / double(k_) + 1e-10);
  }
  return lrd;
}

void Lof::fit(const Tensor& train_in) {
  const Tensor train = checked_features(train_in, "lof", "train");
  const int64_t n = train.size(0);
  KZ_CHECK(n >= 2, "lof", "fit needs at least 2 training samples, got train {}",
           shape_str(train.shape()));
  auto index = std::make_shared<const KnnIndex>(train, block_rows_);
  k_ = std::min(n_neighbors_, n - 1);
  const Neighbors nb = index->search_self(k_);
  k_distance_.resize(n);
  for (int64_t i = 0; i < n; ++i) k_distance_[i] = nb.distance[i * k_ + k_ - 1];
  lrd_ = reach_density(nb);
  train_lof_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < k_; ++j) sum += lrd_[nb.index[i * k_ + j]] / lrd_[i];
    train_lof_[i] = sum / double(k_);
  }
  index_ = std::move(index);
}

std::vector<double> Lof::lof(const Tensor& test_in) const {
  KZ_CHECK(fitted(), "lof", "score called before fit");
  const Tensor test = checked_features(test_in, "lof", "test");
  KZ_CHECK(test.size(1) == index_->dim(), "lof",
           "test {} has {} features but LOF was fitted on {} features", shape_str(test.shape()),
           test.size(1), index_->dim());
  const Neighbors nb = index_->search(test, k_);
  const std::vector<double> lrd = reach_density(nb);
  std::vector<double> out(nb.rows);
  for (int64_t i = 0; i < nb.rows; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < k_; ++j) sum += lrd_[nb.index[i * k_ + j]] / lrd[i];
    out[i] = sum / double(k_);
  }
  return out;
}

Tensor Lof::score(const Tensor& test) const {
  const std::vector<double> v = lof(test);
  Tensor out = Tensor::empty({int64_t(v.size())});
  std::transform(v.begin(), v.end(), out.data(), [](double s) { return float(s); });
  return out;
}

Tensor Lof::score_samples(const Tensor& test) const {
  const std::vector<double> v = lof(test);
  Tensor out = Tensor::empty({int64_t(v.size())});
  std::transform(v.begin(), v.end(), out.data(), [](double s) { return float(-s); });
  return out;
}

std::map<std::string, Tensor> Lof::state_dict() const {
  KZ_CHECK(fitted(), "lof", "state_dict called before fit");
  return {{"train", index_->base()}, {"n_neighbors", Tensor::full({1}, float(n_neighbors_))}};
}

void Lof::load_state_dict(const std::map<std::string, Tensor>& state) {
  for (const char* key : {"train", "n_neighbors"})
    KZ_CHECK(state.count(key), "lof", "state has no \"{}\" entry", key);
  const Tensor& k = state.at("n_neighbors");
  KZ_CHECK(k.numel() == 1 && k.contiguous().data()[0] >= 1, "lof",
           "state's n_neighbors must be one value >= 1, got shape {}", shape_str(k.shape()));
  Lof loaded(int64_t(k.contiguous().data()[0]), block_rows_);
  loaded.fit(state.at("train"));
  *this = std::move(loaded);
}

}  // namespace kz
