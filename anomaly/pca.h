/// \file
/// pca.h — principal component analysis: the directions of largest variance of a set of
/// rows, and the rows projected onto them (for drawing features in 2-D).
///
/// Shape letters: N rows, F features, d components. X̄ = X − mean (the rows centred).
/// \code{.unparsed}
///   components  the d unit eigenvectors of X̄ᵀX̄ of the largest eigenvalues, largest first
///   variance    those eigenvalues / (N − 1): the variance along each component
///   projection  X̄ · componentsᵀ  (N,d)
/// \endcode
/// As scikit-learn's PCA(n_components=d) up to the sign of each component, which is fixed
/// here so that the entry of largest magnitude of each component is positive. The
/// eigenvectors come from LAPACK (dsyevr) on the smaller of X̄ᵀX̄ (F×F) and X̄X̄ᵀ (N×N);
/// arithmetic in double.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace kz {

/// A fitted PCA (see the file's description).
struct Pca {
  Tensor mean;        ///< (F)
  Tensor components;  ///< (d,F), unit rows, largest variance first
  Tensor variance;    ///< (d) explained variance of each component
  /// Rows (M,F) projected onto the components: (M,d).
  Tensor project(const Tensor& x) const;
};

/// PCA of x (N,F) with d components: N ≥ 2, 1 ≤ d ≤ min(N, F), finite values.
Pca fit_pca(const Tensor& x, int64_t d);

}  // namespace kz
