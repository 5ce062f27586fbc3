// test_report.cpp — benchmark results and their writers (anomaly/results.h, report.h, svg.h):
// summary statistics, CSV, JSON, the SVG figures, the HTML page and write_report.
//
// References: tests/fixtures/make_report.py writes report.json with NumPy 1.24's percentiles,
// mean and std(ddof=1) and matplotlib 3.6's cbook.boxplot_stats (whiskers, fliers) for sets of
// AUCs with ties and outliers; one tiny case is also derived by hand below. The figures are
// checked structurally: well-formed XML (a small checker here), one box per method × scorer,
// names escaped; the HTML is checked to be self-contained. Finally the page is opened in
// headless Chromium (Debian's `chromium`, driven through the DevTools protocol): it must load
// with no console errors, and its screenshot must show both figures drawn.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stb_image.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "anomaly/map_figure.h"
#include "anomaly/report.h"
#include "data/image_write.h"
#include "anomaly/results.h"
#include "anomaly/roc.h"
#include "anomaly/svg.h"
#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

using kz::test::error_of;
using kz::test::TempDir;

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

TEST_CASE("report: merging runs with different seeds gives the summary of one run") {
  // One benchmark of 4 trials, and the same trials as two runs of 2 (seeds 1000-1001 and
  // 1002-1003), as `--trials 2 --seed 1000` and `--trials 2 --seed 1002` would write them.
  kz::BenchmarkResults whole = make_results({"cifar10"}, {"doc", "arcface"}, {"lof", "knn"}, 4);
  whole.settings["trials"] = 4;
  whole.settings["seed"] = 1000;
  kz::BenchmarkResults first{{}, whole.settings, whole.environment, {}}, second = first;
  first.settings["trials"] = second.settings["trials"] = 2;
  second.settings["seed"] = 1002;
  for (const kz::TrialResult& t : whole.trials) {
    kz::TrialResult copy = t;
    if (t.trial < 2) {
      first.trials.push_back(copy);
    } else {
      copy.trial -= 2;
      second.trials.push_back(copy);
    }
  }
  const kz::BenchmarkResults merged = kz::merge_results({first, second}, {"a.json", "b.json"});
  CHECK(merged.trials.size() == whole.trials.size());
  CHECK(merged.settings == whole.settings);
  CHECK(merged.environment.at("merged_from") == nlohmann::json{"a.json", "b.json"});
  const std::vector<kz::SummaryRow> want = kz::summarize(whole), got = kz::summarize(merged);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(got[i].method == want[i].method);
    CHECK(got[i].scorer == want[i].scorer);
    CHECK(got[i].n == 4);
    CHECK(got[i].median == want[i].median);
    CHECK(got[i].mean == doctest::Approx(want[i].mean).epsilon(1e-14));
    CHECK(got[i].std == doctest::Approx(want[i].std).epsilon(1e-12));
    CHECK(got[i].min == want[i].min);
    CHECK(got[i].max == want[i].max);
  }
  std::set<int> numbers;
  for (const kz::TrialResult& t : merged.trials) numbers.insert(t.trial);
  CHECK(numbers == std::set<int>{0, 1, 2, 3});

  // Runs of different benchmarks, or the same trial twice: an error naming both runs.
  kz::BenchmarkResults other = second;
  other.settings["lr"] = 0.5;
  std::string e = error_of([&] { kz::merge_results({first, other}, {"a.json", "c.json"}); });
  CHECK(e.find("a.json") != std::string::npos);
  CHECK(e.find("c.json") != std::string::npos);
  CHECK(e.find("'lr'") != std::string::npos);
  e = error_of([&] { kz::merge_results({first, first}, {"a.json", "a2.json"}); });
  CHECK(e.find("a2.json repeats seed 1000") != std::string::npos);

  // Other methods on the same trials (`--methods doc` and `--methods arcface`, each with its
  // settings): the methods side by side, the same summary as the run of both.
  whole.settings["methods"] = {{{"name", "doc"}, {"epochs", 3}}, {{"name", "arcface"}, {"epochs", 5}}};
  kz::BenchmarkResults doc{{}, whole.settings, whole.environment, {}}, arc = doc;
  doc.settings["methods"] = {whole.settings["methods"][0]};
  arc.settings["methods"] = {whole.settings["methods"][1]};
  for (const kz::TrialResult& t : whole.trials) (t.method == "doc" ? doc : arc).trials.push_back(t);
  const kz::BenchmarkResults side = kz::merge_results({doc, arc}, {"doc.json", "arc.json"});
  CHECK(side.settings == whole.settings);
  CHECK(side.trials.size() == whole.trials.size());
  const std::vector<kz::SummaryRow> both = kz::summarize(side);
  REQUIRE(both.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(both[i].method == want[i].method);
    CHECK(both[i].scorer == want[i].scorer);
    CHECK(both[i].median == want[i].median);
  }
  // The same method in both, or another protocol: refused as before.
  e = error_of([&] { kz::merge_results({doc, doc}, {"doc.json", "doc2.json"}); });
  CHECK(e.find("doc2.json repeats seed") != std::string::npos);
  kz::BenchmarkResults other_lr = arc;
  other_lr.settings["lr"] = 0.5;
  e = error_of([&] { kz::merge_results({doc, other_lr}, {"doc.json", "arc.json"}); });
  CHECK(e.find("'lr'") != std::string::npos);
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

