/// \file
/// affine_maps.h — GOAD's transformations for tables (Bergman & Hoshen 2020, "Classification-
/// Based Anomaly Detection for General Data", section 4 and the authors' train_ad_tabular.py):
/// M random linear maps of a row's D features to d dimensions; a network learns which map
/// made a copy of a normal row, and fails to tell on anomalies.
///
/// Shape letters: N rows, D features, M maps, d the dimension each map gives.
/// \code{.unparsed}
///   maps W        (M,D,d), every entry drawn from N(0, 1)   (np.random.randn(M, D, d))
///   copy m of x   x·W_m  (d values)                          (train_real.dot(rot))
///   copies        (N·M, d), rows ordered row by row: row i's copy m at i·M + m
/// \endcode
/// The paper calls the maps affine (W_m x + b_m); the authors' code draws no b_m, and neither
/// does kizuki. Their code stacks the copies as (N, d, M) for 1-d convolutions over the M
/// positions; kizuki keeps one copy per row (N·M, d), which the same per-copy network sees
/// alike (a kernel-1 convolution is one linear map applied to every position).
#pragma once

#include <cstdint>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace kz {

/// M maps of D features to d dimensions, each entry from gen's normal() in row-major
/// (M,D,d) order. M ≥ 2 (a classifier needs two classes), D, d ≥ 1.
Tensor random_affine_maps(int64_t maps, int64_t features, int64_t dims, Generator& gen);

/// rows (N,D) or (N,D,1,1) (a table's rows from the loader), maps (M,D,d) -> copies (N·M,d),
/// row i·M + m = rows_i · maps_m, from one GEMM. A D that differs from the maps' is a kz::Error
/// naming both.
Tensor affine_copies(const Tensor& rows, const Tensor& maps);

}  // namespace kz
