// lof.cpp — the GEMM k-NN search and Local Outlier Factor (see lof.h for the definitions).
// Shape letters: N base (training) rows, M query rows, D features, k neighbours, T threads.
#include "anomaly/lof.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>

#include "tensor/blas.h"

namespace kz {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Searches with fewer flops than this run on one thread: waking the team costs more.
constexpr double kParallelFlops = 1 << 22;
// Element-wise passes over fewer values than this run on one thread.
constexpr double kParallelValues = 1 << 16;
// The automatic distance block of a search: about 16 MB of floats.
constexpr int64_t kBlockFloats = int64_t(1) << 22;
// Rows of a distance block one thread scans and refines at a time.
constexpr int64_t kScanRows = 16;

// A neighbour candidate: its approximate squared distance (the key) and its base row.
struct Candidate {
  float key;
  int32_t index;
};

bool by_key(const Candidate& a, const Candidate& b) { return a.key < b.key; }

// Bounded max-heaps, one per row, each keeping `capacity` candidates with the smallest keys
// offered (which of equal keys is kept does not matter: see refine_row). bound(r) is +inf
// until row r's heap is full, then its largest key: an offer with a key >= bound(r) cannot
// enter, and every candidate that was offered and is not kept has key >= bound(r).
class CandidateHeaps {
 public:
  CandidateHeaps(int64_t rows, int64_t capacity)
      : capacity_(capacity), size_(rows, 0), bound_(rows, kInf), data_(rows * capacity) {}

  void offer(int64_t row, float key, int64_t index) {
    const Candidate c{key, int32_t(index)};
    Candidate* h = data_.data() + row * capacity_;
    int32_t& n = size_[row];
    if (n < capacity_) {
      h[n++] = c;
      std::push_heap(h, h + n, by_key);
      if (n == capacity_) bound_[row] = h[0].key;
    } else if (key < h[0].key) {  // c replaces the largest: sift it down from the top
      int64_t i = 0;
      for (int64_t child = 1; child < n; i = child, child = 2 * i + 1) {
        if (child + 1 < n && h[child].key < h[child + 1].key) ++child;
        if (!(key < h[child].key)) break;
        h[i] = h[child];
      }
      h[i] = c;
      bound_[row] = h[0].key;
    }
  }
  int64_t capacity() const { return capacity_; }
  bool full(int64_t r) const { return size_[r] == capacity_; }
  const Candidate* row(int64_t r) const { return data_.data() + r * capacity_; }
  int64_t size(int64_t r) const { return size_[r]; }
  const float* bounds() const { return bound_.data(); }

 private:
  int64_t capacity_;
  std::vector<int32_t> size_;
  std::vector<float> bound_;
  std::vector<Candidate> data_;
};

// Candidates kept per row: k plus a margin, so that the exact k nearest are almost always
// among them and the fallback (a full exact scan of the row) stays rare.
int64_t candidate_count(int64_t k, int64_t available) {
  return std::min(available, k + std::max<int64_t>(4, k / 4));
}

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

// Offers the keys of a GEMM tile to the heaps. g is (rows, cols) with row stride ld,
// g[i][j] = -2 q_i . b_j for query/base rows i0 + i and j0 + j; qn, bn are their squared
// norms. key = max(0, g + qn + bn) goes to row i0+i's heap (rows), and with `columns` also
// to row j0+j's heap in `col_heaps` as a neighbour i0+i; `skip_diagonal` skips i0+i == j0+j.
// A chunk of 32 keys is compared with the bounds at once, into a bit mask: most chunks
// enter no heap, and in the others only the keys whose bits are set are visited.
void scan_tile(const float* g, int64_t ld, int64_t rows, int64_t cols, int64_t i0,
               int64_t j0, const float* qn, const float* bn, CandidateHeaps& row_heaps,
               CandidateHeaps* col_heaps, bool skip_diagonal) {
  constexpr int64_t kChunk = 32;
  const float* cb = col_heaps ? col_heaps->bounds() + j0 : nullptr;
  for (int64_t i = 0; i < rows; ++i) {
    const float* gi = g + i * ld;
    const float qi = qn[i];
    for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
      const int64_t width = std::min(kChunk, cols - c0);
      float key[kChunk];
      const float rb = row_heaps.bounds()[i0 + i];
      uint32_t below = 0;  // bit j: key j is below row i's bound (or column c0+j's)
#pragma omp simd reduction(| : below)
      for (int64_t j = 0; j < width; ++j) {
        const float sum = gi[c0 + j] + qi + bn[c0 + j];
        key[j] = sum > 0.0f ? sum : 0.0f;  // std::max(0, sum) in a form gcc vectorises
        below |= uint32_t(key[j] < rb) << j;
      }
      if (cb) {
#pragma omp simd reduction(| : below)
        for (int64_t j = 0; j < width; ++j) below |= uint32_t(key[j] < cb[c0 + j]) << j;
      }
      for (; below != 0; below &= below - 1) {  // the set bits, lowest first
        const int64_t j = std::countr_zero(below);
        if (skip_diagonal && i0 + i == j0 + c0 + j) continue;
        const float kv = key[j];
        if (kv < row_heaps.bounds()[i0 + i]) row_heaps.offer(i0 + i, kv, j0 + c0 + j);
        if (cb && kv < cb[c0 + j]) col_heaps->offer(j0 + c0 + j, kv, i0 + i);
      }
    }
  }
}