TEST_CASE("report: each method's settings are a table, numbers as the user gave them") {
  kz::BenchmarkResults r = make_results({"cifar10"}, {"doc", "arcface"}, {"lof"}, 2);
  r.settings["preset"] = "seed";
  // arcface_m as an older kizuki recorded it (a float widened to double) and as now.
  r.settings["methods"] = nlohmann::json::array(
      {{{"name", "doc"}, {"lr", 5e-05}, {"doc_lambda", 0.1}, {"optimizer", "sgd"}},
       {{"name", "arcface"}, {"lr", 0.0001}, {"arcface_m", 0.05000000074505806}, {"epochs", 10}}});
  const std::string html = kz::report_html(r);
  const std::string settings = html.substr(html.find("<h2>Settings</h2>"));
  CHECK(settings.find("<tr><th>setting</th><th>doc</th><th>arcface</th></tr>") != std::string::npos);
  CHECK(settings.find("<tr><th>arcface_m</th><td><code>\u2014</code></td><td><code>0.05</code></td></tr>") !=
        std::string::npos);
  CHECK(settings.find("<tr><th>lr</th><td><code>5e-05</code></td><td><code>0.0001</code></td></tr>") !=
        std::string::npos);
  CHECK(settings.find("0.050000") == std::string::npos);
  CHECK(settings.find("{\"") == std::string::npos);  // no raw JSON object anywhere
  CHECK(settings.find("<tr><th>preset</th><td><code>seed</code></td></tr>") != std::string::npos);
}

