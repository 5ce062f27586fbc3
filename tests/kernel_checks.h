// kernel_checks.h — helpers shared by the kernel tests (test_conv.cpp, test_fused.cpp,
// test_decoder_ops.cpp, test_ssim.cpp, and the method fixtures' tests): tolerance checks
// that report the largest difference, a tensor in either layout, and reading a fixture's
// metadata.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace kz::test {

inline void check_close(const Tensor& got, const Tensor& want, float rtol, float atol,
                        const std::string& what) {
  REQUIRE_MESSAGE(got.defined(), what, ": result undefined");
  CHECK_MESSAGE(allclose(got, want, rtol, atol), what, ": max |diff| ",
                got.shape() == want.shape() ? max_abs_diff(got, want) : -1.0f, " got shape ",
                shape_str(got.shape()), " want ", shape_str(want.shape()));
}

// max |got − want| ≤ tol · max(max |want|, 1e-6): a tolerance relative to the fixture's
// largest entry (for whole networks' outputs and gradients, whose scales vary).
inline void check_close_scaled(const Tensor& got, const Tensor& want, double tol,
                               const std::string& what) {
  CAPTURE(what);
  REQUIRE(got.shape() == want.shape());
  const std::vector<float> a = got.to_vector(), b = want.to_vector();
  double worst = 0.0, scale = 1e-6;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  CHECK(worst <= tol * scale);
}

// t as channels-last (N,C,H,W) strides, or contiguous NCHW.
inline Tensor in_layout(const Tensor& t, bool channels_last) {
  return channels_last ? t.to_channels_last() : t.contiguous();
}

// The numbers of a fixture's metadata entry (space-separated).
inline std::vector<double> metadata_numbers(const Safetensors& f, const std::string& key) {
  std::istringstream in(f.metadata.at(key));
  std::vector<double> v;
  for (double d; in >> d;) v.push_back(d);
  return v;
}

// The case names of a fixture: its metadata keys that start with prefix, without it.
inline std::vector<std::string> case_names(const Safetensors& f, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& [key, value] : f.metadata)
    if (key.rfind(prefix, 0) == 0) names.push_back(key.substr(prefix.size()));
  return names;
}

// Fraction of the elements of y equal to 0 and to 6 (a ReLU6 test must exercise both clamps).
inline std::pair<double, double> clamped_fractions(const Tensor& y) {
  const std::vector<float> v = y.to_vector();
  double zeros = 0, sixes = 0;
  for (float e : v) zeros += e == 0.0f, sixes += e == 6.0f;
  return {zeros / double(v.size()), sixes / double(v.size())};
}

}  // namespace kz::test