// The bound on |key - exact squared distance| for a row with squared norm qn against base
// rows of squared norm at most bn_max (centred, as stored in float). The float GEMM's dot
// product errs by at most gamma_D |q||b| (any summation order), the two additions and the
// rounded norms by a few u (|q|^2 + |b|^2), and the rounding of the centred values by
// 4u (|q|^2 + |b|^2); 2|q||b| <= |q|^2 + |b|^2. Doubled for safety.
double key_error(double qn, double bn_max, int64_t d) {
  const double u = std::ldexp(1.0, -24), gamma = double(d) * u / (1 - double(d) * u);
  return 2 * (gamma + 11 * u) * (qn + bn_max);
}

// Step 4 of lof.h for one row: the exact k nearest, nearest first, ties to the lower index.
// cand holds the row's candidates (any order; it is sorted here); every base row not among
// them has key >= floor; |key - exact| <= slack. exact(j) is the exact squared distance to
// base row j, all(visit) visits every base row the row may take (the fallback).
template <class Exact, class All>
void refine_row(std::vector<Candidate>& cand, float floor, double slack, int64_t k,
                const Exact& exact, const All& all, int64_t* index, double* distance) {
  std::sort(cand.begin(), cand.end(), by_key);
  std::vector<std::pair<double, int64_t>> best;  // the k nearest so far, sorted
  best.reserve(k + 1);
  auto take = [&](double s, int64_t j) {
    if (int64_t(best.size()) == k && !(std::make_pair(s, j) < best.back())) return;
    best.insert(std::upper_bound(best.begin(), best.end(), std::make_pair(s, j)), {s, j});
    if (int64_t(best.size()) > k) best.pop_back();
  };
  // A candidate whose key - slack exceeds the k-th exact distance so far is farther than k
  // rows already found, and so is every candidate after it.
  bool proven = false;
  for (const Candidate& c : cand) {
    if (int64_t(best.size()) == k && double(c.key) - slack > best.back().first) {
      proven = true;
      break;
    }
    take(exact(c.index), c.index);
  }
  if (!proven && !(double(floor) - slack > best.back().first)) {  // rare: scan the row
    best.clear();
    all([&](int64_t j) { take(exact(j), j); });
  }
  for (int64_t j = 0; j < k; ++j) distance[j] = std::sqrt(best[j].first), index[j] = best[j].second;
}

}  // namespace

// --- KnnIndex -------------------------------------------------------------------------------

