// affine_maps.cpp — GOAD's random maps of a table's rows (see affine_maps.h).
#include "data/affine_maps.h"

#include "tensor/error.h"
#include "tensor/ops.h"

namespace kz {

Tensor random_affine_maps(int64_t maps, int64_t features, int64_t dims, Generator& gen) {
  KZ_CHECK(maps >= 2 && features >= 1 && dims >= 1, "affine_maps",
           "need at least 2 maps of at least 1 feature to at least 1 dimension, got M={} D={} "
           "d={}", maps, features, dims);
  return Tensor::normal({maps, features, dims}, 0.0f, 1.0f, gen);
}

Tensor affine_copies(const Tensor& rows, const Tensor& maps) {
  KZ_CHECK(maps.dim() == 3, "affine_copies", "maps must be (M,D,d), got {}D", maps.dim());
  const int64_t n = rows.size(0), m = maps.size(0), d = maps.size(1), out = maps.size(2);
  KZ_CHECK((rows.dim() == 2 || (rows.dim() == 4 && rows.size(2) == 1 && rows.size(3) == 1)) &&
               rows.size(1) == d,
           "affine_copies", "rows of {} features (shape {}) for maps of {} features", rows.size(1),
           shape_str(rows.shape()), d);
  const Tensor x = rows.contiguous().reshape({n, d});
  const Tensor w = maps.permute({1, 0, 2}).contiguous().reshape({d, m * out});  // (D, M·d)
  return matmul(x, w).reshape({n * m, out});
}

}  // namespace kz
