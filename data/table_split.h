/// \file
/// table_split.h — the anomaly benchmark's three sets drawn from one table (data/csv.h),
/// as data/split.h draws them from an image set's train/test pair.
///
/// Shape letters: N rows, F features.
///
/// A table has one set of rows, so every set comes from it, without replacement (no row is
/// in two sets), from one Generator(seed), in this order: the reference classes in
/// ascending order, then the normal rows (the first n_normal_train train, the next
/// n_test_normal are test normals), then the anomalous rows (every anomaly class pooled):
/// \code{.unparsed}
///   reference    n_reference_per_class rows of every reference class  (−1: all of them)
///   normal_train n_normal_train normal rows                           (−1: half, rounded down)
///   test         n_test_normal normal rows not in normal_train        (−1: all the others)
///                + n_test_anomaly rows of the anomaly classes         (−1: all of them)
/// \endcode
/// Classes not named are left out. With no anomaly class named, every class that is neither
/// normal nor reference is anomalous; with no reference class named, there is no reference
/// set. Labels follow data/split.h: reference 0 … R−1 and normal_train R share one class
/// list; test 0 = normal, 1 = anomaly.
///
/// Every set is standardised with the normal training rows' statistics only (the test and
/// reference rows never inform them): x' = (x − mean) / std, per feature, std the population
/// one (ddof 0) and 1 where it is 0 — scikit-learn's StandardScaler.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/csv.h"
#include "data/dataset.h"
#include "data/split.h"

namespace kz {

/// Which rows of a table play which part (label values of its label column), and how many.
struct TableProtocol {
  std::string normal;                  ///< the normal class (required)
  std::vector<std::string> anomaly;    ///< empty: every class neither normal nor reference
  std::vector<std::string> reference;  ///< empty: no reference set
  /// The sizes of the file's description (−1: the defaults there)
  ///@{
  int64_t n_reference_per_class = -1, n_normal_train = -1, n_test_normal = -1,
          n_test_anomaly = -1;
  ///@}
};

/// A table's rows as a dataset: values (N,F) with channels = F, height = width = 1.
ImageDataset table_dataset(const Table& table);

/// Draws and standardises the three sets of one trial (see the file's description).
/// `rows` is a table_dataset(); indices in the split are row positions in it.
BenchmarkSplit table_split(const ImageDataset& rows, const TableProtocol& protocol,
                           uint64_t seed);

/// A table's standardisation, x' = (x − mean) / scale per feature: the mean and population
/// std (1 where it is 0) of some rows, kept in double (as table_split computes it).
struct TableScaling {
  /// F values each
  ///@{
  std::vector<double> mean, scale;
  ///@}
};

/// The standardisation of `rows` (a table of at least one row), as table_split takes it from
/// the normal training rows.
TableScaling table_scaling(const ImageDataset& rows);

/// Standardises the values of `data` (a table of the scaling's F features, or empty) in place.
void apply_table_scaling(ImageDataset& data, const TableScaling& scaling);

/// The same split with `n` rows of the protocol's anomaly classes that its test set does not
/// hold as known_anomalies (weak supervision, as data/split.h with_known_anomalies: label 0,
/// class "known anomaly: <names>"), standardised with the normal training rows' statistics
/// like the other sets. Drawn from Generator(seed, stream 78), so every other set stays as
/// it is. By default the test set holds every anomalous row: then no row is left and any
/// n > 0 fails, saying so (TableProtocol::n_test_anomaly leaves rows out). `rows` and `p` are
/// those that table_split drew `split` from.
BenchmarkSplit table_known_anomalies(const ImageDataset& rows, const BenchmarkSplit& split,
                                     const TableProtocol& p, int64_t n, uint64_t seed);

/// Standardises the values of the split's three sets in place with the mean and population
/// std (1 where it is 0) of its normal training rows, as table_split does; every set must be
/// a table of the same F features and normal_train must have at least one row.
void standardize_by_normal_train(BenchmarkSplit& split);

}  // namespace kz
