// csv.cpp — an RFC 4180 reader for numeric tables with a label column (see csv.h).
#include "data/csv.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/fashion_mnist.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

// Records of RFC 4180 text, one at a time, with the line each starts on.
class RecordReader {
 public:
  RecordReader(const std::string& text, const std::string& name) : text_(text), name_(name) {}

  bool done() const { return pos_ >= text_.size(); }
  int64_t line() const { return line_; }

  // Skips one physical line (the lines before the table).
  void skip_line() {
    const size_t end = text_.find('\n', pos_);
    pos_ = end == std::string::npos ? text_.size() : end + 1;
    ++line_;
  }

  // The next record's fields; `start_line` is the line it starts on. An empty line gives no
  // fields (the caller skips it).
  std::vector<std::string> next(int64_t& start_line) {
    start_line = line_;
    std::vector<std::string> fields;
    if (at_line_end()) {
      consume_line_end();
      return fields;
    }
    while (true) {
      fields.push_back(field(start_line, static_cast<int64_t>(fields.size())));
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      consume_line_end();
      return fields;
    }
  }

 private:
  bool at_line_end() const {
    return pos_ >= text_.size() || text_[pos_] == '\n' ||
           (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ||
           (text_[pos_] == '\r' && pos_ + 1 == text_.size());
  }
  void consume_line_end() {
    if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    ++line_;
  }
  // One field from pos_, up to (not including) the ',' or line end after it.
  std::string field(int64_t start_line, int64_t column) {
    std::string out;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      ++pos_;
      while (true) {
        KZ_CHECK(pos_ < text_.size(), "csv",
                 "{}: line {}, column {}: a quoted field is not closed before the end of the "
                 "file",
                 name_, start_line, column + 1);
        const char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            out += '"';
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        out += c;
      }
      KZ_CHECK(pos_ >= text_.size() || text_[pos_] == ',' || at_line_end(), "csv",
               "{}: line {}, column {}: text after the closing quote of a quoted field ('{}')",
               name_, line_, column + 1, printable(text_.substr(pos_, 1)));
      return out;
    }
    while (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) {
      KZ_CHECK(text_[pos_] != '"', "csv",
               "{}: line {}, column {}: a quote inside an unquoted field (RFC 4180 quotes the "
               "whole field and doubles quotes inside it)",
               name_, line_, column + 1);
      out += text_[pos_++];
    }
    return out;
  }

  const std::string& text_;
  const std::string& name_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// A finite float, or false.
bool parse_float(const std::string& s, float& out, std::string& why) {
  const std::string t = trim(s);
  if (t.empty()) {
    why = "an empty value (missing values are not supported)";
    return false;
  }
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) {
    why = fmt::format("'{}' is not a number", printable(t, 40));
    return false;
  }
  if (std::isnan(v)) {
    why = fmt::format("'{}' is NaN", printable(t, 40));
    return false;
  }
  if (std::isinf(v) || errno == ERANGE ||
      std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
    why = fmt::format("'{}' is infinite or beyond float range", printable(t, 40));
    return false;
  }
  out = static_cast<float>(v);
  return true;
}

bool is_number(const std::string& s) {
  float v;
  std::string why;
  return parse_float(s, v, why);
}

void check_memory(int64_t text_bytes, int64_t values, int64_t rows, const CsvOptions& options,
                  const std::string& name, int64_t line) {
  if (options.max_bytes <= 0) return;
  const int64_t need = text_bytes + values * static_cast<int64_t>(sizeof(float)) +
                       rows * static_cast<int64_t>(sizeof(int64_t) * 2);
  KZ_CHECK(need <= options.max_bytes, "csv",
           "{}: line {}: the table does not fit the memory limit of {} bytes ({} bytes of text "
           "and {} values so far)",
           name, line, options.max_bytes, text_bytes, values);
}

}  // namespace