KnnIndex::KnnIndex(const Tensor& base_in, int64_t block_rows) : block_rows_(block_rows) {
  KZ_CHECK(block_rows >= 0, "knn", "block_rows must be >= 0, got {}", block_rows);
  const Tensor base = checked_features(base_in, "knn", "base");
  const int64_t n = base.size(0), d = base.size(1);
  KZ_CHECK(n < std::numeric_limits<int32_t>::max(), "knn", "base {} has too many rows",
           shape_str(base.shape()));
  const bool parallel = double(n) * double(d) > kParallelValues;
  const float* x = base.data();
  base_ = Tensor::empty({n, d});
  centred_ = Tensor::empty({n, d});
  float *copy = base_.data(), *centred = centred_.data();
  mean_.assign(d, 0.0);
  sq_norm_.resize(n);
  // Column sums over fixed blocks of rows, added in order: the same mean for any thread count.
  constexpr int64_t kRowBlock = 256;
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  std::vector<double> partial(blocks * d, 0.0);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    double* p = partial.data() + blk * d;
    for (int64_t i = blk * kRowBlock; i < std::min(n, (blk + 1) * kRowBlock); ++i)
      for (int64_t j = 0; j < d; ++j) p[j] += x[i * d + j];
  }
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t j = 0; j < d; ++j) mean_[j] += partial[blk * d + j];
  for (double& m : mean_) m /= double(n);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; ++j) {
      const float c = float(double(x[i * d + j]) - mean_[j]);
      copy[i * d + j] = x[i * d + j];
      centred[i * d + j] = c;
      s += double(c) * c;
    }
    sq_norm_[i] = float(s);
  }
  max_sq_norm_ = *std::max_element(sq_norm_.begin(), sq_norm_.end());
}

Neighbors KnnIndex::search(const Tensor& query_in, int64_t k) const {
  const Tensor query = checked_features(query_in, "knn", "query");
  const int64_t n = size(), d = dim(), m = query.size(0);
  KZ_CHECK(query.size(1) == d, "knn", "query {} has {} features, the base {} has {}",
           shape_str(query.shape()), query.size(1), shape_str(base_.shape()), d);
  KZ_CHECK(k >= 1 && k <= n, "knn", "k must be in [1, {}] (base rows), got {}", n, k);

  const bool parallel = 2.0 * double(m) * double(n) * double(d) > kParallelFlops;
  const int threads = parallel ? omp_get_max_threads() : 1;
  // A block of query rows against every base row: one GEMM on the whole team (the shape
  // closest to the GEMM's peak), then the rows' selection and refinement in parallel.
  const int64_t block =
      std::min(m, block_rows_ > 0 ? block_rows_ : std::max<int64_t>(16, kBlockFloats / n));
  const int64_t capacity = candidate_count(k, n);
  // Work buffers from the tensor allocator's cache: no page faults on repeats.
  Tensor q_buf = Tensor::empty({block, d}), g_buf = Tensor::empty({block, n});
  float *q = q_buf.data(), *g = g_buf.data();
  std::vector<float> qn(block);
  const float *x = query.data(), *base = base_.data(), *c = centred_.data();
  Neighbors nb;
  nb.rows = m, nb.k = k;
  nb.index.resize(m * k);
  nb.distance.resize(m * k);

  for (int64_t r0 = 0; r0 < m; r0 += block) {
    const int64_t rows = std::min(block, m - r0);
    // q (rows, D) = the block centred on the base mean; qn (rows) = its squared norms
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < rows; ++i) {
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < d; ++j) {
        const float v = float(double(x[(r0 + i) * d + j]) - mean_[j]);
        q[i * d + j] = v;
        s += double(v) * v;
      }
      qn[i] = float(s);
    }
    // g (rows, N) = -2 q c^T, on the GEMM's own threads
    sgemm(false, true, rows, n, d, -2.0f, q, d, c, d, 0.0f, g, n);
