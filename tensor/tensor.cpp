// tensor.cpp — Tensor: factories, views, copies and printing (see tensor.h).
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "tensor/generator.h"
#include "tensor/strided.h"

namespace kz {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

Shape channels_last_strides(const Shape& shape) {
  KZ_CHECK(shape.size() == 4, "channels_last", "needs a 4-D (N,C,H,W) shape, got {}",
           shape_str(shape));
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  return {H * W * C, 1, W * C, C};
}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset) {}

int64_t Tensor::wrap_dim(int64_t d, const char* op) const {
  const int64_t n = dim();
  KZ_CHECK(d >= -n && d < n, op, "dimension {} out of range for a tensor of shape {}", d,
           shape_str(shape_));
  return d < 0 ? d + n : d;
}

// --- factories -----------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape) {
  for (int64_t s : shape) KZ_CHECK(s >= 0, "empty", "negative size in shape {}", shape_str(shape));
  return Tensor(std::make_shared<Storage>(numel_of(shape)), shape, contiguous_strides(shape), 0);
}

Tensor Tensor::empty_channels_last(const Shape& shape) {
  Shape strides = channels_last_strides(shape);
  return Tensor(std::make_shared<Storage>(numel_of(shape)), shape, std::move(strides), 0);
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill_n(t.data(), t.numel(), value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::arange(float start, float end, float step) {
  KZ_CHECK(step != 0.0f, "arange", "step must not be 0");
  const auto n = static_cast<int64_t>(std::max(0.0, std::ceil((double(end) - start) / step)));
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(start + double(i) * step);
  return t;
}

Tensor Tensor::from_data(const float* data, const Shape& shape) {
  Tensor t = empty(shape);
  if (t.numel() > 0) std::memcpy(t.data(), data, sizeof(float) * static_cast<size_t>(t.numel()));
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  KZ_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "from_vector",
           "{} values do not fill shape {}", values.size(), shape_str(shape));
  return from_data(values.data(), shape);
}

Tensor Tensor::uniform(const Shape& shape, float low, float high, Generator& gen) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform(low, high);
  return t;
}

Tensor Tensor::normal(const Shape& shape, float mean, float stddev, Generator& gen) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = mean + stddev * gen.normal();
  return t;
}

// --- metadata ------------------------------------------------------------------------------

