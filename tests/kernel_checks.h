// kernel_checks.h — helpers shared by the kernel tests (test_conv.cpp, test_fused.cpp):
// a tolerance check that reports the largest difference, and a tensor in either layout.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tensor/ops.h"
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

}  // namespace kz::test
