/// \file
/// csv.h — tables from CSV files: numeric feature columns and one label column.
///
/// Shape letters: N rows, F feature columns.
///
/// The format is RFC 4180: records separated by CRLF or LF, fields by commas; a field in
/// double quotes may hold commas, line breaks and quotes (written twice for one). Lines
/// that are completely empty are skipped (as pandas does). After `skip_rows` lines that are
/// not part of the table (e.g. the first line of scikit-learn's bundled files, which holds
/// "n_samples,n_features,class names…"), the first record is the header — the column names —
/// unless `header` is false, when columns are named by their position from 0 ("0", "1", …,
/// as pandas' header=None). One column is the label (any string; the classes are its distinct
/// values, in numeric order when all are numbers, else in byte order); the columns in `drop`
/// are left out; every other column is a feature and every value in it must be a finite
/// number (blanks around it allowed; quoted or not).
///
/// Bad input is one kz::Error naming the file, the line, and the column by position and
/// name: an empty file, a header only, a missing label or drop column, a duplicate column
/// name, a row with more or fewer fields than the header (ragged), an unterminated or stray
/// quote, an empty or non-numeric value, NaN, ±Inf or a number beyond float range, an empty
/// label, and a table that would need more memory than `max_bytes` (the text plus the values,
/// checked before the file is read and row by row as it is parsed). Files may be gzipped
/// (detected by the magic bytes, as data/fashion_mnist.h); the limit then applies to the
/// decompressed text too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kz {

/// How to read a CSV file (see the file's description).
struct CsvOptions {
  /// The label column's name: required unless `features` is given, when empty means no
  /// label column (every row then has label 0 of the one class "-").
  std::string label;
  std::vector<std::string> drop;  ///< columns left out (each must exist)
  /// Columns left out where the file has them (a model's training label and dropped columns
  /// when scoring a new file); the label column is never ignored.
  std::vector<std::string> ignore;
  /// When not empty, the feature columns, in this order (a model's, `kizuki score --table`):
  /// the file may hold them in any order; one of them missing, or any other column that is
  /// not the label, dropped or ignored (an extra column), is an error naming it.
  std::vector<std::string> features;
  int64_t skip_rows = 0;          ///< lines skipped before the header (or the first row)
  bool header = true;             ///< false: no header; columns are named "0", "1", …
  int64_t max_bytes = 0;          ///< memory limit for the text and the table; 0: none
};

/// A table read from CSV: N rows of F float features and one label each.
struct Table {
  std::vector<std::string> feature_names;  ///< F column names, in file order
  std::vector<float> values;               ///< (N,F) row-major
  std::vector<int64_t> labels;             ///< N, each in [0, class_names.size())
  std::vector<std::string> class_names;    ///< label → the label column's value
  std::vector<int64_t> lines;              ///< N: the file line each row starts on (from 1)
  std::string source;                      ///< the file, for messages

  int64_t rows() const { return static_cast<int64_t>(labels.size()); }  ///< N
  int64_t features() const { return static_cast<int64_t>(feature_names.size()); }  ///< F
  /// The class index of `value` of the label column; anything else throws listing them.
  int64_t class_index(const std::string& value) const;
};

/// Parses CSV text (already decompressed); `name` is the file named in errors.
Table parse_csv(const std::string& text, const CsvOptions& options, const std::string& name);

/// Reads and parses a CSV file, plain or gzipped.
Table load_csv(const std::string& path, const CsvOptions& options);

}  // namespace kz
