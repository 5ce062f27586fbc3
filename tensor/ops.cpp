// ops.cpp — element-wise, reduction and matrix kernels (see ops.h).
//
// Element-wise kernels: a contiguous fast path (one flat loop, OpenMP-parallel when large)
// and a strided path that walks rows with strided_rows (tensor/strided.h). Reductions
// accumulate in double so sums over 10^6 elements keep float32's precision.
#include "tensor/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/blas.h"
#include "tensor/strided.h"

namespace kz {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save

// Dense operands (Tensor::is_dense) run one flat loop, and the result keeps their memory
// format: channels-last in, channels-last out, as PyTorch's element-wise ops do, so a
// convolution network's activations never leave it.
template <class F>
Tensor map1(const Tensor& a, F f) {
  Tensor out = Tensor::empty_like(a);
  float* o = out.data();
  if (a.is_dense()) {
    const float* x = a.data();
    const int64_t n = a.numel();
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    return out;
  }
  const float* x = a.storage()->data();
  const Shape& os = out.strides();
  strided_rows<2>(a.shape(), {&os, &a.strides()}, {0, a.offset()},
                  [&](const std::array<int64_t, 2>& off, int64_t n,
                      const std::array<int64_t, 2>& st) {
                    for (int64_t i = 0; i < n; ++i)
                      o[off[0] + i * st[0]] = f(x[off[1] + i * st[1]]);
                  });
  return out;
}

template <class F>
Tensor map2(const Tensor& a, const Tensor& b, const char* op, F f) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  const bool same = a.shape() == shape && b.shape() == shape && a.is_dense() &&
                    a.strides() == b.strides();
  Tensor out = same ? Tensor::empty_like(a) : Tensor::empty(shape);
  float* o = out.data();
  if (same) {
    const float* x = a.data();
    const float* y = b.data();
    const int64_t n = out.numel();
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    return out;
  }
  const Tensor ea = a.expand(shape), eb = b.expand(shape);
  const float* x = ea.storage()->data();
  const float* y = eb.storage()->data();
  strided_rows<3>(shape, {&out.strides(), &ea.strides(), &eb.strides()},
                  {0, ea.offset(), eb.offset()},
                  [&](const std::array<int64_t, 3>& off, int64_t n,
                      const std::array<int64_t, 3>& st) {
                    for (int64_t i = 0; i < n; ++i)
                      o[off[0] + i * st[0]] = f(x[off[1] + i * st[1]], y[off[2] + i * st[2]]);
                  });
  return out;
}