int64_t Tensor::size(int64_t d) const { return shape_[static_cast<size_t>(wrap_dim(d, "size"))]; }
int64_t Tensor::stride(int64_t d) const {
  return strides_[static_cast<size_t>(wrap_dim(d, "stride"))];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

Tensor Tensor::empty_like(const Tensor& t) {
  return t.is_channels_last() && !t.is_contiguous() ? empty_channels_last(t.shape())
                                                    : empty(t.shape());
}

bool Tensor::is_channels_last() const {
  if (dim() != 4) return false;
  const Shape want = channels_last_strides(shape_);
  for (size_t i = 0; i < 4; ++i)
    if (shape_[i] != 1 && strides_[i] != want[i]) return false;
  return true;
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  return const_cast<Tensor*>(this)->at(index);
}

float& Tensor::at(std::initializer_list<int64_t> index) {
  KZ_CHECK(static_cast<int64_t>(index.size()) == dim(), "at", "{} indices for shape {}",
           index.size(), shape_str(shape_));
  int64_t off = 0;
  size_t d = 0;
  for (int64_t i : index) {
    KZ_CHECK(i >= 0 && i < shape_[d], "at", "index {} out of range in dimension {} of shape {}",
             i, d, shape_str(shape_));
    off += i * strides_[d++];
  }
  return data()[off];
}

float Tensor::item() const {
  KZ_CHECK(numel() == 1, "item", "needs exactly one element, shape is {}", shape_str(shape_));
  return data()[0];
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = contiguous();
  return std::vector<float>(c.data(), c.data() + c.numel());
}

// --- views ---------------------------------------------------------------------------------

namespace {
Shape infer_shape(Shape shape, int64_t numel, const char* op, const Shape& from) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      KZ_CHECK(infer < 0, op, "only one -1 allowed in {}", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      KZ_CHECK(shape[i] >= 0, op, "negative size in {}", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    KZ_CHECK(known != 0 && numel % known == 0, op, "cannot view shape {} as {}",
             shape_str(from), shape_str(shape));
    shape[static_cast<size_t>(infer)] = numel / known;
  }
  KZ_CHECK(numel_of(shape) == numel, op, "cannot view shape {} as {}: {} elements vs {}",
           shape_str(from), shape_str(shape), numel, numel_of(shape));
  return shape;
}
}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  KZ_CHECK(is_contiguous(), "view", "needs contiguous data (shape {}); use reshape",
           shape_str(shape_));
  Shape s = infer_shape(shape, numel(), "view", shape_);
  return Tensor(storage_, s, contiguous_strides(s), offset_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  return is_contiguous() ? view(shape) : contiguous().view(shape);
}

Tensor Tensor::permute(const Shape& dims) const {
  KZ_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute", "{} dims for shape {}",
           dims.size(), shape_str(shape_));
  Shape shape(dims.size()), strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const auto d = static_cast<size_t>(wrap_dim(dims[i], "permute"));
    KZ_CHECK(!seen[d], "permute", "dimension {} repeated in {}", d, shape_str(dims));
    seen[d] = true;
    shape[i] = shape_[d];
    strides[i] = strides_[d];
  }
  return Tensor(storage_, shape, strides, offset_);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  Shape dims(shape_.size());
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
  std::swap(dims[static_cast<size_t>(wrap_dim(d0, "transpose"))],
            dims[static_cast<size_t>(wrap_dim(d1, "transpose"))]);
  return permute(dims);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  const auto ud = static_cast<size_t>(wrap_dim(d, "narrow"));
  KZ_CHECK(start >= 0 && length >= 0 && start + length <= shape_[ud], "narrow",
           "[{}, {}) out of range for dimension {} of shape {}", start, start + length, d,
           shape_str(shape_));
  Shape shape = shape_;
  shape[ud] = length;
  return Tensor(storage_, shape, strides_, offset_ + start * strides_[ud]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end) const {
  return narrow(d, start, end - start);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  const int64_t w = wrap_dim(d, "select");
  return narrow(w, index, 1).squeeze(w);
}

Tensor Tensor::squeeze(int64_t d) const {
  const auto ud = static_cast<size_t>(wrap_dim(d, "squeeze"));
  if (shape_[ud] != 1) return *this;
  Shape shape = shape_, strides = strides_;
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(ud));
  strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(ud));
  return Tensor(storage_, shape, strides, offset_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  const int64_t n = dim() + 1;
  KZ_CHECK(d >= -n && d < n, "unsqueeze", "dimension {} out of range for shape {}", d,
           shape_str(shape_));
  const auto ud = static_cast<size_t>(d < 0 ? d + n : d);
  Shape shape = shape_, strides = strides_;
  const int64_t s = ud < strides_.size() ? strides_[ud] * shape_[ud] : 1;
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(ud), 1);
  strides.insert(strides.begin() + static_cast<std::ptrdiff_t>(ud), s);
  return Tensor(storage_, shape, strides, offset_);
}

