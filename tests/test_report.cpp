// test_report.cpp — benchmark results and their writers (anomaly/results.h, report.h, svg.h):
// summary statistics, CSV, JSON, the SVG figures, the HTML page and write_report.
//
// References: tests/fixtures/make_report.py writes report.json with NumPy 1.24's percentiles,
// mean and std(ddof=1) and matplotlib 3.6's cbook.boxplot_stats (whiskers, fliers) for sets of
// AUCs with ties and outliers; one tiny case is also derived by hand below. The figures are
// checked structurally: well-formed XML (a small checker here), one box per method × scorer,
// names escaped; the HTML is checked to be self-contained.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "anomaly/report.h"
#include "anomaly/results.h"
#include "anomaly/roc.h"
#include "anomaly/svg.h"
#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"

namespace fs = std::filesystem;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = nlohmann::json::parse(kz::read_file(KZ_FIXTURES "/report.json"));
  return j;
}

// Results with one group per (dataset, method, scorer) and `trials` trials each; scores of
// 60 normal and 60 anomalous samples drawn so that AUCs differ between methods.
kz::BenchmarkResults make_results(const std::vector<std::string>& datasets,
                                  const std::vector<std::string>& methods,
                                  const std::vector<std::string>& scorers, int trials) {
  kz::BenchmarkResults r;
  r.settings = {
      {"preset", "scratch"}, {"epochs", 3}, {"lr", 1e-3}, {"optimizer", {{"name", "adam"}}}};
  r.environment = {{"kizuki", "0.1.0"}, {"threads", 2}, {"date", "2024-01-01"}};
  kz::Generator gen(42);
  for (const std::string& d : datasets)
    for (size_t m = 0; m < methods.size(); ++m)
      for (int t = 0; t < trials; ++t) {
        const double train_seconds = 10 + 5 * m + gen.uniform();
        for (size_t s = 0; s < scorers.size(); ++s) {
          std::vector<double> scores;
          std::vector<int> labels;
          const double shift = 0.4 + 0.5 * m + 0.2 * s + 0.3 * gen.uniform();
          for (int i = 0; i < 120; ++i) {
            labels.push_back(i % 2);
            scores.push_back(gen.normal() + (i % 2) * shift);
          }
          kz::TrialResult tr;
          tr.dataset = d;
          tr.method = methods[m];
          tr.scorer = scorers[s];
          tr.trial = t;
          tr.seed = 1000 + t;
          tr.auc = kz::roc_auc(scores, labels);
          tr.train_seconds = train_seconds;
          tr.roc = kz::roc_curve(scores, labels);
          r.trials.push_back(std::move(tr));
        }
      }
  return r;
}