// Sorted, wrapped, unique reduction dims; empty input = all dims.
std::vector<bool> reduced_mask(const Tensor& a, const Shape& dims, const char* op) {
  const int64_t n = a.dim();
  std::vector<bool> mask(static_cast<size_t>(n), dims.empty());
  for (int64_t d : dims) {
    KZ_CHECK(d >= -n && d < n, op, "dimension {} out of range for shape {}", d,
             shape_str(a.shape()));
    mask[static_cast<size_t>(d < 0 ? d + n : d)] = true;
  }
  return mask;
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!mask[i]) out.push_back(shape[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Sum of f(x) over the masked dims, in double; result has the keepdim shape.
template <class F>
std::vector<double> reduce_sum(const Tensor& a, const std::vector<bool>& mask, F f,
                               Shape* keep_shape) {
  *keep_shape = reduced_shape(a.shape(), mask, true);
  std::vector<double> acc(static_cast<size_t>(numel_of(*keep_shape)), 0.0);
  Shape acc_strides = contiguous_strides(*keep_shape);
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) acc_strides[i] = 0;
  const float* x = a.storage()->data();
  strided_rows<2>(a.shape(), {&a.strides(), &acc_strides}, {a.offset(), 0},
                  [&](const std::array<int64_t, 2>& off, int64_t n,
                      const std::array<int64_t, 2>& st) {
                    for (int64_t i = 0; i < n; ++i)
                      acc[static_cast<size_t>(off[1] + i * st[1])] += f(x[off[0] + i * st[0]]);
                  });
  return acc;
}

Tensor to_tensor(const std::vector<double>& values, const Shape& shape, double scale) {
  Tensor out = Tensor::empty(shape);
  for (size_t i = 0; i < values.size(); ++i) out.data()[i] = static_cast<float>(values[i] * scale);
  return out;
}

// Moves `dim` last and makes rows contiguous: (outer, n) rows for max/min/argmax.
Tensor rows_along(const Tensor& a, int64_t dim, int64_t* wrapped, const char* op) {
  const int64_t n = a.dim();
  KZ_CHECK(n > 0, op, "needs at least one dimension");
  KZ_CHECK(dim >= -n && dim < n, op, "dimension {} out of range for shape {}", dim,
           shape_str(a.shape()));
  *wrapped = dim < 0 ? dim + n : dim;
  KZ_CHECK(a.size(*wrapped) > 0, op, "cannot reduce an empty dimension of shape {}",
           shape_str(a.shape()));
  return a.transpose(*wrapped, n - 1).contiguous();
}

// Index of the best element along `dim`, per row. better(x, best) picks the new one.
template <class Better>
Tensor arg_best(const Tensor& a, int64_t dim, bool keepdim, const char* op, Better better,
                Tensor* values) {
  int64_t d = 0;
  const Tensor rows = rows_along(a, dim, &d, op);
  const int64_t len = a.size(d), outer = a.numel() / len;
  Tensor idx = Tensor::empty({outer}), val = Tensor::empty({outer});
  for (int64_t r = 0; r < outer; ++r) {
    const float* x = rows.data() + r * len;
    int64_t best = 0;
    for (int64_t i = 1; i < len && !std::isnan(x[best]); ++i)  // NaN wins, as in PyTorch
      if (std::isnan(x[i]) || better(x[i], x[best])) best = i;
    idx.data()[r] = static_cast<float>(best);
    val.data()[r] = x[best];
  }
  // Rows are in the order of a.transpose(d, last); map back to a's shape with d = 1.
  Shape tshape = a.shape();
  std::swap(tshape[static_cast<size_t>(d)], tshape.back());
  tshape.back() = 1;
  auto back = [&](const Tensor& t) {
    Tensor r = t.view(tshape).transpose(d, a.dim() - 1).contiguous();
    return keepdim ? r : r.squeeze(d);
  };
  if (values) *values = back(val);
  return back(idx);
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    KZ_CHECK(x == y || x == 1 || y == 1, op, "shapes {} and {} do not broadcast",
             shape_str(a), shape_str(b));
    out[i] = x == 1 ? y : x;
  }
  return out;
}

