// kmeans.cpp — k-means and the clustering scores (see kmeans.h). Shapes: N rows, F
// features, k clusters.
#include "anomaly/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

namespace kz {
namespace {

// x (N,F) as doubles, checked: 2-D, finite.
std::vector<double> rows_of(const Tensor& t, const char* what, int64_t& n, int64_t& f) {
  KZ_CHECK(t.defined() && t.dim() == 2, "kmeans", "{} must be (N,F)", what);
  const Tensor c = t.contiguous();
  n = c.size(0);
  f = c.size(1);
  std::vector<double> out(static_cast<size_t>(n * f));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = c.data()[i];
    KZ_CHECK(std::isfinite(out[i]), "kmeans", "{} holds a non-finite value (row {})", what,
             static_cast<int64_t>(i) / std::max<int64_t>(f, 1));
  }
  return out;
}

double squared_distance(const double* a, const double* b, int64_t f) {
  double s = 0.0;
  for (int64_t j = 0; j < f; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

// The nearest centre of each row and its squared distance.
void assign(const std::vector<double>& x, const std::vector<double>& c, int64_t n, int64_t f,
            int64_t k, std::vector<int64_t>& labels, std::vector<double>& dist) {
  for (int64_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t arg = 0;
    for (int64_t m = 0; m < k; ++m) {
      const double d = squared_distance(&x[static_cast<size_t>(i * f)], &c[static_cast<size_t>(m * f)], f);
      if (d < best) {
        best = d;
        arg = m;
      }
    }
    labels[static_cast<size_t>(i)] = arg;
    dist[static_cast<size_t>(i)] = best;
  }
}

// Counts of (truth, cluster) pairs, and of each side alone.
struct Contingency {
  std::map<std::pair<int64_t, int64_t>, double> cells;
  std::map<int64_t, double> rows, cols;
};

Contingency contingency(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                        const char* where) {
  KZ_CHECK(!a.empty() && a.size() == b.size(), where,
           "the labelings must be non-empty and of equal length, got {} and {}", a.size(),
           b.size());
  Contingency t;
  for (size_t i = 0; i < a.size(); ++i) {
    t.cells[{a[i], b[i]}] += 1.0;
    t.rows[a[i]] += 1.0;
    t.cols[b[i]] += 1.0;
  }
  return t;
}

double pairs(double n) { return n * (n - 1.0) / 2.0; }

}  // namespace

KMeansResult kmeans_lloyd(const Tensor& x_in, const Tensor& centres_in, int64_t max_iterations) {
  int64_t n = 0, f = 0, k = 0, fc = 0;
  const std::vector<double> x = rows_of(x_in, "x", n, f);
  std::vector<double> c = rows_of(centres_in, "centres", k, fc);
  KZ_CHECK(fc == f, "kmeans", "centres have {} features, the rows {}", fc, f);
  KZ_CHECK(k >= 1 && k <= n, "kmeans", "k = {} clusters for {} rows: need 1 ≤ k ≤ N", k, n);
  KZ_CHECK(max_iterations >= 1, "kmeans", "max_iterations {} < 1", max_iterations);
  std::vector<int64_t> labels(static_cast<size_t>(n), -1), previous;
  std::vector<double> dist(static_cast<size_t>(n));
  KMeansResult r;
  for (int64_t it = 0; it < max_iterations; ++it) {
    previous = labels;
    assign(x, c, n, f, k, labels, dist);
    r.iterations = it + 1;
    if (labels == previous) break;
    // Move the centres to their rows' means; an empty cluster takes the farthest row.
    std::vector<double> sum(static_cast<size_t>(k * f), 0.0);
    std::vector<int64_t> count(static_cast<size_t>(k), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t m = labels[static_cast<size_t>(i)];
      ++count[static_cast<size_t>(m)];
      for (int64_t j = 0; j < f; ++j) sum[static_cast<size_t>(m * f + j)] += x[static_cast<size_t>(i * f + j)];
    }
    std::vector<int64_t> far(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) far[static_cast<size_t>(i)] = i;
    std::stable_sort(far.begin(), far.end(), [&](int64_t a, int64_t b) {
      return dist[static_cast<size_t>(a)] > dist[static_cast<size_t>(b)];
    });
    size_t next_far = 0;
    for (int64_t m = 0; m < k; ++m) {
      if (count[static_cast<size_t>(m)] > 0) continue;
      const int64_t i = far[next_far++];
      const int64_t old = labels[static_cast<size_t>(i)];
      for (int64_t j = 0; j < f; ++j) {
        const double v = x[static_cast<size_t>(i * f + j)];
        sum[static_cast<size_t>(m * f + j)] = v;
        sum[static_cast<size_t>(old * f + j)] -= v;
      }
      count[static_cast<size_t>(m)] = 1;
      --count[static_cast<size_t>(old)];
      labels[static_cast<size_t>(i)] = m;
    }
    for (int64_t m = 0; m < k; ++m)
      for (int64_t j = 0; j < f; ++j)
        c[static_cast<size_t>(m * f + j)] =
            sum[static_cast<size_t>(m * f + j)] / static_cast<double>(std::max<int64_t>(count[static_cast<size_t>(m)], 1));
  }
  r.labels = labels;
  r.inertia = 0.0;
  for (double d : dist) r.inertia += d;
  std::vector<float> cf(c.begin(), c.end());
  r.centres = Tensor::from_vector(cf, {k, f});
  return r;
}

Tensor kmeans_plus_plus(const Tensor& x_in, int64_t k, Generator& gen) {
  int64_t n = 0, f = 0;
  const std::vector<double> x = rows_of(x_in, "x", n, f);
  KZ_CHECK(k >= 1 && k <= n, "kmeans", "k = {} clusters for {} rows: need 1 ≤ k ≤ N", k, n);
  std::vector<int64_t> chosen{static_cast<int64_t>(gen.below(static_cast<uint64_t>(n)))};
  std::vector<double> nearest(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  while (static_cast<int64_t>(chosen.size()) < k) {
    const double* last = &x[static_cast<size_t>(chosen.back() * f)];
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      double& d = nearest[static_cast<size_t>(i)];
      d = std::min(d, squared_distance(&x[static_cast<size_t>(i * f)], last, f));
      total += d;
    }
    int64_t pick = 0;
    if (total <= 0.0) {  // every row sits on a centre: any row will do
      pick = static_cast<int64_t>(gen.below(static_cast<uint64_t>(n)));
    } else {
      const double u = static_cast<double>(gen.uniform()) * total;
      double acc = 0.0;
      pick = n - 1;
      for (int64_t i = 0; i < n; ++i) {
        acc += nearest[static_cast<size_t>(i)];
        if (u < acc && nearest[static_cast<size_t>(i)] > 0.0) {
          pick = i;
          break;
        }
      }
    }
    chosen.push_back(pick);
  }
  std::vector<float> out;
  for (int64_t i : chosen)
    for (int64_t j = 0; j < f; ++j) out.push_back(static_cast<float>(x[static_cast<size_t>(i * f + j)]));
  return Tensor::from_vector(out, {k, f});
}

KMeansResult kmeans(const Tensor& x, const KMeansOptions& o, Generator& gen) {
  KZ_CHECK(o.restarts >= 1, "kmeans", "restarts {} < 1", o.restarts);
  KMeansResult best;
  for (int64_t r = 0; r < o.restarts; ++r) {
    KMeansResult run = kmeans_lloyd(x, kmeans_plus_plus(x, o.k, gen), o.max_iterations);
    if (r == 0 || run.inertia < best.inertia) best = std::move(run);
  }
  return best;
}

double cluster_purity(const std::vector<int64_t>& truth, const std::vector<int64_t>& clusters) {
  const Contingency t = contingency(truth, clusters, "cluster_purity");
  std::map<int64_t, double> top;  // cluster -> its largest class count
  for (const auto& cell : t.cells) {
    double& m = top[cell.first.second];
    m = std::max(m, cell.second);
  }
  double sum = 0.0;
  for (const auto& c : top) sum += c.second;
  return sum / static_cast<double>(truth.size());
}

double adjusted_rand_index(const std::vector<int64_t>& truth,
                           const std::vector<int64_t>& clusters) {
  const Contingency t = contingency(truth, clusters, "adjusted_rand_index");
  const auto n = static_cast<double>(truth.size());
  // scikit-learn's special cases: one cluster each, or every row its own cluster, both sides.
  if (t.rows.size() == t.cols.size() &&
      (t.rows.size() == 1 || static_cast<double>(t.rows.size()) == n) &&
      t.cells.size() == t.rows.size())
    return 1.0;
  double index = 0.0, a = 0.0, b = 0.0;
  for (const auto& cell : t.cells) index += pairs(cell.second);
  for (const auto& r : t.rows) a += pairs(r.second);
  for (const auto& c : t.cols) b += pairs(c.second);
  const double expected = a * b / pairs(n);
  const double max_index = 0.5 * (a + b);
  if (max_index == expected) return 1.0;  // both degenerate in the same way
  return (index - expected) / (max_index - expected);
}

}  // namespace kz
