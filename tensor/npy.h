/// \file
/// npy.h — read and write NumPy .npy arrays (format versions 1.0–3.0).
///
/// Supported: little-endian, C order ('fortran_order': False); dtypes <f4 (float32) and, for
/// labels, <i4, <i8, |u1 (read converted to float32 by load_npy, or exactly by
/// load_npy_int). Anything else — big-endian, Fortran order, other dtypes, a shape that
/// does not match the byte count, a truncated file — fails with one line naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// Any supported dtype, converted to float32.
Tensor load_npy(const std::string& path);
/// An integer array (<i4, <i8, |u1) exactly, flattened; its shape into *shape when given.
std::vector<int64_t> load_npy_int(const std::string& path, Shape* shape = nullptr);
void save_npy(const std::string& path, const Tensor& t);  ///< <f4, atomic
void save_npy_int(const std::string& path, const std::vector<int64_t>& values,
                  const Shape& shape);  ///< <i8, atomic
/// load_npy from memory; errors name `name_for_errors` as the file.
Tensor parse_npy(const std::string& bytes, const std::string& name_for_errors);
std::vector<int64_t> parse_npy_int(const std::string& bytes, const std::string& name_for_errors,
                                   Shape* shape = nullptr);  ///< load_npy_int from memory

}  // namespace kz