// --- element-wise --------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) { return map2(a, b, "add", std::plus<float>()); }
Tensor sub(const Tensor& a, const Tensor& b) { return map2(a, b, "sub", std::minus<float>()); }
Tensor mul(const Tensor& a, const Tensor& b) {
  return map2(a, b, "mul", std::multiplies<float>());
}
Tensor div(const Tensor& a, const Tensor& b) { return map2(a, b, "div", std::divides<float>()); }
Tensor maximum(const Tensor& a, const Tensor& b) {
  return map2(a, b, "maximum", [](float x, float y) { return (x != x || x > y) ? x : y; });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return map2(a, b, "minimum", [](float x, float y) { return (x != x || x < y) ? x : y; });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return map2(a, b, "pow", [](float x, float y) { return std::pow(x, y); });
}
Tensor eq(const Tensor& a, const Tensor& b) {
  return map2(a, b, "eq", [](float x, float y) { return x == y ? 1.0f : 0.0f; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return map2(a, b, "ne", [](float x, float y) { return x != y ? 1.0f : 0.0f; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return map2(a, b, "lt", [](float x, float y) { return x < y ? 1.0f : 0.0f; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return map2(a, b, "le", [](float x, float y) { return x <= y ? 1.0f : 0.0f; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return map2(a, b, "gt", [](float x, float y) { return x > y ? 1.0f : 0.0f; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return map2(a, b, "ge", [](float x, float y) { return x >= y ? 1.0f : 0.0f; });
}
Tensor binary_map(const Tensor& a, const Tensor& b, const char* op,
                  const std::function<float(float, float)>& f) {
  return map2(a, b, op, f);
}

Tensor add(const Tensor& a, float s) { return map1(a, [s](float x) { return x + s; }); }
Tensor mul(const Tensor& a, float s) { return map1(a, [s](float x) { return x * s; }); }
Tensor pow(const Tensor& a, float e) {
  if (e == 2.0f) return map1(a, [](float x) { return x * x; });
  return map1(a, [e](float x) { return std::pow(x, e); });
}
Tensor clamp(const Tensor& a, float low, float high) {
  KZ_CHECK(!(low > high), "clamp", "low {} is above high {}", low, high);
  return map1(a, [=](float x) { return x < low ? low : (x > high ? high : x); });
}
Tensor neg(const Tensor& a) { return map1(a, [](float x) { return -x; }); }
Tensor exp(const Tensor& a) { return map1(a, [](float x) { return std::exp(x); }); }
Tensor log(const Tensor& a) { return map1(a, [](float x) { return std::log(x); }); }
Tensor sqrt(const Tensor& a) { return map1(a, [](float x) { return std::sqrt(x); }); }
Tensor abs(const Tensor& a) { return map1(a, [](float x) { return std::fabs(x); }); }
Tensor unary_map(const Tensor& a, const std::function<float(float)>& f) { return map1(a, f); }

void add_(Tensor& a, const Tensor& b, float alpha) {
  const Tensor eb = b.shape() == a.shape() ? b : b.expand(a.shape());
  float* o = a.storage()->data();
  if (a.is_dense() && eb.strides() == a.strides()) {
    float* x = a.data();
    const float* y = eb.data();
    const int64_t n = a.numel();
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) x[i] += alpha * y[i];
    return;
  }
  const float* y = eb.storage()->data();
  strided_rows<2>(a.shape(), {&a.strides(), &eb.strides()}, {a.offset(), eb.offset()},
                  [&](const std::array<int64_t, 2>& off, int64_t n,
                      const std::array<int64_t, 2>& st) {
                    for (int64_t i = 0; i < n; ++i)
                      o[off[0] + i * st[0]] += alpha * y[off[1] + i * st[1]];
                  });
}

// --- reductions ----------------------------------------------------------------------------

Tensor sum(const Tensor& a, const Shape& dims, bool keepdim) {
  const std::vector<bool> mask = reduced_mask(a, dims, "sum");
  Shape keep;
  const std::vector<double> acc = reduce_sum(a, mask, [](float x) { return double(x); }, &keep);
  return to_tensor(acc, reduced_shape(a.shape(), mask, keepdim), 1.0);
}

Tensor mean(const Tensor& a, const Shape& dims, bool keepdim) {
  const std::vector<bool> mask = reduced_mask(a, dims, "mean");
  Shape keep;
  const std::vector<double> acc = reduce_sum(a, mask, [](float x) { return double(x); }, &keep);
  const double count = double(a.numel()) / double(std::max<int64_t>(numel_of(keep), 1));
  return to_tensor(acc, reduced_shape(a.shape(), mask, keepdim), 1.0 / count);
}

Tensor var(const Tensor& a, const Shape& dims, bool keepdim, int correction) {
  const std::vector<bool> mask = reduced_mask(a, dims, "var");
  const Tensor m = mean(a, dims, true);
  const Tensor centred = sub(a, m);
  Shape keep;
  const std::vector<double> acc =
      reduce_sum(centred, mask, [](float x) { return double(x) * x; }, &keep);
  const double count = double(a.numel()) / double(std::max<int64_t>(numel_of(keep), 1));
  return to_tensor(acc, reduced_shape(a.shape(), mask, keepdim),
                   1.0 / std::max(count - correction, 0.0));
}

Tensor max(const Tensor& a, int64_t dim, bool keepdim) {
  Tensor values;
  arg_best(a, dim, keepdim, "max", std::greater<float>(), &values);
  return values;
}
Tensor min(const Tensor& a, int64_t dim, bool keepdim) {
  Tensor values;
  arg_best(a, dim, keepdim, "min", std::less<float>(), &values);
  return values;
}
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  return arg_best(a, dim, keepdim, "argmax", std::greater<float>(), nullptr);
}
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) {
  return arg_best(a, dim, keepdim, "argmin", std::less<float>(), nullptr);
}

float max_all(const Tensor& a) {
  KZ_CHECK(a.numel() > 0, "max_all", "empty tensor");
  return max(a.reshape({-1}), 0).item();
}
float min_all(const Tensor& a) {
  KZ_CHECK(a.numel() > 0, "min_all", "empty tensor");
  return min(a.reshape({-1}), 0).item();
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const size_t lead = grad.shape().size() - shape.size();
  KZ_CHECK(grad.shape().size() >= shape.size(), "sum_to", "cannot sum {} to {}",
           shape_str(grad.shape()), shape_str(shape));
  Shape dims;
  for (size_t i = 0; i < grad.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.shape()[i] != 1))
      dims.push_back(static_cast<int64_t>(i));
  if (dims.empty()) return grad.reshape(shape);
  return sum(grad, dims, true).reshape(shape);
}

// --- matrices ------------------------------------------------------------------------------

namespace {
// A (rows, cols) matrix view usable by sgemm: row-major as is, or transposed.
struct GemmOperand {
  Tensor t;       // the data to pass (contiguous one way or the other)
  bool trans;     // pass as op(t)^T
  int64_t ld;
};
GemmOperand gemm_operand(const Tensor& m) {  // m is 2-D (rows, cols)
  if (m.stride(1) == 1 && m.stride(0) >= std::max<int64_t>(m.size(1), 1))
    return {m, false, m.stride(0)};
  if (m.stride(0) == 1 && m.stride(1) >= std::max<int64_t>(m.size(0), 1))
    return {m, true, m.stride(1)};
  Tensor c = m.contiguous();
  return {c, false, std::max<int64_t>(c.size(1), 1)};
}

void check_matmul(const Tensor& a, const Tensor& b) {
  KZ_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3), "matmul",
           "needs 2-D or 3-D operands, got {} and {}", shape_str(a.shape()),
           shape_str(b.shape()));
  KZ_CHECK(a.size(-1) == b.size(-2), "matmul", "inner sizes differ: {} @ {}",
           shape_str(a.shape()), shape_str(b.shape()));
  if (a.dim() == 3 && b.dim() == 3)
    KZ_CHECK(a.size(0) == b.size(0), "matmul", "batch sizes differ: {} @ {}",
             shape_str(a.shape()), shape_str(b.shape()));
}

template <class Gemm>
Tensor matmul_with(const Tensor& a, const Tensor& b, Gemm gemm) {
  check_matmul(a, b);
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const int64_t B = a.dim() == 3 ? a.size(0) : (b.dim() == 3 ? b.size(0) : 0);
  Tensor out = Tensor::empty(B ? Shape{B, M, N} : Shape{M, N});
  for (int64_t i = 0; i < std::max<int64_t>(B, 1); ++i) {
    const Tensor ai = a.dim() == 3 ? a.select(0, i) : a;
    const Tensor bi = b.dim() == 3 ? b.select(0, i) : b;
    const GemmOperand x = gemm_operand(ai), y = gemm_operand(bi);
    float* c = out.data() + i * M * N;
    if (K == 0) {
      std::fill_n(c, M * N, 0.0f);
      continue;
    }
    gemm(x.trans, y.trans, M, N, K, 1.0f, x.t.data(), x.ld, y.t.data(), y.ld, 0.0f, c, N);
  }
  return out;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) { return matmul_with(a, b, sgemm); }
Tensor matmul_naive(const Tensor& a, const Tensor& b) { return matmul_with(a, b, sgemm_naive); }

Tensor cat(const std::vector<Tensor>& parts, int64_t dim) {
  KZ_CHECK(!parts.empty(), "cat", "needs at least one tensor");
  const Tensor& first = parts[0];
  const int64_t n = first.dim();
  KZ_CHECK(dim >= -n && dim < n, "cat", "dimension {} out of range for shape {}", dim,
           shape_str(first.shape()));
  const int64_t d = dim < 0 ? dim + n : dim;
  Shape shape = first.shape();
  shape[static_cast<size_t>(d)] = 0;
  for (const Tensor& p : parts) {
    Shape s = p.shape();
    KZ_CHECK(p.dim() == n, "cat", "shapes {} and {} differ in rank", shape_str(first.shape()),
             shape_str(s));
    s[static_cast<size_t>(d)] = 0;
    Shape want = shape;
    want[static_cast<size_t>(d)] = 0;
    KZ_CHECK(s == want, "cat", "shapes {} and {} differ outside dimension {}",
             shape_str(first.shape()), shape_str(p.shape()), d);
    shape[static_cast<size_t>(d)] += p.size(d);
  }
  Tensor out = Tensor::empty(shape);
  int64_t at = 0;
  for (const Tensor& p : parts) {
    out.narrow(d, at, p.size(d)).copy_(p);
    at += p.size(d);
  }
  return out;
}

Tensor index_select0(const Tensor& a, const std::vector<int64_t>& index) {
  KZ_CHECK(a.dim() >= 1, "index_select0", "needs at least one dimension");
  Shape shape = a.shape();
  shape[0] = static_cast<int64_t>(index.size());
  Tensor out = Tensor::empty(shape);
  for (size_t i = 0; i < index.size(); ++i) {
    KZ_CHECK(index[i] >= 0 && index[i] < a.size(0), "index_select0",
             "index {} out of range for shape {}", index[i], shape_str(a.shape()));
    out.select(0, static_cast<int64_t>(i)).copy_(a.select(0, index[i]));
  }
  return out;
}

}  // namespace kz
