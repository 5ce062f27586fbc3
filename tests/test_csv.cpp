// test_csv.cpp — tests for data/csv.h: RFC 4180 quoting and CRLF, header / no header /
// skipped lines, label classes and dropped columns, every kind of bad input (each one error
// naming the file, the line and the column), gzip, the memory limit, and — when Debian's
// python3-sklearn is installed — its bundled breast-cancer and digits tables.
// Shape letters: N rows, F features.
#include <doctest/doctest.h>

#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/csv.h"
#include "tensor/file_io.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

namespace {

using kz::CsvOptions;
using kz::Table;
using kz::test::error_of;

CsvOptions with_label(const std::string& label) {
  CsvOptions o;
  o.label = label;
  return o;
}

// The message of parse_csv's error on `text` (named "t.csv") contains every part.
void check_error(const std::string& text, const CsvOptions& options,
                 const std::vector<std::string>& parts) {
  const std::string msg = error_of([&] { (void)kz::parse_csv(text, options, "t.csv"); });
  for (const std::string& p : parts)
    CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
}

const char* kSklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data";

}  // namespace

TEST_CASE("csv: header, features in file order, label classes, dropped columns") {
  const std::string text = "id,a,kind,b\n7,1.5,cat,-2\n8,3,dog,1e-3\n9, 4 ,cat,0\n";
  CsvOptions o = with_label("kind");
  o.drop = {"id"};
  const Table t = kz::parse_csv(text, o, "t.csv");
  CHECK(t.feature_names == std::vector<std::string>{"a", "b"});
  CHECK(t.rows() == 3);
  CHECK(t.features() == 2);
  CHECK(t.values == std::vector<float>{1.5f, -2.0f, 3.0f, 1e-3f, 4.0f, 0.0f});
  CHECK(t.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(t.labels == std::vector<int64_t>{0, 1, 0});
  CHECK(t.lines == std::vector<int64_t>{2, 3, 4});
  CHECK(t.class_index("dog") == 1);
  CHECK(error_of([&] { (void)t.class_index("cow"); }).find("cat, dog") != std::string::npos);
  // Without dropping, id is a feature too.
  CHECK(kz::parse_csv(text, with_label("kind"), "t.csv").features() == 3);
}

TEST_CASE("csv: RFC 4180 quoting and CRLF line ends") {
  // Quoted fields with commas, doubled quotes and a line break; CRLF ends; a blank line
  // skipped; no line end after the last record.
  const std::string text =
      "\"x\",\"the, label\"\r\n"
      "\"1.25\",\"a \"\"quoted\"\", one\"\r\n"
      "\r\n"
      "2,\"two\r\nlines\"\r\n"
      "3,plain";
  const Table t = kz::parse_csv(text, with_label("the, label"), "t.csv");
  CHECK(t.values == std::vector<float>{1.25f, 2.0f, 3.0f});
  REQUIRE(t.class_names.size() == 3);
  CHECK(t.class_names[0] == "a \"quoted\", one");
  CHECK(t.class_names[1] == "plain");
  CHECK(t.class_names[2] == "two\r\nlines");
  CHECK(t.labels == std::vector<int64_t>{0, 2, 1});
  CHECK(t.lines == std::vector<int64_t>{2, 4, 6});  // the quoted break counts as a line
  // The same table with LF ends reads the same values.
  const Table lf = kz::parse_csv("x,y\n1.25,a\n2,b\n3,c\n", with_label("y"), "t.csv");
  CHECK(lf.values == t.values);
}

TEST_CASE("csv: numeric labels sort as numbers; no header; skipped lines") {
  const Table t = kz::parse_csv("f,y\n1,10\n2,2\n3,9.5\n", with_label("y"), "t.csv");
  CHECK(t.class_names == std::vector<std::string>{"2", "9.5", "10"});
  CHECK(t.labels == std::vector<int64_t>{2, 0, 1});
  // scikit-learn's layout: a first line of counts and class names, then rows, no header.
  CsvOptions o = with_label("2");
  o.header = false;
  o.skip_rows = 1;
  const Table s = kz::parse_csv("3,2,bad,good\n0.5,1,0\n1.5,2,1\n2.5,3,1\n", o, "s.csv");
  CHECK(s.feature_names == std::vector<std::string>{"0", "1"});
  CHECK(s.values == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
  CHECK(s.labels == std::vector<int64_t>{0, 1, 1});
  CHECK(s.lines == std::vector<int64_t>{2, 3, 4});
}

TEST_CASE("csv: bad input is one error naming the file, the line and the column") {
  const CsvOptions o = with_label("y");
  check_error("", o, {"t.csv", "empty file"});
  check_error("\n\r\n", o, {"t.csv", "empty file"});
  check_error("a,y\n", o, {"t.csv", "line 1", "no rows"});
  check_error("a,b\n1,2\n", o, {"t.csv", "line 1", "no label column 'y'", "a, b"});
  check_error("a,y\n1,2\n3,4,5\n", o, {"t.csv", "line 3", "3 fields", "2", "ragged"});
  check_error("a,y\n1,2\n3\n", o, {"t.csv", "line 3", "1 fields", "ragged"});
  check_error("a,y\n1,x\nabc,x\n", o, {"t.csv", "line 3", "column 1 'a'", "'abc' is not a number"});
  check_error("a,b,y\n1,2x,x\n", o, {"t.csv", "line 2", "column 2 'b'", "not a number"});
  check_error("a,y\n1,x\n,x\n", o, {"t.csv", "line 3", "column 1 'a'", "empty value"});
  check_error("a,y\nnan,x\n", o, {"t.csv", "line 2", "column 1 'a'", "NaN"});
  check_error("a,y\n1,x\n-inf,x\n", o, {"t.csv", "line 3", "column 1 'a'", "infinite"});
  check_error("a,y\nInfinity,x\n", o, {"t.csv", "line 2", "infinite"});
  check_error("a,y\n1e39,x\n", o, {"t.csv", "line 2", "column 1", "beyond float range"});
  check_error("a,y\n1e999,x\n", o, {"t.csv", "line 2", "beyond float range"});
  check_error("a,y\n1, \n", o, {"t.csv", "line 2", "column 2 'y'", "empty label"});
  check_error("a,y\n1,\"x\n", o, {"t.csv", "line 2", "column 2", "not closed"});
  check_error("a,y\n1,\"x\"z\n", o, {"t.csv", "line 2", "column 2", "after the closing quote"});
  check_error("a,y\n1,x\"z\n", o, {"t.csv", "line 2", "column 2", "quote inside"});
  check_error("a,y,a\n1,2,3\n", o, {"t.csv", "line 1", "columns 1 and 3", "'a'"});
  check_error("y\nx\n", o, {"t.csv", "no feature columns"});
  CsvOptions drop = o;
  drop.drop = {"zz"};
  check_error("a,y\n1,x\n", drop, {"t.csv", "no column 'zz' to drop"});
  drop.drop = {"y"};
  check_error("a,y\n1,x\n", drop, {"t.csv", "label column 'y' is also to be dropped"});
  CHECK(error_of([] { (void)kz::parse_csv("a,y\n1,x\n", CsvOptions{}, "t.csv"); })
            .find("no label column given") != std::string::npos);
}

TEST_CASE("csv: the memory limit is checked before reading and while parsing") {
  std::string text = "a,b,y\n";
  for (int i = 0; i < 1000; ++i) text += "1,2,x\n";
  CsvOptions o = with_label("y");
  o.max_bytes = 1 << 20;
  CHECK(kz::parse_csv(text, o, "t.csv").rows() == 1000);
  // Enough for the text, not for the values: fails part way, naming the line.
  o.max_bytes = static_cast<int64_t>(text.size()) + 4000;
  const std::string msg = error_of([&] { (void)kz::parse_csv(text, o, "t.csv"); });
  CHECK(msg.find("t.csv: line ") != std::string::npos);
  CHECK(msg.find("memory limit of") != std::string::npos);
  CHECK(msg.find("line 1001") == std::string::npos);  // stopped before the end
  // A file larger than the limit is refused before it is read.
  kz::test::TempDir dir("csv");
  kz::write_file_atomic(dir / "big.csv", text);
  o.max_bytes = 100;
  CHECK(error_of([&] { (void)kz::load_csv(dir / "big.csv", o); }).find("alone exceeds") !=
        std::string::npos);
  CHECK(error_of([&] { (void)kz::load_csv(dir / "none.csv", o); }).find("no such file") !=
        std::string::npos);
}

TEST_CASE("csv: gzipped files read as the plain ones") {
  const std::string text = "a,y\n1,p\n2,q\n";
  std::string gz(256, '\0');
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(gz.data());
  zs.avail_out = static_cast<uInt>(gz.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  kz::test::TempDir dir("csvgz");
  kz::write_file_atomic(dir / "t.csv.gz", gz);
  const Table t = kz::load_csv(dir / "t.csv.gz", with_label("y"));
  CHECK(t.values == std::vector<float>{1, 2});
  CHECK(t.class_names == std::vector<std::string>{"p", "q"});
  CHECK(t.source == dir / "t.csv.gz");
}

TEST_CASE("csv: scikit-learn's bundled tables (python3-sklearn), when installed") {
  namespace fs = std::filesystem;
  const fs::path dir = kSklearnData;
  if (!fs::exists(dir / "breast_cancer.csv") || !fs::exists(dir / "digits.csv.gz")) {
    MESSAGE("skipped: python3-sklearn's data files are not in " << kSklearnData);
    return;
  }
  // breast_cancer.csv: "569,30,malignant,benign", then 569 rows of 30 features and a 0/1
  // label (0 malignant, 1 benign: 212 and 357, as sklearn's load_breast_cancer says).
  CsvOptions o;
  o.skip_rows = 1;
  o.header = false;
  o.label = "30";
  const Table bc = kz::load_csv((dir / "breast_cancer.csv").string(), o);
  CHECK(bc.rows() == 569);
  CHECK(bc.features() == 30);
  CHECK(bc.class_names == std::vector<std::string>{"0", "1"});
  int64_t benign = 0;
  for (int64_t l : bc.labels) benign += l;
  CHECK(benign == 357);
  CHECK(bc.values[0] == doctest::Approx(17.99));
  // digits.csv.gz: no first line, 1797 rows of 64 pixel counts and the digit.
  CsvOptions d;
  d.header = false;
  d.label = "64";
  const Table digits = kz::load_csv((dir / "digits.csv.gz").string(), d);
  CHECK(digits.rows() == 1797);
  CHECK(digits.features() == 64);
  CHECK(digits.class_names.size() == 10);
  CHECK(digits.class_names[9] == "9");
}