int64_t Table::class_index(const std::string& value) const {
  for (size_t c = 0; c < class_names.size(); ++c)
    if (class_names[c] == value) return static_cast<int64_t>(c);
  fail("csv", fmt::format("{}: no row has the label '{}' (labels: {})", source, value,
                          fmt::join(class_names, ", ")));
}

Table parse_csv(const std::string& text, const CsvOptions& options, const std::string& name) {
  KZ_CHECK(!options.label.empty() || !options.features.empty(), "csv",
           "{}: no label column given", name);
  KZ_CHECK(options.skip_rows >= 0, "csv", "{}: skip_rows {} is negative", name,
           options.skip_rows);
  check_memory(static_cast<int64_t>(text.size()), 0, 0, options, name, 1);
  RecordReader reader(text, name);
  for (int64_t i = 0; i < options.skip_rows && !reader.done(); ++i) reader.skip_line();

  // The first non-empty record: the header, or the first data row.
  std::vector<std::string> first;
  int64_t first_line = reader.line();
  while (first.empty() && !reader.done()) first = reader.next(first_line);
  KZ_CHECK(!first.empty(), "csv", "{}: empty file (no header and no rows{})", name,
           options.skip_rows > 0 ? fmt::format(" after skipping {} lines", options.skip_rows)
                                 : "");
  std::vector<std::string> names;
  if (options.header) {
    for (const std::string& n : first) names.push_back(trim(n));
  } else {
    for (size_t c = 0; c < first.size(); ++c) names.push_back(std::to_string(c));
  }
  const auto ncols = static_cast<int64_t>(names.size());
  std::map<std::string, int64_t> position;
  for (int64_t c = 0; c < ncols; ++c) {
    const auto [it, fresh] = position.emplace(names[static_cast<size_t>(c)], c);
    KZ_CHECK(fresh, "csv", "{}: line {}: columns {} and {} are both named '{}'", name,
             first_line, it->second + 1, c + 1, printable(names[static_cast<size_t>(c)]));
  }
  auto column_list = [&] { return printable(fmt::format("{}", fmt::join(names, ", ")), 200); };
  int64_t label_col = -1;  // none
  if (!options.label.empty()) {
    const auto label_it = position.find(options.label);
    KZ_CHECK(label_it != position.end(), "csv", "{}: line {}: no label column '{}' (columns: {})",
             name, first_line, printable(options.label), column_list());
    label_col = label_it->second;
  }
  std::vector<bool> dropped(static_cast<size_t>(ncols), false);
  for (const std::string& d : options.ignore) {
    const auto it = position.find(d);
    if (it != position.end() && it->second != label_col) dropped[static_cast<size_t>(it->second)] = true;
  }
  for (const std::string& d : options.drop) {
    const auto it = position.find(d);
    KZ_CHECK(it != position.end(), "csv", "{}: line {}: no column '{}' to drop (columns: {})",
             name, first_line, printable(d), column_list());
    KZ_CHECK(it->second != label_col, "csv", "{}: the label column '{}' is also to be dropped",
             name, printable(d));
    dropped[static_cast<size_t>(it->second)] = true;
  }
  Table table;
  table.source = name;
  std::vector<int64_t> feature_cols;
  if (options.features.empty()) {
    for (int64_t c = 0; c < ncols; ++c)
      if (c != label_col && !dropped[static_cast<size_t>(c)]) {
        feature_cols.push_back(c);
        table.feature_names.push_back(names[static_cast<size_t>(c)]);
      }
  } else {  // the given features, by name
    std::vector<bool> wanted(static_cast<size_t>(ncols), false);
    for (const std::string& f : options.features) {
      const auto it = position.find(f);
      KZ_CHECK(it != position.end() && it->second != label_col &&
                   !dropped[static_cast<size_t>(it->second)],
               "csv", "{}: line {}: the feature column '{}' is missing (columns: {})", name,
               first_line, printable(f), column_list());
      feature_cols.push_back(it->second);
      wanted[static_cast<size_t>(it->second)] = true;
      table.feature_names.push_back(f);
    }
    for (int64_t c = 0; c < ncols; ++c)
      KZ_CHECK(c == label_col || dropped[static_cast<size_t>(c)] || wanted[static_cast<size_t>(c)],
               "csv", "{}: line {}: column {} '{}' is an extra column, not one of the {} "
               "features ({})", name, first_line, c + 1, printable(names[static_cast<size_t>(c)]),
               options.features.size(),
               printable(fmt::format("{}", fmt::join(options.features, ", ")), 200));
  }
  KZ_CHECK(!feature_cols.empty(), "csv", "{}: no feature columns besides the label '{}'", name,
           printable(options.label));

  std::map<std::string, int64_t> class_of;
  std::vector<std::string> raw_labels;  // first-seen order; sorted below
  auto add_row = [&](const std::vector<std::string>& fields, int64_t line) {
    KZ_CHECK(static_cast<int64_t>(fields.size()) == ncols, "csv",
             "{}: line {}: {} fields where the {} has {} (a ragged row)", name, line,
             fields.size(), options.header ? "header" : "first row", ncols);
    for (int64_t c : feature_cols) {
      float v = 0.0f;
      std::string why;
      KZ_CHECK(parse_float(fields[static_cast<size_t>(c)], v, why), "csv",
               "{}: line {}, column {} '{}': {}", name, line, c + 1,
               printable(names[static_cast<size_t>(c)]), why);
      table.values.push_back(v);
    }
    static const std::string no_label = "-";
    const std::string& label = label_col < 0 ? no_label : fields[static_cast<size_t>(label_col)];
    KZ_CHECK(!trim(label).empty(), "csv", "{}: line {}, column {} '{}': an empty label", name,
             line, label_col + 1, printable(options.label));
    auto it = class_of.find(label);
    if (it == class_of.end()) {
      it = class_of.emplace(label, static_cast<int64_t>(raw_labels.size())).first;
      raw_labels.push_back(label);
    }
    table.labels.push_back(it->second);
    table.lines.push_back(line);
    check_memory(static_cast<int64_t>(text.size()), static_cast<int64_t>(table.values.size()),
                 table.rows(), options, name, line);
  };
  if (!options.header) add_row(first, first_line);
  while (!reader.done()) {
    int64_t line = 0;
    const std::vector<std::string> fields = reader.next(line);
    if (fields.empty()) continue;  // an empty line
    add_row(fields, line);
  }
  KZ_CHECK(table.rows() > 0, "csv", "{}: line {}: a header but no rows", name, first_line);

  // Classes in numeric order when every label is a number, else in byte order.
  std::vector<std::string> sorted = raw_labels;
  const bool numeric = std::all_of(sorted.begin(), sorted.end(), is_number);
  std::sort(sorted.begin(), sorted.end(), [&](const std::string& a, const std::string& b) {
    if (numeric) {
      const double x = std::strtod(trim(a).c_str(), nullptr);
      const double y = std::strtod(trim(b).c_str(), nullptr);
      if (x != y) return x < y;
    }
    return a < b;
  });
  std::vector<int64_t> remap(raw_labels.size());
  for (size_t k = 0; k < sorted.size(); ++k)
    remap[static_cast<size_t>(class_of.at(sorted[k]))] = static_cast<int64_t>(k);
  for (int64_t& l : table.labels) l = remap[static_cast<size_t>(l)];
  table.class_names = std::move(sorted);
  return table;
}

Table load_csv(const std::string& path, const CsvOptions& options) {
  std::error_code ec;
  KZ_CHECK(std::filesystem::is_regular_file(path, ec), "csv", "{}: no such file", path);
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  KZ_CHECK(!ec, "csv", "{}: cannot read its size ({})", path, ec.message());
  KZ_CHECK(options.max_bytes <= 0 || size <= options.max_bytes, "csv",
           "{}: line 1: the file ({} bytes) alone exceeds the memory limit of {} bytes", path,
           size, options.max_bytes);
  return parse_csv(maybe_gunzip(read_file(path), path), options, path);
}

}  // namespace kz