Tensor Tensor::expand(const Shape& shape) const {
  KZ_CHECK(shape.size() >= shape_.size(), "expand", "cannot expand {} to {}",
           shape_str(shape_), shape_str(shape));
  const size_t lead = shape.size() - shape_.size();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) continue;
    const int64_t have = shape_[i - lead];
    if (have == shape[i]) {
      strides[i] = strides_[i - lead];
    } else {
      KZ_CHECK(have == 1, "expand", "cannot expand {} to {}", shape_str(shape_),
               shape_str(shape));
    }
  }
  return Tensor(storage_, shape, strides, offset_);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = wrap_dim(start_dim, "flatten"), e = wrap_dim(end_dim, "flatten");
  Shape shape;
  for (int64_t i = 0; i < s; ++i) shape.push_back(shape_[static_cast<size_t>(i)]);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= shape_[static_cast<size_t>(i)];
  shape.push_back(merged);
  for (int64_t i = e + 1; i < dim(); ++i) shape.push_back(shape_[static_cast<size_t>(i)]);
  return reshape(shape);
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  KZ_CHECK(shape.size() == strides.size(), "as_strided", "shape {} and strides {} differ in rank",
           shape_str(shape), shape_str(strides));
  int64_t last = offset;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 0) last += (shape[i] - 1) * strides[i];
  KZ_CHECK(offset >= 0 && (numel_of(shape) == 0 || last < storage_->numel()), "as_strided",
           "view {} strides {} offset {} reaches outside storage of {} elements",
           shape_str(shape), shape_str(strides), offset, storage_->numel());
  return Tensor(storage_, shape, strides, offset);
}

// --- copies --------------------------------------------------------------------------------

void Tensor::copy_(const Tensor& src) {
  const Tensor s = src.shape_ == shape_ ? src : src.expand(shape_);
  if (is_contiguous() && s.is_contiguous()) {
    if (numel() > 0)
      std::memmove(data(), s.data(), sizeof(float) * static_cast<size_t>(numel()));
    return;
  }
  float* dst = storage_->data();
  const float* in = s.storage_->data();
  strided_rows<2>(shape_, {&strides_, &s.strides_}, {offset_, s.offset_},
                  [&](const std::array<int64_t, 2>& off, int64_t n,
                      const std::array<int64_t, 2>& st) {
                    for (int64_t i = 0; i < n; ++i)
                      dst[off[0] + i * st[0]] = in[off[1] + i * st[1]];
                  });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to_channels_last() const {
  if (is_channels_last()) return *this;
  Tensor out = empty_channels_last(shape_);
  out.copy_(*this);
  return out;
}

void Tensor::fill_(float value) {
  float* p = storage_->data();
  strided_rows<1>(shape_, {&strides_}, {offset_},
                  [&](const std::array<int64_t, 1>& off, int64_t n,
                      const std::array<int64_t, 1>& st) {
                    for (int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = value;
                  });
}

// --- printing and comparison ---------------------------------------------------------------

std::string Tensor::to_string(int64_t max_per_dim) const {
  if (!defined()) return "tensor(undefined)";
  std::string s = "tensor(";
  const Tensor c = contiguous();
  const float* p = c.data();
  const Shape strides = contiguous_strides(shape_);
  // Recursive lambda over dimensions; small depth (the rank), fine to recurse.
  auto print = [&](auto&& self, int64_t d, int64_t off) -> void {
    if (d == dim()) {
      s += fmt::format("{:.4g}", p[off]);
      return;
    }
    s += "[";
    const int64_t n = shape_[static_cast<size_t>(d)];
    for (int64_t i = 0; i < n; ++i) {
      if (n > max_per_dim && i == max_per_dim / 2) {
        s += "..., ";
        i = n - max_per_dim / 2;
      }
      self(self, d + 1, off + i * strides[static_cast<size_t>(d)]);
      if (i + 1 < n) s += ", ";
    }
    s += "]";
  };
  print(print, 0, 0);
  return s + ", shape=" + shape_str(shape_) + ")";
}

bool allclose(const Tensor& a, const Tensor& b, float rtol, float atol) {
  if (a.shape() != b.shape()) return false;
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) {
    const float x = va[i], y = vb[i];
    if (std::isnan(x) || std::isnan(y)) return false;
    if (x == y) continue;  // equal infinities
    if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y))) return false;
  }
  return true;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  KZ_CHECK(a.shape() == b.shape(), "max_abs_diff", "shapes {} and {} differ",
           shape_str(a.shape()), shape_str(b.shape()));
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  float m = 0.0f;
  for (size_t i = 0; i < va.size(); ++i) {
    const float d = std::fabs(va[i] - vb[i]);
    if (std::isnan(d)) return std::numeric_limits<float>::quiet_NaN();
    m = std::max(m, d);
  }
  return m;
}

}  // namespace kz
