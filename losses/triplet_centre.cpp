// triplet_centre.cpp — GOAD's triplet-centre loss (forward and backward side by side) and its
// score (see triplet_centre.h). Shapes: B images, M transformations, D features.
#include "losses/triplet_centre.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace kz {

namespace {

void check_z(const Tensor& z, const char* op) {
  KZ_CHECK(z.defined() && z.dim() == 3 && z.size(0) > 0 && z.size(1) >= 2 && z.size(2) > 0, op,
           "z must be (B,M,D) with B >= 1 and M >= 2 transformations, got {}",
           z.defined() ? shape_str(z.shape()) : "an undefined tensor");
}

// ‖a − b‖² over D floats: eight float partial sums (the compiler vectorises them on any
// ISA), added in double at the end.
double squared_distance(const float* a, const float* b, int64_t D) {
  float part[8] = {};
  int64_t d = 0;
  for (; d + 8 <= D; d += 8)
    for (int l = 0; l < 8; ++l) {
      const float diff = a[d + l] - b[d + l];
      part[l] += diff * diff;
    }
  double s = 0.0;
  for (; d < D; ++d) s += static_cast<double>(a[d] - b[d]) * (a[d] - b[d]);
  for (float p : part) s += p;
  return s;
}

}  // namespace

// z (B,M,D) -> scalar.
Variable triplet_centre_loss(const Variable& z_in, float margin) {
  check_z(z_in.data(), "triplet_centre_loss");
  KZ_CHECK(std::isfinite(margin) && margin >= 0.0f, "triplet_centre_loss",
           "margin must be >= 0, got {}", margin);
  const Tensor z = z_in.data().contiguous();
  const int64_t B = z.size(0), M = z.size(1), D = z.size(2);
  const float* zp = z.data();
  auto row = [&](int64_t b, int64_t m) { return zp + (b * M + m) * D; };

  // Forward: centres (M,D), then for each (b,m) the hinge and its nearest other centre.
  std::vector<float> centres(static_cast<size_t>(M * D), 0.0f);
  for (int64_t m = 0; m < M; ++m) {
    float* c = centres.data() + m * D;
    for (int64_t d = 0; d < D; ++d) {
      double s = 0.0;
      for (int64_t b = 0; b < B; ++b) s += row(b, m)[d];
      c[d] = static_cast<float>(s / static_cast<double>(B));
    }
  }
  std::vector<int64_t> nearest(static_cast<size_t>(B * M), -1);  // k*, or −1 if inactive
  double total = 0.0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t m = 0; m < M; ++m) {
      const double pos = squared_distance(row(b, m), centres.data() + m * D, D);
      double neg = std::numeric_limits<double>::infinity();
      int64_t k_star = -1;
      for (int64_t k = 0; k < M; ++k) {
        if (k == m) continue;
        const double d = squared_distance(row(b, m), centres.data() + k * D, D);
        if (d < neg) {
          neg = d;
          k_star = k;
        }
      }
      const double hinge = pos + margin - neg;
      if (hinge > 0.0) {
        total += hinge;
        nearest[static_cast<size_t>(b * M + m)] = k_star;
      }
    }
  const double w = 1.0 / static_cast<double>(B * M);
  Tensor loss = Tensor::scalar(static_cast<float>(total * w));

  // Backward: dout (scalar) -> dz (B,M,D). Saves z, the centres and k* per (b,m).
  return make_result(loss, "triplet_centre_loss", {z_in}, [=](const Tensor& dout) {
    const double g = 2.0 * w * static_cast<double>(dout.contiguous().data()[0]);
    const float* zq = z.data();
    Tensor dz = Tensor::zeros({B, M, D});
    float* dzp = dz.data();
    std::vector<double> dc(static_cast<size_t>(M * D), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t m = 0; m < M; ++m) {
        const int64_t k = nearest[static_cast<size_t>(b * M + m)];
        if (k < 0) continue;
        const float* x = zq + (b * M + m) * D;
        const float* cm = centres.data() + m * D;
        const float* ck = centres.data() + k * D;
        float* dx = dzp + (b * M + m) * D;
        for (int64_t d = 0; d < D; ++d) {
          const double to_own = g * (static_cast<double>(x[d]) - cm[d]);
          const double to_other = g * (static_cast<double>(x[d]) - ck[d]);
          dx[d] += static_cast<float>(to_own - to_other);  // = g (c_k* − c_m)
          dc[static_cast<size_t>(m * D + d)] -= to_own;
          dc[static_cast<size_t>(k * D + d)] += to_other;
        }
      }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t d = 0; d < D; ++d)
          dzp[(b * M + m) * D + d] +=
              static_cast<float>(dc[static_cast<size_t>(m * D + d)] / static_cast<double>(B));
    return std::vector<Tensor>{dz};
  });
}

// z (N,M,D), centres (M,D) -> (N). The distances by one GEMM, ‖x‖² + ‖c‖² − 2x·c (float
// products, double sums): the log-softmax over k only needs differences between them.
Tensor triplet_centre_scores(const Tensor& z_in, const Tensor& centres_in) {
  check_z(z_in, "triplet_centre_scores");
  const Tensor z = z_in.contiguous(), c = centres_in.contiguous();
  const int64_t N = z.size(0), M = z.size(1), D = z.size(2);
  KZ_CHECK(c.dim() == 2 && c.size(0) == M && c.size(1) == D, "triplet_centre_scores",
           "centres must be ({}, {}) for z {}, got {}", M, D, shape_str(z.shape()),
           shape_str(c.shape()));
  const Tensor dots = matmul(z.reshape({N * M, D}), c.transpose(0, 1).contiguous())
                          .contiguous();  // (N·M, M)
  std::vector<double> c_norm(static_cast<size_t>(M), 0.0);  // ‖c_k‖²
  for (int64_t k = 0; k < M; ++k)
    for (int64_t d = 0; d < D; ++d)
      c_norm[static_cast<size_t>(k)] += static_cast<double>(c.data()[k * D + d]) * c.data()[k * D + d];
  Tensor out = Tensor::empty({N});
  std::vector<double> neg_d(static_cast<size_t>(M));
  for (int64_t n = 0; n < N; ++n) {
    double score = 0.0;
    for (int64_t m = 0; m < M; ++m) {
      const float* x = z.data() + (n * M + m) * D;
      double x_norm = 0.0;
      for (int64_t d = 0; d < D; ++d) x_norm += static_cast<double>(x[d]) * x[d];
      const float* dot = dots.data() + (n * M + m) * M;
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < M; ++k) {
        const double dist = std::max(0.0, x_norm + c_norm[static_cast<size_t>(k)] - 2.0 * dot[k]);
        neg_d[static_cast<size_t>(k)] = -dist;
        top = std::max(top, -dist);
      }
      double sum = 0.0;
      for (int64_t k = 0; k < M; ++k) sum += std::exp(neg_d[static_cast<size_t>(k)] - top);
      score -= neg_d[static_cast<size_t>(m)] - top - std::log(sum);  // −log softmax[m]
    }
    out.data()[n] = static_cast<float>(score);
  }
  return out;
}

}  // namespace kz
