// kernel_checks.h — helpers shared by the kernel tests (test_conv.cpp, test_fused.cpp,
// test_decoder_ops.cpp, test_ssim.cpp): a tolerance check that reports the largest
// difference, a tensor in either layout, and reading a fixture's metadata.
#pragma once

#include <doctest/doctest.h>

#include <sstream>
#include <string>
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

}  // namespace kz::test
