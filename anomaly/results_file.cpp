// results_file.cpp — results.csv and results.json (report.h): writing, reading back, and
// merging the results of several runs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "anomaly/report.h"
#include "anomaly/report_gan.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A JSON number, or null for NaN and infinities (JSON has neither).
nlohmann::ordered_json num_or_null(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

// ---- CSV --------------------------------------------------------------------------------

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string results_csv(const BenchmarkResults& results) {
  std::string out = "dataset,method,scorer,trial,seed,auc,train_seconds\n";
  for (const TrialResult& t : results.trials)
    out += fmt::format("{},{},{},{},{},{},{}\n", csv_field(t.dataset), csv_field(t.method),
                       csv_field(t.scorer), t.trial, t.seed, t.auc, t.train_seconds);
  return out;
}

void write_results_csv(const std::string& path, const BenchmarkResults& results) {
  write_file_atomic(path, results_csv(results));
}

// ---- JSON -------------------------------------------------------------------------------

nlohmann::ordered_json results_to_json(const BenchmarkResults& results) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["format"] = "kizuki-benchmark-results";
  j["version"] = 1;
  j["settings"] = results.settings.is_null() ? Json::object() : Json(results.settings);
  j["environment"] = results.environment.is_null() ? Json::object() : Json(results.environment);
  j["summary"] = Json::array();
  for (const SummaryRow& r : summarize(results))
    j["summary"].push_back({{"dataset", r.dataset},
                            {"method", r.method},
                            {"scorer", r.scorer},
                            {"n", r.n},
                            {"median", num_or_null(r.median)},
                            {"mean", num_or_null(r.mean)},
                            {"std", num_or_null(r.std)},
                            {"min", num_or_null(r.min)},
                            {"max", num_or_null(r.max)},
                            {"train_seconds_mean", num_or_null(r.train_seconds_mean)}});
  j["trials"] = Json::array();
  for (const TrialResult& t : results.trials) {
    Json thresholds = Json::array();
    for (double v : t.roc.thresholds) thresholds.push_back(num_or_null(v));
    Json row = {{"dataset", t.dataset},
                {"method", t.method},
                {"scorer", t.scorer},
                {"trial", t.trial},
                {"seed", t.seed},
                {"auc", num_or_null(t.auc)},
                {"train_seconds", num_or_null(t.train_seconds)},
                {"roc",
                 {{"fpr", t.roc.fpr}, {"tpr", t.roc.tpr}, {"thresholds", std::move(thresholds)}}}};
    if (!t.test_scores.empty()) {  // an ensemble's member (anomaly/ensemble.h)
      row["test_scores"] = t.test_scores;
      row["normal_train_mean"] = t.normal_train_mean;
      row["normal_train_std"] = t.normal_train_std;
    }
    if (!t.curve.empty()) {  // absent without --eval-every
      Json curve = Json::array();
      for (const CurvePoint& c : t.curve)
        curve.push_back({{"epoch", c.epoch},
                         {"auc", num_or_null(c.auc)},
                         {"mean_cosine", num_or_null(c.mean_cosine)},
                         {"effective_rank", num_or_null(c.effective_rank)},
                         {"weight_distance", num_or_null(c.weight_distance)},
                         {"proxy_auc", num_or_null(c.proxy_auc)}});
      row["curve"] = std::move(curve);
    }
    if (t.chosen_epoch >= 0) row["chosen_epoch"] = t.chosen_epoch;  // --early-stop proxy
    training_notes_to_json(t, row);
    j["trials"].push_back(std::move(row));
  }
  j["maps"] = Json::array();
  for (const MapFigure& m : results.map_figures)
    j["maps"].push_back({{"dataset", m.dataset},
                         {"method", m.method},
                         {"score", m.score},
                         {"trial", m.trial},
                         {"file", m.file},
                         {"low", num_or_null(m.low)},
                         {"high", num_or_null(m.high)},
                         {"kind", m.kind},
                         {"seconds_per_image", num_or_null(m.seconds_per_image)}});
  return j;
}

