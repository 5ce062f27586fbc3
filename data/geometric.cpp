// geometric.cpp — GEOM's 72 transformations (see geometric.h). Shapes: (N,C,H,W), H = W.
#include "data/geometric.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "tensor/error.h"

namespace kz {

namespace {

// scipy.ndimage's 'reflect' boundary (the edge repeated): index i into [0, n).
int64_t reflect(int64_t i, int64_t n) {
  const int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

Tensor check_square(const Tensor& x, const char* op) {
  KZ_CHECK(x.defined() && x.dim() == 4 && x.size(2) == x.size(3) && x.size(2) > 0, op,
           "expected square images (N,C,H,H), got {}",
           x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  return x.contiguous();
}

}  // namespace

GeometricTransform geometric_transform(int64_t index, int64_t side) {
  KZ_CHECK(index >= 0 && index < kGeometricTransforms, "geometric",
           "transformation {} is outside [0, {})", index, kGeometricTransforms);
  const int64_t s = side / 4;
  const int64_t shifts[3] = {0, -s, s};
  GeometricTransform t;
  t.quarter_turns = static_cast<int>(index % 4);
  t.ty = shifts[(index / 4) % 3];
  t.tx = shifts[(index / 12) % 3];
  t.flip = index / 36 == 1;
  return t;
}

std::string geometric_name(int64_t index, int64_t side) {
  const GeometricTransform t = geometric_transform(index, side);
  std::string name;
  auto add = [&](const std::string& part) { name += (name.empty() ? "" : ",") + part; };
  if (t.flip) add("flip");
  if (t.tx != 0) add(fmt::format("tx={}", t.tx));
  if (t.ty != 0) add(fmt::format("ty={}", t.ty));
  if (t.quarter_turns != 0) add(fmt::format("rot={}", 90 * t.quarter_turns));
  return name.empty() ? "id" : name;
}

// x (N,C,H,H) -> (N,C,H,H). Each output pixel (i, j) is traced back through the three steps
// in reverse: the rotation's source pixel, then the translation's, then the flip's.
Tensor apply_geometric(const Tensor& x_in, const GeometricTransform& t) {
  const Tensor x = check_square(x_in, "apply_geometric");
  const int64_t planes = x.size(0) * x.size(1), n = x.size(2);
  // Where output pixel (i, j) reads from the input plane, computed once for all planes.
  std::vector<int64_t> source(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t r = i, c = j;
      for (int k = 0; k < t.quarter_turns; ++k) {  // rot90: out[r][c] = in[c][n−1−r]
        const int64_t r2 = c, c2 = n - 1 - r;
        r = r2;
        c = c2;
      }
      r = reflect(r + t.tx, n);
      c = reflect(c + t.ty, n);
      if (t.flip) c = n - 1 - c;
      source[static_cast<size_t>(i * n + j)] = r * n + c;
    }
  Tensor out = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = out.data();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t q = 0; q < n * n; ++q) dst[p * n * n + q] = src[p * n * n + source[static_cast<size_t>(q)]];
  return out;
}

// x (N,C,H,H) -> (N·72,C,H,H).
Tensor all_geometric(const Tensor& x_in) {
  const Tensor x = check_square(x_in, "all_geometric");
  const int64_t N = x.size(0), image = x.numel() / std::max<int64_t>(N, 1);
  Tensor out = Tensor::empty({N * kGeometricTransforms, x.size(1), x.size(2), x.size(3)});
  for (int64_t t = 0; t < kGeometricTransforms; ++t) {
    const Tensor y = apply_geometric(x, geometric_transform(t, x.size(2)));
    for (int64_t i = 0; i < N; ++i)
      std::copy(y.data() + i * image, y.data() + (i + 1) * image,
                out.data() + (i * kGeometricTransforms + t) * image);
  }
  return out;
}

}  // namespace kz
