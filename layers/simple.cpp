// simple.cpp — the parameter-free layers (see simple.h). The math lives in
// autograd/activations.cpp, autograd/pooling.cpp and autograd/upsample.cpp.
#include "layers/simple.h"

#include <cmath>

namespace kz {

namespace {
Generator child_generator(Generator& gen) {
  const uint64_t hi = gen.next_u32(), lo = gen.next_u32();
  return Generator((hi << 32) | lo);
}
}  // namespace

Dropout::Dropout(float p, Generator& gen) : p_(p), gen_(child_generator(gen)) {
  KZ_CHECK(p >= 0.0f && p <= 1.0f, "Dropout", "p must be in [0, 1], got {}", p);
}

MaxPool2d::MaxPool2d(int64_t kernel, std::optional<int64_t> stride, int64_t padding)
    : params_{kernel, stride.value_or(kernel), padding} {
  KZ_CHECK(kernel >= 1 && params_.stride >= 1 && padding >= 0 && 2 * padding <= kernel,
           "MaxPool2d", "invalid kernel {}, stride {}, padding {} (padding at most kernel/2)",
           kernel, params_.stride, padding);
}

Upsample::Upsample(double scale, UpsampleMode mode) : scale_(scale), mode_(mode) {
  KZ_CHECK(scale > 0 && std::isfinite(scale), "Upsample",
           "scale factor must be positive, got {}", scale);
}

Upsample::Upsample(int64_t out_h, int64_t out_w, UpsampleMode mode)
    : out_h_(out_h), out_w_(out_w), mode_(mode) {
  KZ_CHECK(out_h > 0 && out_w > 0, "Upsample", "output size must be positive, got {}x{}",
           out_h, out_w);
}

Variable Upsample::forward(const Variable& x) {
  KZ_CHECK(x.dim() == 4, "Upsample", "expected input (N, C, H, W), got {}",
           shape_str(x.shape()));
  if (scale_ == 0) return upsample2d(x, out_h_, out_w_, mode_);
  const auto [oh, ow] = output_size(x.size(2), x.size(3));
  return upsample2d(x, oh, ow, mode_, scale_, scale_);
}

std::pair<int64_t, int64_t> Upsample::output_size(int64_t h, int64_t w) const {
  if (scale_ == 0) return {out_h_, out_w_};
  // As F.interpolate: floor(in·scale) in double, the kernel stepping by 1/scale.
  const auto out = [this](int64_t in) {
    return static_cast<int64_t>(std::floor(static_cast<double>(in) * scale_));
  };
  return {out(h), out(w)};
}

}  // namespace kz