TEST_CASE("report: map figures are shown from their PNG files and kept in results.json") {
  kz::BenchmarkResults r = make_results({"cifar10"}, {"ae"}, {"mse"}, 2);
  const std::string plain = kz::report_html(r);
  CHECK(plain.find("<img") == std::string::npos);  // no maps, no pictures
  r.map_figures.push_back({"cifar10", "ae", "mse", 0, "maps/cifar10-ae.png", 0.0125, 0.25});
  const std::string html = kz::report_html(r);
  CHECK(html.find("<img src=\"maps/cifar10-ae.png\"") != std::string::npos);
  CHECK(html.find(kz::colorbar_html({0.0125, 0.25}, "map value")) != std::string::npos);
  CHECK(html.find("ordered by <code>mse</code>") != std::string::npos);
  const kz::BenchmarkResults back = kz::results_from_json(nlohmann::json::parse(kz::results_json_text(r)));
  REQUIRE(back.map_figures.size() == 1);
  CHECK(back.map_figures[0].file == "maps/cifar10-ae.png");
  CHECK(back.map_figures[0].low == 0.0125);
  CHECK(back.map_figures[0].high == 0.25);
  nlohmann::json j = nlohmann::json::parse(kz::results_json_text(r));
  j["maps"][0]["file"] = "../../etc/x.png";
  CHECK_THROWS_WITH_AS(kz::results_from_json(j), doctest::Contains("not inside the output folder"),
                       kz::Error);
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

// ---- headless Chromium ------------------------------------------------------------------
//
// The page is opened in Debian's chromium, driven through the DevTools protocol over
// --remote-debugging-pipe: the browser reads commands on fd 3 and writes replies and events
// on fd 4, each one JSON message ended by '\0'. The protocol reports everything the DevTools
// console shows: uncaught exceptions (Runtime.exceptionThrown), console.error
// (Runtime.consoleAPICalled) and the browser's own errors, such as a resource that fails to
// load or an SVG attribute the renderer rejects (Log.entryAdded). `--enable-logging=stderr`
// prints the first two but not failed loads, so it is not used. The test first renders a
// deliberately broken control page and checks that every kind of error is caught and that
// its empty figures read as blank, so neither check can pass vacuously.

namespace {

// The chromium executable on PATH ("chromium" on Debian, "chromium-browser" elsewhere), or "".
std::string find_chromium() {
  const char* env = std::getenv("PATH");
  const std::string path = env ? env : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser"})
    for (size_t a = 0; a <= path.size();) {
      size_t b = path.find(':', a);
      if (b == std::string::npos) b = path.size();
      const std::string exe = (b > a ? path.substr(a, b - a) : ".") + "/" + name;
      if (access(exe.c_str(), X_OK) == 0) return exe;
      a = b + 1;
    }
  return "";
}

// RFC 4648 base64 to bytes (the protocol sends screenshots this way).
std::string base64_decode(const std::string& s) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const size_t v = alphabet.find(c);
    if (v == std::string::npos) continue;  // '=' padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// One headless browser and its DevTools pipe. Every read waits at most until a deadline set
// at start; the browser also runs under `timeout`, so it cannot outlive a wedged test.
class Browser {
 public:
  Browser(const std::string& exe, const fs::path& profile, const fs::path& log, int seconds)
      : deadline_(std::chrono::steady_clock::now() + std::chrono::seconds(seconds)) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old_sigpipe_);  // a dead browser: EPIPE, not a signal
    int cmd[2], evt[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(evt, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    const std::vector<std::string> args = {
        "timeout", "-k", "5", std::to_string(seconds + 10), exe, "--headless", "--no-sandbox",
        "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-crash-reporter", "--disable-dev-shm-usage", "--hide-scrollbars",
        "--window-size=1280,2400", "--user-data-dir=" + profile.string(),
        "--remote-debugging-pipe", "about:blank"};
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_ = fork();
    if (pid_ == 0) {  // the child: async-signal-safe calls only
      dup2(null_fd, 0);
      dup2(log_fd, 1);
      dup2(log_fd, 2);
      const int in = fcntl(cmd[0], F_DUPFD, 10), out = fcntl(evt[1], F_DUPFD, 10);
      dup2(in, 3);
      dup2(out, 4);
      close(in);
      close(out);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(cmd[0]);
    close(evt[1]);
    close(log_fd);
    close(null_fd);
    to_browser_ = cmd[1];
    from_browser_ = evt[0];
    if (pid_ < 0) throw std::runtime_error("fork failed");
  }

  ~Browser() {
    if (pid_ > 0) {
      deadline_ = std::max(deadline_, std::chrono::steady_clock::now() + std::chrono::seconds(5));
      try {
        call("Browser.close");
      } catch (...) {  // it may close the pipe before answering
      }
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(50000);
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGTERM);  // `timeout` passes it on and kills the browser 5 s later
        waitpid(pid_, &status, 0);
      }
    }
    close(to_browser_);
    close(from_browser_);
    sigaction(SIGPIPE, &old_sigpipe_, nullptr);
  }

  // Sends a command (to the page `session`, or to the browser when empty) and returns its
  // result; a protocol error is thrown with the method's name.
  nlohmann::json call(const std::string& method,
                      const nlohmann::json& params = nlohmann::json::object(),
                      const std::string& session = "") {
    const int id = ++next_id_;
    nlohmann::json msg = {{"id", id}, {"method", method}, {"params", params}};
    if (!session.empty()) msg["sessionId"] = session;
    const std::string text = msg.dump() + '\0';
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = write(to_browser_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("chromium closed the DevTools pipe (" + method + ")");
      done += static_cast<size_t>(n);
    }
    for (;;) {
      nlohmann::json m = read_message(method);
      if (!m.contains("id")) {
        events_.push_back(std::move(m));
      } else if (m["id"] == id) {
        if (m.contains("error")) throw std::runtime_error(method + ": " + m["error"].dump());
        return m.value("result", nlohmann::json::object());
      }
    }
  }

  // Waits for the event `method` on `session` (or finds it among those already received).
  void wait_for(const std::string& method, const std::string& session) {
    auto seen = [&] {
      return std::any_of(events_.begin(), events_.end(), [&](const nlohmann::json& e) {
        return e.value("method", "") == method && e.value("sessionId", "") == session;
      });
    };
    while (!seen()) events_.push_back(read_message(method));
  }

  // Every event received so far on `session`, in order.
  std::vector<nlohmann::json> events(const std::string& session) const {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& e : events_)
      if (e.value("sessionId", "") == session) out.push_back(e);
    return out;
  }

 private:
  nlohmann::json read_message(const std::string& waiting_for) {
    for (;;) {
      if (const size_t end = pending_.find('\0'); end != std::string::npos) {
        nlohmann::json m = nlohmann::json::parse(pending_.substr(0, end));
        pending_.erase(0, end + 1);
        return m;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw std::runtime_error("chromium did not answer in time (" + waiting_for + ")");
      pollfd p{from_browser_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;  // EINTR or deadline
      char buf[1 << 16];
      const ssize_t n = read(from_browser_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("chromium exited (" + waiting_for + ")");
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

  std::chrono::steady_clock::time_point deadline_;
  pid_t pid_ = -1;
  int to_browser_ = -1, from_browser_ = -1;
  std::string pending_;
  int next_id_ = 0;
  std::vector<nlohmann::json> events_;
  struct sigaction old_sigpipe_ {};
};

// A page as the browser showed it: its console errors, the boxes of its <figure> SVGs (x, y,
// w, h in CSS pixels, page coordinates, and the width of the SVG's viewBox, 0 when it has
// none), and a screenshot (RGB, 1 pixel = 1 CSS pixel) from
// the top of the page down to the bottom of the last figure.
struct RenderedPage {
  std::vector<std::string> errors;
  std::vector<std::array<double, 5>> figures;
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
};

RenderedPage render(Browser& b, const fs::path& html) {
  using nlohmann::json;
  const std::string target = b.call("Target.createTarget", {{"url", "about:blank"}})["targetId"];
  const std::string s =
      b.call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}})["sessionId"];
  for (const char* domain : {"Page.enable", "Runtime.enable", "Log.enable"}) b.call(domain, {}, s);
  b.call("Emulation.setDeviceMetricsOverride",
         {{"width", 1280}, {"height", 2400}, {"deviceScaleFactor", 1}, {"mobile", false}}, s);
  RenderedPage page;
  const json nav = b.call("Page.navigate", {{"url", "file://" + html.string()}}, s);
  if (nav.contains("errorText")) {
    page.errors.push_back("navigation: " + nav["errorText"].get<std::string>());
    return page;
  }
  b.wait_for("Page.loadEventFired", s);

  const json boxes = b.call(
      "Runtime.evaluate",
      {{"expression",
        "JSON.stringify(Array.from(document.querySelectorAll('figure svg'), e => {"
        " const r = e.getBoundingClientRect();"
        " return [r.x + scrollX, r.y + scrollY, r.width, r.height,"
        "         e.viewBox.baseVal ? e.viewBox.baseVal.width : 0]; }))"},
       {"returnByValue", true}},
      s);
  page.figures = json::parse(boxes.at("result").at("value").get<std::string>())
                     .get<std::vector<std::array<double, 5>>>();
  double bottom = 1;
  for (const auto& f : page.figures) bottom = std::max(bottom, std::ceil(f[1] + f[3]));
  const json shot = b.call("Page.captureScreenshot",
                           {{"format", "png"},
                            {"captureBeyondViewport", true},
                            {"clip", {{"x", 0}, {"y", 0}, {"width", 1280}, {"height", bottom},
                                      {"scale", 1}}}},
                           s);
  const std::string png = base64_decode(shot.at("data").get<std::string>());
  int channels = 0;
  unsigned char* pixels =
      stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                            static_cast<int>(png.size()), &page.width, &page.height, &channels, 3);
  if (!pixels) throw std::runtime_error("the screenshot is not a PNG stb_image can read");
  page.rgb.assign(pixels, pixels + static_cast<size_t>(page.width) * page.height * 3);
  stbi_image_free(pixels);

  for (const json& e : b.events(s)) {
    const std::string m = e.value("method", "");
    const json& p = e.value("params", json::object());
    if (m == "Runtime.exceptionThrown") {
      const json& d = p.at("exceptionDetails");
      page.errors.push_back("exception: " + d.value("text", "") + " " +
                            d.value("exception", json::object()).value("description", ""));
    } else if (m == "Runtime.consoleAPICalled" &&
               (p.value("type", "") == "error" || p.value("type", "") == "assert")) {
      std::string text = "console." + p.value("type", "") + ":";
      for (const json& a : p.value("args", json::array()))
        text += " " + (a.contains("value") ? a["value"].dump() : a.value("description", ""));
      page.errors.push_back(text);
    } else if (m == "Log.entryAdded" && p.at("entry").value("level", "") == "error") {
      page.errors.push_back("log (" + p["entry"].value("source", "") +
                            "): " + p["entry"].value("text", "") + " " +
                            p["entry"].value("url", ""));
    }
  }
  b.call("Target.closeTarget", {{"targetId", target}});
  return page;
}

// What is drawn inside box (x, y, w, h, ...) of a screenshot: the fraction of pixels that are not
// (near) white, and per colour of `colours` how many pixels are close to it.
struct Ink {
  double drawn = 0;
  std::vector<int> near;
};

Ink ink(const RenderedPage& page, const std::array<double, 5>& box,
        const std::vector<std::array<int, 3>>& colours) {
  Ink out;
  out.near.assign(colours.size(), 0);
  const int x0 = std::max(0, static_cast<int>(std::ceil(box[0])));
  const int y0 = std::max(0, static_cast<int>(std::ceil(box[1])));
  const int x1 = std::min(page.width, static_cast<int>(box[0] + box[2]));
  const int y1 = std::min(page.height, static_cast<int>(box[1] + box[3]));
  long drawn = 0, total = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const unsigned char* px = &page.rgb[(static_cast<size_t>(y) * page.width + x) * 3];
      ++total;
      drawn += std::min({px[0], px[1], px[2]}) < 230;
      for (size_t c = 0; c < colours.size(); ++c)
        out.near[c] += std::abs(px[0] - colours[c][0]) + std::abs(px[1] - colours[c][1]) +
                           std::abs(px[2] - colours[c][2]) <= 40;
    }
  out.drawn = total ? static_cast<double>(drawn) / total : 0;
  return out;
}