#pragma omp parallel num_threads(threads)
    {
      std::vector<Candidate> cand;
#pragma omp for schedule(dynamic)
      for (int64_t i0 = 0; i0 < rows; i0 += kScanRows) {
        const int64_t rs = std::min(kScanRows, rows - i0);
        CandidateHeaps heaps(rs, capacity);  // g rows i0 .. i0 + rs are heaps' rows 0 .. rs
        scan_tile(g + i0 * n, n, rs, n, 0, 0, qn.data() + i0, sq_norm_.data(), heaps, nullptr,
                  false);
        for (int64_t i = 0; i < rs; ++i) {
          cand.assign(heaps.row(i), heaps.row(i) + heaps.size(i));
          const float* xi = x + (r0 + i0 + i) * d;
          refine_row(
              cand, heaps.full(i) ? heaps.bounds()[i] : kInf,
              key_error(qn[i0 + i], max_sq_norm_, d), k,
              [&](int64_t j) { return squared_distance(xi, base + j * d, d); },
              [&](auto visit) {
                for (int64_t j = 0; j < n; ++j) visit(j);
              },
              nb.index.data() + (r0 + i0 + i) * k, nb.distance.data() + (r0 + i0 + i) * k);
        }
      }
    }
  }
  return nb;
}

Neighbors KnnIndex::search_self(int64_t k) const {
  const int64_t n = size(), d = dim();
  KZ_CHECK(k >= 1 && k <= n - 1, "knn", "self search needs k in [1, {}] (base rows - 1), got {}",
           n - 1, k);
  const bool parallel = double(n) * double(n) * double(d) > kParallelFlops;
  const int threads = parallel ? omp_get_max_threads() : 1;
  // Square tiles (I, J) over the upper triangle J >= I: a diagonal tile offers each row the
  // others of its block, an off-diagonal tile offers d(i, j) to both i and j.
  const int64_t b = block_rows_ > 0 ? block_rows_
                                    : std::clamp<int64_t>(((n + 7) / 8 + 15) & ~15, 32, 256);
  const int64_t blocks = (n + b - 1) / b;
  std::vector<std::pair<int64_t, int64_t>> tiles;
  for (int64_t bi = 0; bi < blocks; ++bi)
    for (int64_t bj = bi; bj < blocks; ++bj) tiles.push_back({bi * b, bj * b});
  // Each thread keeps its own heaps for every row (an offer may go to any row); the
  // refinement takes the union.
  const int64_t capacity = candidate_count(k, n - 1);
  std::vector<CandidateHeaps> heaps(threads, CandidateHeaps(n, capacity));
  Tensor g_buf = Tensor::empty({threads, b, b});
  const float* c = centred_.data();
  const float* norm = sq_norm_.data();

#pragma omp parallel for schedule(dynamic) num_threads(threads)
  for (size_t t = 0; t < tiles.size(); ++t) {
    const auto [i0, j0] = tiles[t];
    const int64_t rows = std::min(b, n - i0), cols = std::min(b, n - j0);
    float* g = g_buf.data() + omp_get_thread_num() * b * b;
    CandidateHeaps& h = heaps[omp_get_thread_num()];
    // g (rows, cols) = -2 c[i0:i0+rows] c[j0:j0+cols]^T; one thread inside a parallel loop
    sgemm(false, true, rows, cols, d, -2.0f, c + i0 * d, d, c + j0 * d, d, 0.0f, g, cols);
    scan_tile(g, cols, rows, cols, i0, j0, norm + i0, norm + j0, h, i0 == j0 ? nullptr : &h,
              i0 == j0);
  }

  Neighbors nb;
  nb.rows = n, nb.k = k;
  nb.index.resize(n * k);
  nb.distance.resize(n * k);
  const float* base = base_.data();
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    std::vector<Candidate> cand;
    float floor = kInf;
    for (const CandidateHeaps& h : heaps) {
      cand.insert(cand.end(), h.row(i), h.row(i) + h.size(i));
      if (h.full(i)) floor = std::min(floor, h.bounds()[i]);
    }
    const float* xi = base + i * d;
    refine_row(
        cand, floor, key_error(norm[i], max_sq_norm_, d), k,
        [&](int64_t j) { return squared_distance(xi, base + j * d, d); },
        [&](auto visit) {
          for (int64_t j = 0; j < n; ++j)
            if (j != i) visit(j);
        },
        nb.index.data() + i * k, nb.distance.data() + i * k);
  }
  return nb;
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