BenchmarkResults results_from_json(const nlohmann::json& j) {
  // A number, or `if_null` for null (what non-finite values were written as).
  auto number = [](const nlohmann::json& v, double if_null) {
    return v.is_null() ? if_null : v.get<double>();
  };
  auto numbers = [&](const nlohmann::json& a, double if_null) {
    std::vector<double> out;
    for (const nlohmann::json& v : a) out.push_back(number(v, if_null));
    return out;
  };
  BenchmarkResults r;
  size_t i = 0;
  try {
    KZ_CHECK(j.is_object() && j.value("format", "") == "kizuki-benchmark-results", "report",
             "not a kizuki results file (no \"format\": \"kizuki-benchmark-results\")");
    r.settings = j.value("settings", nlohmann::json::object());
    r.environment = j.value("environment", nlohmann::json::object());
    for (; i < j.at("trials").size(); ++i) {
      const nlohmann::json& t = j.at("trials").at(i);
      TrialResult tr;
      tr.dataset = t.at("dataset").get<std::string>();
      tr.method = t.at("method").get<std::string>();
      tr.scorer = t.at("scorer").get<std::string>();
      tr.trial = t.at("trial").get<int>();
      tr.seed = t.at("seed").get<uint64_t>();
      tr.auc = number(t.at("auc"), kNaN);
      tr.train_seconds = number(t.at("train_seconds"), kNaN);
      if (t.contains("test_scores")) {
        tr.test_scores = numbers(t.at("test_scores"), kNaN);
        tr.normal_train_mean = number(t.at("normal_train_mean"), kNaN);
        tr.normal_train_std = number(t.at("normal_train_std"), kNaN);
      }
      if (t.contains("roc")) {
        const nlohmann::json& roc = t.at("roc");
        tr.roc.fpr = numbers(roc.at("fpr"), kNaN);
        tr.roc.tpr = numbers(roc.at("tpr"), kNaN);
        tr.roc.thresholds = numbers(roc.at("thresholds"), std::numeric_limits<double>::infinity());
        KZ_CHECK(tr.roc.fpr.size() == tr.roc.tpr.size() &&
                     tr.roc.tpr.size() == tr.roc.thresholds.size(),
                 "report", "trials[{}].roc: fpr, tpr and thresholds differ in length", i);
      }
      for (const nlohmann::json& c : t.value("curve", nlohmann::json::array())) {
        CurvePoint p;
        p.epoch = c.at("epoch").get<int64_t>();
        p.auc = number(c.at("auc"), kNaN);
        p.mean_cosine = number(c.at("mean_cosine"), kNaN);
        p.effective_rank = number(c.at("effective_rank"), kNaN);
        p.weight_distance = number(c.at("weight_distance"), kNaN);
        p.proxy_auc = number(c.value("proxy_auc", nlohmann::json()), kNaN);  // absent in older files
        tr.curve.push_back(p);
      }
      tr.chosen_epoch = t.value("chosen_epoch", int64_t{-1});
      training_notes_from_json(t, tr);
      r.trials.push_back(std::move(tr));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("report", fmt::format("trials[{}]: {}", i, e.what()));
  }
  try {
    for (i = 0; i < j.value("maps", nlohmann::json::array()).size(); ++i) {
      const nlohmann::json& m = j.at("maps").at(i);
      MapFigure f;
      f.dataset = m.at("dataset").get<std::string>();
      f.method = m.at("method").get<std::string>();
      f.score = m.at("score").get<std::string>();
      f.trial = m.at("trial").get<int>();
      f.file = m.at("file").get<std::string>();
      f.low = number(m.at("low"), kNaN);
      f.high = number(m.at("high"), kNaN);
      f.kind = m.value("kind", std::string("own"));
      f.seconds_per_image = number(m.value("seconds_per_image", nlohmann::json(0.0)), kNaN);
      KZ_CHECK(f.file.find("..") == std::string::npos && !f.file.starts_with("/"), "report",
               "maps[{}]: the file '{}' is not inside the output folder", i, f.file);
      r.map_figures.push_back(std::move(f));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("report", fmt::format("maps[{}]: {}", i, e.what()));
  }
  return r;
}

std::string json_dump(const nlohmann::ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string results_json_text(const BenchmarkResults& results) {
  const nlohmann::ordered_json j = results_to_json(results);
  std::string out = "{";
  const char* keys[] = {"format", "version", "settings", "environment", "summary", "trials", "maps"};
  for (const char* key : keys) {
    out += std::string(out.size() > 1 ? "," : "") + "\n  \"" + key + "\": ";
    const nlohmann::ordered_json& v = j.at(key);
    if (v.is_array() && !v.empty()) {  // one element per line
      out += "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ",\n    " : "\n    ") + json_dump(v[i]);
      out += "\n  ]";
    } else {
      std::string text = json_dump(v, 2);
      for (size_t p = text.find('\n'); p != std::string::npos; p = text.find('\n', p + 1))
        text.insert(p + 1, "  ");
      out += text;
    }
  }
  return out + "\n}\n";
}

void write_results_json(const std::string& path, const BenchmarkResults& results) {
  write_file_atomic(path, results_json_text(results));
}

BenchmarkResults read_results_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return results_from_json(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    fail("report", fmt::format("{}: not valid JSON: {}", path, e.what()));
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("[report] ", 0) == 0) msg = msg.substr(9);
    fail("report", fmt::format("{}: {}", path, msg));
  }
}

namespace {

// The names of the methods in a run's settings.
std::set<std::string> method_names_of(const BenchmarkResults& run) {
  std::set<std::string> out;
  for (const nlohmann::json& m : run.settings.value("methods", nlohmann::json::array()))
    out.insert(m.value("name", ""));
  return out;
}

// Whether the runs are other methods on the same trials: settings equal but for their
// methods (same seeds and trial count), and no method in two runs.
bool other_methods_same_trials(const std::vector<BenchmarkResults>& runs) {
  if (runs.size() < 2) return false;
  const auto protocol = [](nlohmann::json settings) {
    settings.erase("methods");
    return settings;
  };
  std::set<std::string> seen;
  for (const BenchmarkResults& r : runs) {
    const std::set<std::string> names = method_names_of(r);
    if (names.empty() || protocol(r.settings) != protocol(runs[0].settings)) return false;
    for (const std::string& m : names)
      if (!seen.insert(m).second) return false;
  }
  return true;
}

}  // namespace

BenchmarkResults merge_results(const std::vector<BenchmarkResults>& runs,
                               const std::vector<std::string>& names) {
  KZ_CHECK(!runs.empty() && runs.size() == names.size(), "report",
           "merge_results needs one name per run and at least one run ({} runs, {} names)",
           runs.size(), names.size());
  if (other_methods_same_trials(runs)) {  // methods side by side, trials as they are
    BenchmarkResults merged{{}, runs[0].settings, runs[0].environment, {}};
    merged.settings["methods"] = nlohmann::json::array();
    for (const BenchmarkResults& r : runs) {
      for (const nlohmann::json& m : r.settings.at("methods")) merged.settings["methods"].push_back(m);
      merged.trials.insert(merged.trials.end(), r.trials.begin(), r.trials.end());
    }
    merged.environment["merged_from"] = names;
    return merged;
  }
  const auto comparable = [](nlohmann::json settings) {
    settings.erase("trials");
    settings.erase("seed");
    return settings;
  };
  const nlohmann::json first = comparable(runs[0].settings);
  BenchmarkResults merged{{}, runs[0].settings, runs[0].environment, {}};
  std::vector<uint64_t> seeds;
  int trials = 0;
  for (size_t r = 0; r < runs.size(); ++r) {
    const nlohmann::json these = comparable(runs[r].settings);
    if (these != first) {
      std::string key = "?";
      for (const auto& [k, v] : first.items())
        if (!these.contains(k) || these[k] != v) { key = k; break; }
      for (const auto& [k, v] : these.items())
        if (key == "?" && !first.contains(k)) key = k;
      fail("report", fmt::format("{} and {} are not runs of one benchmark: setting '{}' "
                                 "differs", names[0], names[r], key));
    }
    std::vector<uint64_t> run_seeds;
    int run_trials = 0;
    for (const TrialResult& t : runs[r].trials) {
      KZ_CHECK(std::find(seeds.begin(), seeds.end(), t.seed) == seeds.end() ||
                   std::find(run_seeds.begin(), run_seeds.end(), t.seed) != run_seeds.end(),
               "report", "{} repeats seed {} of an earlier run: the same trial twice", names[r],
               t.seed);
      if (std::find(run_seeds.begin(), run_seeds.end(), t.seed) == run_seeds.end())
        run_seeds.push_back(t.seed);
      TrialResult copy = t;
      copy.trial = trials + t.trial;
      run_trials = std::max(run_trials, t.trial + 1);
      merged.trials.push_back(std::move(copy));
    }
    seeds.insert(seeds.end(), run_seeds.begin(), run_seeds.end());
    trials += run_trials;
  }
  merged.settings["trials"] = trials;
  if (!seeds.empty()) merged.settings["seed"] = *std::min_element(seeds.begin(), seeds.end());
  merged.environment["merged_from"] = names;
  return merged;
}

}  // namespace kz