// A fresh empty directory under the system temp dir, removed by the destructor.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("kz_test_report_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Minimal XML well-formedness check: balanced and properly nested elements, quoted
// attributes, entities among the five predefined or numeric ones, no stray '<' or '&'.
// Returns "" when well-formed, else what is wrong. Counts elements by name in `counts`.
std::string xml_problem(const std::string& s, std::map<std::string, int>* counts = nullptr) {
  std::vector<std::string> stack;
  size_t i = 0, roots = 0;
  auto check_entities = [](const std::string& text) -> std::string {
    for (size_t a = text.find('&'); a != std::string::npos; a = text.find('&', a + 1)) {
      const size_t semi = text.find(';', a);
      if (semi == std::string::npos) return "unterminated entity";
      const std::string e = text.substr(a + 1, semi - a - 1);
      if (e != "amp" && e != "lt" && e != "gt" && e != "quot" && e != "apos" &&
          !(e.size() > 1 && e[0] == '#'))
        return "unknown entity &" + e + ";";
    }
    return "";
  };
  while (i < s.size()) {
    const size_t lt = s.find('<', i);
    const std::string text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (std::string p = check_entities(text); !p.empty()) return p;
    if (text.find('>') != std::string::npos) return "stray '>' in text";
    if (lt == std::string::npos) break;
    if (s.compare(lt, 5, "<?xml") == 0) {
      i = s.find("?>", lt) + 2;
      continue;
    }
    if (s.compare(lt, 4, "<!--") == 0) {
      i = s.find("-->", lt) + 3;
      continue;
    }
    // Find the tag's end, skipping quoted attribute values.
    size_t j = lt + 1;
    char quote = 0;
    for (; j < s.size(); ++j) {
      if (quote) {
        if (s[j] == quote) quote = 0;
        else if (s[j] == '<') return "'<' inside an attribute value";
      } else if (s[j] == '"' || s[j] == '\'') {
        quote = s[j];
      } else if (s[j] == '>') {
        break;
      }
    }
    if (j >= s.size()) return "unterminated tag";
    std::string tag = s.substr(lt + 1, j - lt - 1);
    if (std::string p = check_entities(tag); !p.empty()) return p;
    i = j + 1;
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "unbalanced </" + name + ">";
      stack.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (name.empty()) return "empty tag name";
    // Attributes: name="value" pairs.
    std::string rest = tag.substr(name.size(), tag.size() - name.size() - (self_closing ? 1 : 0));
    for (size_t k = 0; k < rest.size();) {
      if (std::isspace(static_cast<unsigned char>(rest[k]))) { ++k; continue; }
      const size_t eq = rest.find('=', k);
      if (eq == std::string::npos || (rest[eq + 1] != '"' && rest[eq + 1] != '\''))
        return "unquoted attribute in <" + name + ">";
      const size_t close = rest.find(rest[eq + 1], eq + 2);
      if (close == std::string::npos) return "unterminated attribute in <" + name + ">";
      k = close + 1;
    }
    if (counts) ++(*counts)[name];
    if (stack.empty()) ++roots;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "expected one root element, found " + std::to_string(roots);
  return "";
}

size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

// RFC 4180 parser for the test: rows of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = was_quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field), field.clear(), was_quoted = false;
    } else if (c == '\n') {
      rows.back().push_back(field), field.clear(), was_quoted = false;
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  (void)was_quoted;
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const kz::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("report: quartiles and summary of a hand-checked case") {
  // AUCs {0.5, 0.6, 0.7, 0.8}, NumPy's linear percentile: h = (n-1) q = 3q.
  //   Q1: h = 0.75 -> 0.5 + 0.75 * 0.1 = 0.575;  median: h = 1.5 -> 0.65;
  //   Q3: h = 2.25 -> 0.7 + 0.25 * 0.1 = 0.725.  mean 0.65; deviations ±0.15, ±0.05:
  //   sum of squares 0.05, sample std sqrt(0.05 / 3) = 0.129099...
  CHECK(kz::quantile({0.8, 0.5, 0.7, 0.6}, 0.25) == doctest::Approx(0.575).epsilon(1e-12));
  CHECK(kz::quantile({0.8, 0.5, 0.7, 0.6}, 0.5) == doctest::Approx(0.65).epsilon(1e-12));
  CHECK(kz::quantile({0.8, 0.5, 0.7, 0.6}, 0.75) == doctest::Approx(0.725).epsilon(1e-12));
  CHECK(kz::quantile({0.8, 0.5, 0.7, 0.6}, 0.0) == 0.5);
  CHECK(kz::quantile({0.8, 0.5, 0.7, 0.6}, 1.0) == 0.8);

  kz::BenchmarkResults r;
  const double aucs[] = {0.5, 0.6, 0.7, 0.8};
  for (int t = 0; t < 4; ++t) {
    r.trials.push_back({"fashion-mnist", "doc", "lof", t, 7u + t, aucs[t], 10.0 + t, {}});
    r.trials.push_back({"fashion-mnist", "arcface", "cosine", t, 7u + t, 0.9, 20.0, {}});
  }
  r.trials.push_back({"cifar10", "doc", "lof", 0, 1, 0.61, 3.0, {}});
  const std::vector<kz::SummaryRow> rows = kz::summarize(r);
  REQUIRE(rows.size() == 3);
  // Groups in order of first appearance.
  CHECK(rows[0].method == "doc");
  CHECK(rows[1].method == "arcface");
  CHECK(rows[2].dataset == "cifar10");
  CHECK(rows[0].n == 4);
  CHECK(rows[0].median == doctest::Approx(0.65).epsilon(1e-12));
  CHECK(rows[0].mean == doctest::Approx(0.65).epsilon(1e-12));
  CHECK(rows[0].std == doctest::Approx(std::sqrt(0.05 / 3)).epsilon(1e-12));
  CHECK(rows[0].min == 0.5);
  CHECK(rows[0].max == 0.8);
  CHECK(rows[0].train_seconds_mean == doctest::Approx(11.5).epsilon(1e-12));
  CHECK(rows[1].std == 0.0);
  CHECK(rows[2].n == 1);
  CHECK(std::isnan(rows[2].std));  // undefined for one trial, as NumPy ddof=1

  const std::string table = kz::format_summary_table(rows);
  CHECK(table.find("0.6500") != std::string::npos);
  CHECK(table.find("0.1291") != std::string::npos);
  CHECK(table.find("11.5") != std::string::npos);
  // Aligned: every line of the table (header, rule, rows) has the same length or less and
  // the numeric columns end at the same place.
  std::vector<std::string> lines;
  for (size_t a = 0, b; (b = table.find('\n', a)) != std::string::npos; a = b + 1)
    lines.push_back(table.substr(a, b - a));
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].size() == lines[1].size());
  CHECK(lines[2].size() == lines[1].size());
  CHECK(lines[2].size() == lines[3].size());

  CHECK(error_of([] { kz::quantile({}, 0.5); }).rfind("[report]", 0) == 0);
  CHECK(error_of([] { kz::quantile({0.1}, 1.5); }).rfind("[report]", 0) == 0);
}