std::array<int, 3> hex_colour(const std::string& hex) {  // "#rrggbb"
  const unsigned long v = std::stoul(hex.substr(1), nullptr, 16);
  return {static_cast<int>(v >> 16), static_cast<int>((v >> 8) & 0xFF), static_cast<int>(v & 0xFF)};
}

std::string tail_of_file(const fs::path& path, size_t n) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "";
  const std::string s = kz::read_file(path.string());
  return s.size() > n ? s.substr(s.size() - n) : s;
}

}  // namespace

TEST_CASE("report: report.html renders in headless Chromium") {
  const std::string exe = find_chromium();
  if (exe.empty()) {
    const std::string ci = std::getenv("CI") ? std::getenv("CI") : "";
    if (ci == "true" || ci == "1")
      FAIL("chromium is not installed; CI needs it for this test "
           "(scripts/install-deps.sh installs Debian's chromium)");
    MESSAGE("skipped: chromium is not installed (apt-get install chromium)");
    return;
  }
  const std::vector<std::string> methods = {"doc", "l2softmax", "arcface", "frozen"};
  kz::BenchmarkResults r =
      make_results({"fashion-mnist", "cifar10"}, methods, {"lof", "cosine", "knn"}, 10);
  // A map figure, as a method with maps leaves one: its PNG beside the page must load.
  r.map_figures.push_back({"fashion-mnist", "ae", "mse", 0, "maps/fashion-mnist-ae.png", 0.0, 0.5});
  TempDir dir("chromium");
  kz::write_report((dir.path / "out").string(), r);
  fs::create_directories(dir.path / "out" / "maps");
  std::vector<uint8_t> pixels(40 * 60 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  kz::write_png((dir.path / "out" / "maps" / "fashion-mnist-ae.png").string(), pixels, 40, 60, 3);
  // The control: each kind of console error once, and two figures with nothing drawn.
  kz::write_file_atomic((dir.path / "control.html").string(), R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>control</title></head><body>
<script>throw new Error("control exception");</script>
<script>console.error("control console error");</script>
<img src="control-missing.png" alt="">
<svg width="50" height="50"><rect x="NaN" y="0" width="10" height="10"/></svg>
<figure><svg width="600" height="400"><rect width="600" height="400" fill="#fff"/></svg></figure>
<figure><svg width="600" height="400"></svg></figure>
</body></html>
)");
  std::vector<std::array<int, 3>> colours;
  for (size_t m = 0; m < methods.size(); ++m) colours.push_back(hex_colour(kz::palette_colour(m)));

  const fs::path log = dir.path / "chromium.log";
  try {
    Browser browser(exe, dir.path / "profile", log, 60);
    {
      const RenderedPage control = render(browser, dir.path / "control.html");
      std::string all;
      for (const std::string& e : control.errors) all += e + "\n";
      INFO("control page errors:\n" << all);
      CHECK(all.find("control exception") != std::string::npos);
      CHECK(all.find("control console error") != std::string::npos);
      CHECK(all.find("control-missing.png") != std::string::npos);
      CHECK(all.find("attribute x") != std::string::npos);
      REQUIRE(control.figures.size() == 2);
      for (const auto& f : control.figures) CHECK(ink(control, f, colours).drawn == 0.0);
    }

    const RenderedPage page = render(browser, dir.path / "out" / "report.html");
    std::string errors;  // console errors of report.html, one a line; none expected
    for (const std::string& e : page.errors) errors += e + "\n";
    CHECK(errors == "");
    REQUIRE(page.figures.size() == 2);  // the box plot, then the ROC figure
    const std::string names[] = {"box plot", "ROC figure"};
    for (size_t f = 0; f < 2; ++f) {
      const auto& box = page.figures[f];
      const Ink k = ink(page, box, colours);
      INFO(names[f] << " at (" << box[0] << ", " << box[1] << "), " << box[2] << " x " << box[3]
                    << ": " << 100 * k.drawn << "% drawn, pixels per method colour "
                    << fmt::format("{}", fmt::join(k.near, " ")));
      CHECK(box[2] >= 400);
      CHECK(box[3] >= 250);
      CHECK(box[2] >= 0.95 * box[4]);  // shown at full size, not scaled down (nor its text)
      CHECK(box[1] + box[3] <= page.height);  // inside the screenshot
      // Measured here: the box plot (two rows of 12 boxes) 6.3 % drawn and 820-960 pixels of
      // each method's colour; the ROC figure 12.6 % and 1950-2780. Blank is 0 and 0.
      CHECK(k.drawn >= 0.02);
      for (size_t m = 0; m < methods.size(); ++m) CHECK(k.near[m] >= 200);
    }
  } catch (const std::exception& e) {
    FAIL((std::string("headless chromium: ") + e.what() + "\n--- chromium log (tail) ---\n" +
          tail_of_file(log, 3000)));
  }
}
