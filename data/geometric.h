/// \file
/// geometric.h — the 72 geometric transformations of GEOM (Golan & El-Yaniv 2018, "Deep
/// Anomaly Detection Using Geometric Transformations") and GOAD (Bergman & Hoshen 2020):
/// a network learns which one was applied to a normal image, and fails to tell on anomalies.
///
/// Transformation t in [0, 72), in the authors' order (itertools.product of the four):
/// \code{.unparsed}
///   t = ((f·3 + a)·3 + b)·4 + k     f ∈ {no flip, flip}, a, b ∈ {0, −s, +s}, k quarter turns
///   1. flip:      x[c][i][j] ← x[c][i][W−1−j]                        (np.fliplr on H×W×C)
///   2. translate: x[c][i][j] ← x[c][R(i + tx)][R(j + ty)]  tx = a's shift down the rows,
///                 ty = b's along the columns (Keras's apply_affine_transform(tx, ty), whose
///                 tx moves rows), R = reflection with the edge repeated (scipy's 'reflect':
///                 d c b a | a b c d | d c b a); s = a quarter of the side (8 px at 32 px)
///   3. rotate:    k times x[c][i][j] ← x[c][j][W−1−i]       (np.rot90, counter-clockwise)
/// \endcode
/// Images are square (rotation keeps the shape). Every output pixel is an input pixel:
/// the transformations only move values (checked bit for bit against the authors' numpy /
/// scipy calls, tests/fixtures/make_geometric.py).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace kz {

/// The number of transformations.
inline constexpr int64_t kGeometricTransforms = 72;

/// One transformation, decoded from its index (see the file's description).
struct GeometricTransform {
  bool flip = false;      ///< mirror left–right first
  int64_t tx = 0;         ///< row shift: output row i reads input row R(i + tx)
  int64_t ty = 0;         ///< column shift: output column j reads input column R(j + ty)
  int quarter_turns = 0;  ///< counter-clockwise quarter turns last, 0–3
};

/// Transformation `index` in [0, 72) for images of side `side` (shift s = side / 4).
GeometricTransform geometric_transform(int64_t index, int64_t side);

/// A short name of transformation `index`: "id", "flip,tx=-8,rot=90", ….
std::string geometric_name(int64_t index, int64_t side);

/// x (N,C,H,H) -> t applied to every image, (N,C,H,H) contiguous. Throws for a non-square
/// or non-4-D x.
Tensor apply_geometric(const Tensor& x, const GeometricTransform& t);

/// x (N,C,H,H) -> the 72 transformations of every image, (N·72,C,H,H): image n's copy t at
/// row n·72 + t (whole groups together, as GEOM's batches hold them).
Tensor all_geometric(const Tensor& x);

}  // namespace kz