TEST_CASE("report: statistics match NumPy and matplotlib (fixture)") {
  const nlohmann::json& cases = fixture().at("cases");
  REQUIRE(cases.size() >= 10);
  for (size_t c = 0; c < cases.size(); ++c) {
    const nlohmann::json& k = cases[c];
    const std::vector<double> v = k.at("values").get<std::vector<double>>();
    INFO("case " << c << " (n = " << v.size() << ")");
    auto near = [](double a, double b) { return std::abs(a - b) <= 1e-12; };
    CHECK(near(kz::quantile(v, 0.10), k["q10"]));
    CHECK(near(kz::quantile(v, 0.90), k["q90"]));

    kz::BenchmarkResults r;
    for (size_t t = 0; t < v.size(); ++t)
      r.trials.push_back({"d", "m", "s", static_cast<int>(t), t, v[t], 1.0, {}});
    const std::vector<kz::SummaryRow> rows = kz::summarize(r);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].n == static_cast<int>(v.size()));
    CHECK(near(rows[0].median, k["median"]));
    CHECK(near(rows[0].mean, k["mean"]));
    if (k["std"].is_null()) CHECK(std::isnan(rows[0].std));
    else CHECK(near(rows[0].std, k["std"]));
    CHECK(rows[0].min == k["min"].get<double>());
    CHECK(rows[0].max == k["max"].get<double>());

    const kz::BoxStats b = kz::box_stats(v);
    CHECK(near(b.q1, k["q1"]));
    CHECK(near(b.median, k["median"]));
    CHECK(near(b.q3, k["q3"]));
    CHECK(near(b.whisker_low, k["whisker_low"]));
    CHECK(near(b.whisker_high, k["whisker_high"]));
    CHECK(b.outliers == k["fliers"].get<std::vector<double>>());
  }
}

TEST_CASE("report: CSV rows, RFC 4180 quoting and exact numbers") {
  CHECK(kz::csv_field("plain") == "plain");
  CHECK(kz::csv_field("a,b") == "\"a,b\"");
  CHECK(kz::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(kz::csv_field("two\nlines") == "\"two\nlines\"");

  kz::BenchmarkResults r;
  r.trials.push_back({"my,folder", "doc", "lof", 0, 18446744073709551615ull, 0.1, 12.25, {}});
  r.trials.push_back({"say \"x\"\nand y", "arcface", "cosine", 1, 3, 2.0 / 3.0, 1e-7, {}});
  const std::vector<std::vector<std::string>> rows = parse_csv(kz::results_csv(r));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"dataset", "method", "scorer", "trial", "seed", "auc",
                                            "train_seconds"});
  for (const auto& row : rows) CHECK(row.size() == 7);
  CHECK(rows[1][0] == "my,folder");
  CHECK(rows[1][4] == "18446744073709551615");
  CHECK(rows[2][0] == "say \"x\"\nand y");
  CHECK(rows[2][3] == "1");
  CHECK(std::stod(rows[2][5]) == 2.0 / 3.0);  // shortest form that reads back exactly
  CHECK(std::stod(rows[2][6]) == 1e-7);
}

TEST_CASE("report: JSON holds every trial and reads back exactly") {
  const kz::BenchmarkResults r = make_results({"fashion-mnist", "cifar10"}, {"doc", "arcface"},
                                              {"lof", "cosine"}, 3);
  TempDir dir("json");
  const std::string path = (dir.path / "results.json").string();
  kz::write_results_json(path, r);

  const nlohmann::json j = nlohmann::json::parse(kz::read_file(path));
  REQUIRE(j.at("trials").size() == r.trials.size());
  CHECK(j.at("summary").size() == 8);
  CHECK(j.at("settings").at("preset") == "scratch");
  CHECK(j.at("environment").at("threads") == 2);
  CHECK(j.at("trials")[0].at("roc").at("thresholds")[0].is_null());  // +inf

  const kz::BenchmarkResults back = kz::read_results_json(path);
  REQUIRE(back.trials.size() == r.trials.size());
  for (size_t i = 0; i < r.trials.size(); ++i) {
    const kz::TrialResult &a = r.trials[i], &b = back.trials[i];
    CHECK(a.dataset == b.dataset);
    CHECK(a.method == b.method);
    CHECK(a.scorer == b.scorer);
    CHECK(a.trial == b.trial);
    CHECK(a.seed == b.seed);
    CHECK(a.auc == b.auc);
    CHECK(a.train_seconds == b.train_seconds);
    CHECK(a.roc.fpr == b.roc.fpr);
    CHECK(a.roc.tpr == b.roc.tpr);
    CHECK(a.roc.thresholds == b.roc.thresholds);
  }
  CHECK(back.settings == r.settings);
  CHECK(back.environment == r.environment);

  // Bad files: one clear error naming the file.
  kz::write_file_atomic((dir.path / "bad.json").string(), "{\"trials\": [");
  std::string e = error_of([&] { kz::read_results_json((dir.path / "bad.json").string()); });
  CHECK(e.find("[report]") == 0);
  CHECK(e.find("bad.json") != std::string::npos);
  kz::write_file_atomic((dir.path / "other.json").string(), "{\"trials\": []}");
  e = error_of([&] { kz::read_results_json((dir.path / "other.json").string()); });
  CHECK(e.find("other.json") != std::string::npos);
  CHECK(e.find("not a kizuki results file") != std::string::npos);
  kz::write_file_atomic((dir.path / "short.json").string(),
                        R"({"format": "kizuki-benchmark-results", "trials": [{"dataset": "d"}]})");
  e = error_of([&] { kz::read_results_json((dir.path / "short.json").string()); });
  CHECK(e.find("short.json") != std::string::npos);
  CHECK(e.find("trials[0]") != std::string::npos);
}

TEST_CASE("report: SVG figures are well-formed, one box per method x scorer, names escaped") {
  kz::BenchmarkResults r = make_results({"fashion-mnist", "a<b & \"c\""},
                                        {"doc", "l2softmax", "arcface"}, {"lof", "cosine"}, 4);
  for (const std::string& svg :
       {kz::boxplot_figure(r).document(), kz::roc_figure(r).document()}) {
    std::map<std::string, int> counts;
    CHECK(xml_problem(svg, &counts) == "");
    CHECK(counts["svg"] == 1);
    CHECK(svg.find("a&lt;b &amp; &quot;c&quot;") != std::string::npos);
    CHECK(svg.find("a<b") == std::string::npos);
    CHECK(count_of(svg, "class=\"panel\"") == 2);
  }
  const std::string box = kz::boxplot_figure(r).document();
  CHECK(count_of(box, "class=\"box\"") == 2 * 3 * 2);
  CHECK(count_of(box, "class=\"box\" data-method=\"arcface\" data-scorer=\"cosine\"") == 2);
  const std::string roc = kz::roc_figure(r).document();
  CHECK(count_of(roc, "class=\"curve\"") == 2 * 3 * 2);
  CHECK(count_of(roc, "<polyline") == 2 * 3 * 2 * (4 + 1));  // every trial + the median

  // The checker itself rejects broken markup.
  CHECK(xml_problem("<svg><g></svg></g>") != "");
  CHECK(xml_problem("<svg><text>a < b</text></svg>") != "");
  CHECK(xml_problem("<svg><text>a & b</text></svg>") != "");
  CHECK(xml_problem("<svg width=3></svg>") != "");

  // No trials: still a valid figure saying so.
  const std::string empty = kz::boxplot_figure(kz::BenchmarkResults{}).document();
  CHECK(xml_problem(empty) == "");
  CHECK(empty.find("no trials") != std::string::npos);
}

TEST_CASE("report: SVG helpers: escaping, numbers, nice ticks") {
  CHECK(kz::xml_escape("<a href='x'>&\"</a>") ==
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  CHECK(kz::svg_num(12.5) == "12.5");
  CHECK(kz::svg_num(3.0) == "3");
  CHECK(kz::svg_num(-0.001) == "0");
  CHECK(kz::svg_num(0.125, 2) == "0.12");
  const double ranges[][2] = {{0, 1}, {0.83, 0.97}, {0.512, 0.518}, {-3, 250}, {0.6, 0.61}};
  for (const auto& [lo, hi] : ranges) {
    INFO("range [" << lo << ", " << hi << "]");
    const kz::NiceAxis a = kz::nice_axis(lo, hi, 6);
    CHECK(a.lo <= lo);
    CHECK(a.hi >= hi);
    CHECK(a.ticks.size() >= 3);
    CHECK(a.ticks.size() <= 12);
    CHECK(a.ticks.front() == doctest::Approx(a.lo));
    CHECK(a.ticks.back() == doctest::Approx(a.hi));
    const double mantissa = a.step / std::pow(10, std::floor(std::log10(a.step) + 1e-9));
    CHECK((std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 ||
           std::abs(mantissa - 5) < 1e-9));
    // Tick labels at the axis's decimals are distinct.
    std::vector<std::string> labels;
    for (double t : a.ticks) labels.push_back(fmt::format("{:.{}f}", t, a.decimals));
    CHECK(std::unique(labels.begin(), labels.end()) == labels.end());
  }
  CHECK(error_of([] { kz::nice_axis(1, 1); }).rfind("[svg]", 0) == 0);

  // simplify_polyline: a staircase of 0.1-px steps along a diagonal plus one 5-px spike.
  std::vector<std::pair<double, double>> stairs;
  for (int i = 0; i <= 200; ++i) stairs.emplace_back(i * 0.1 + (i == 100 ? 5 : 0), i * 0.1);
  const auto kept = kz::simplify_polyline(stairs, 0.5);
  CHECK(kept.front() == stairs.front());
  CHECK(kept.back() == stairs.back());
  CHECK(std::find(kept.begin(), kept.end(), stairs[100]) != kept.end());  // the spike stays
  CHECK(kept.size() <= 6);
  // Every dropped point is within the tolerance of the simplified line.
  for (const auto& p : stairs) {
    double best = 1e9;
    for (size_t k = 0; k + 1 < kept.size(); ++k) {
      const auto &a = kept[k], &b = kept[k + 1];
      const double dx = b.first - a.first, dy = b.second - a.second;
      const double t = std::clamp(
          ((p.first - a.first) * dx + (p.second - a.second) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
      best = std::min(best, std::hypot(p.first - a.first - t * dx, p.second - a.second - t * dy));
    }
    CHECK(best <= 0.5 + 1e-12);
  }
}

TEST_CASE("report: HTML page is self-contained and inlines both figures") {
  kz::BenchmarkResults r =
      make_results({"cifar10"}, {"doc", "frozen"}, {"lof", "knn"}, 3);
  r.trials[0].method = "x<script>alert(1)</script>";
  r.settings["data_dir"] = "/data/<&>";
  const std::string html = kz::report_html(r);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(count_of(html, "<svg ") == 2);
  CHECK(count_of(html, "</svg>") == 2);
  CHECK(html.find(kz::boxplot_figure(r).element(false)) != std::string::npos);
  CHECK(html.find(kz::roc_figure(r).element(false)) != std::string::npos);
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find(" src=") == std::string::npos);
  CHECK(html.find("x&lt;script&gt;") != std::string::npos);
  CHECK(html.find("/data/&lt;&amp;&gt;") != std::string::npos);
  CHECK(html.find("How to read this") != std::string::npos);
  CHECK(html.find("0.5 is chance") != std::string::npos);
  for (const kz::SummaryRow& row : kz::summarize(r))
    CHECK(html.find(fmt::format("{:.4f}", row.median)) != std::string::npos);
  // The body (everything after the DOCTYPE) is well-formed too: void elements are the only
  // unclosed tags, and this page uses just <meta>.
  const std::string page = html.substr(html.find("<html"));
  std::string body;  // page with each <meta ...> closed as <meta .../>
  size_t a = 0;
  for (size_t m; (m = page.find("<meta", a)) != std::string::npos; a = page.find('>', m) + 1)
    body += page.substr(a, page.find('>', m) - a) + "/>";
  body += page.substr(a);
  CHECK(count_of(body, "<meta") == 2);
  CHECK(xml_problem(body) == "");
}

TEST_CASE("report: write_report writes the five files atomically") {
  const kz::BenchmarkResults r = make_results({"fashion-mnist"}, {"doc"}, {"lof"}, 2);
  TempDir dir("all");
  const fs::path out = dir.path / "nested" / "out";
  kz::write_report(out.string(), r);
  kz::write_report(out.string(), r);  // overwrites in place
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"boxplot.svg", "report.html", "results.csv",
                                          "results.json", "roc.svg"});
  CHECK(kz::read_file((out / "results.csv").string()) == kz::results_csv(r));
  CHECK(kz::read_file((out / "boxplot.svg").string()) == kz::boxplot_figure(r).document());

  kz::write_file_atomic((dir.path / "a_file").string(), "x");
  const std::string e = error_of([&] { kz::write_report((dir.path / "a_file").string(), r); });
  CHECK(e.rfind("[report]", 0) == 0);
  CHECK(e.find("a_file") != std::string::npos);
}
