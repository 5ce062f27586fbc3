// report.cpp — summary statistics (results.h), the terminal table, the box-plot and ROC
// figures and the HTML page (report.h); results.csv and results.json are results_file.cpp's.
#include "anomaly/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "anomaly/map_figure.h"
#include "anomaly/report_curves.h"
#include "anomaly/report_gan.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

// "doc · lof" style label of a group.
std::string pair_label(const std::string& method, const std::string& scorer) {
  return method + " \u00b7 " + scorer;
}

// Distinct values in order of first appearance.
template <class F>
std::vector<std::string> first_seen(const std::vector<TrialResult>& trials, F key) {
  std::vector<std::string> out;
  for (const TrialResult& t : trials)
    if (std::find(out.begin(), out.end(), key(t)) == out.end()) out.push_back(key(t));
  return out;
}

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

// The trials of one (dataset, method, scorer) group, in results order.
std::vector<const TrialResult*> group_trials(const BenchmarkResults& r, const SummaryRow& row) {
  std::vector<const TrialResult*> out;
  for (const TrialResult& t : r.trials)
    if (t.dataset == row.dataset && t.method == row.method && t.scorer == row.scorer)
      out.push_back(&t);
  return out;
}

// A 4-decimal AUC, or "-" when undefined.
std::string fmt_auc(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }

// The same with 3 decimals, for figures.
std::string fmt_auc3(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "-"; }

}  // namespace

// ---- statistics -----------------------------------------------------------------------

double quantile(std::vector<double> values, double q) {
  KZ_CHECK(!values.empty(), "report", "quantile of no values");
  KZ_CHECK(q >= 0 && q <= 1, "report", "quantile fraction {} is outside [0, 1]", q);
  KZ_CHECK(all_finite(values), "report", "quantile of non-finite values");
  std::sort(values.begin(), values.end());
  const double h = (values.size() - 1) * q;
  const size_t i = static_cast<size_t>(std::floor(h));
  if (i + 1 >= values.size()) return values.back();
  return values[i] + (h - i) * (values[i + 1] - values[i]);
}

BoxStats box_stats(const std::vector<double>& values) {
  BoxStats b;
  b.q1 = quantile(values, 0.25);
  b.median = quantile(values, 0.5);
  b.q3 = quantile(values, 0.75);
  const double iqr = b.q3 - b.q1, lo_fence = b.q1 - 1.5 * iqr, hi_fence = b.q3 + 1.5 * iqr;
  b.whisker_low = b.q1;
  b.whisker_high = b.q3;
  double lowest_inside = std::numeric_limits<double>::infinity();
  double highest_inside = -lowest_inside;
  for (double v : values) {
    if (v >= lo_fence) lowest_inside = std::min(lowest_inside, v);
    if (v <= hi_fence) highest_inside = std::max(highest_inside, v);
  }
  if (lowest_inside <= b.q1) b.whisker_low = lowest_inside;
  if (highest_inside >= b.q3) b.whisker_high = highest_inside;
  for (double v : values)
    if (v < b.whisker_low || v > b.whisker_high) b.outliers.push_back(v);
  std::sort(b.outliers.begin(), b.outliers.end());
  return b;
}

std::vector<SummaryRow> summarize(const BenchmarkResults& results) {
  std::vector<SummaryRow> rows;
  for (const TrialResult& t : results.trials) {
    const bool seen = std::any_of(rows.begin(), rows.end(), [&](const SummaryRow& r) {
      return r.dataset == t.dataset && r.method == t.method && r.scorer == t.scorer;
    });
    if (!seen) rows.push_back({t.dataset, t.method, t.scorer});
  }
  for (SummaryRow& row : rows) {
    std::vector<double> auc;
    double train = 0;
    for (const TrialResult* t : group_trials(results, row)) {
      auc.push_back(t->auc);
      train += t->train_seconds;
    }
    row.n = static_cast<int>(auc.size());
    row.train_seconds_mean = train / row.n;
    if (!all_finite(auc)) {  // a diverged trial: no statistic is meaningful
      row.median = row.mean = row.std = row.min = row.max = kNaN;
      continue;
    }
    double sum = 0;
    for (double a : auc) sum += a;
    row.mean = sum / row.n;
    double ss = 0;
    for (double a : auc) ss += (a - row.mean) * (a - row.mean);
    row.std = row.n > 1 ? std::sqrt(ss / (row.n - 1)) : kNaN;
    row.median = quantile(auc, 0.5);
    row.min = *std::min_element(auc.begin(), auc.end());
    row.max = *std::max_element(auc.begin(), auc.end());
  }
  return rows;
}

// ---- terminal table ---------------------------------------------------------------------

std::string format_summary_table(const std::vector<SummaryRow>& rows) {
  const std::vector<std::string> header = {"dataset", "method", "scorer", "n",   "median",
                                           "mean",    "std",    "min",    "max", "train s"};
  std::vector<std::vector<std::string>> cells = {header};
  for (const SummaryRow& r : rows)
    cells.push_back({r.dataset, r.method, r.scorer, std::to_string(r.n), fmt_auc(r.median),
                     fmt_auc(r.mean), fmt_auc(r.std), fmt_auc(r.min), fmt_auc(r.max),
                     fmt::format("{:.1f}", r.train_seconds_mean)});
  std::vector<size_t> width(header.size(), 0);
  for (const auto& line : cells)
    for (size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], line[c].size());
  std::string out;
  for (size_t l = 0; l < cells.size(); ++l) {
    std::string line;
    for (size_t c = 0; c < header.size(); ++c) {
      if (c) line += "  ";
      line += c < 3 ? fmt::format("{:<{}}", cells[l][c], width[c])    // names left
                    : fmt::format("{:>{}}", cells[l][c], width[c]);  // numbers right
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (l == 0) {
      size_t total = 2 * (header.size() - 1);
      for (size_t w : width) total += w;
      out += std::string(total, '-') + "\n";
    }
  }
  return out;
}

// ---- figures ----------------------------------------------------------------------------

namespace {

// Colours by method and dash patterns by scorer, the same in both figures.
struct Styles {
  std::vector<std::string> methods, scorers;
  explicit Styles(const BenchmarkResults& r)
      : methods(first_seen(r.trials, [](const TrialResult& t) { return t.method; })),
        scorers(first_seen(r.trials, [](const TrialResult& t) { return t.scorer; })) {}
  std::string colour(const std::string& method) const {
    return palette_colour(index_of(methods, method));
  }
  std::string dash(const std::string& scorer) const {
    static constexpr const char* kDash[] = {"", "7 3", "2 2.5", "9 3 2 3", "4 4"};
    const std::string d = kDash[index_of(scorers, scorer) % 5];
    return d.empty() ? "" : R"(stroke-dasharray=")" + d + R"(")";
  }
};

std::vector<std::string> datasets_of(const BenchmarkResults& r) {
  return first_seen(r.trials, [](const TrialResult& t) { return t.dataset; });
}

// "10 trials" or "8–10 trials" over the groups.
std::string trials_phrase(const std::vector<SummaryRow>& rows) {
  int lo = std::numeric_limits<int>::max(), hi = 0;
  for (const SummaryRow& r : rows) lo = std::min(lo, r.n), hi = std::max(hi, r.n);
  if (rows.empty()) return "no trials";
  const std::string n = lo == hi ? std::to_string(lo) : fmt::format("{}\u2013{}", lo, hi);
  return n + (hi == 1 ? " trial" : " trials");
}

Svg empty_figure(const std::string& title) {
  Svg svg(560, 120);
  svg.text(280, 30, title, R"(text-anchor="middle" font-size="16" font-weight="bold")");
  svg.text(280, 70, "no trials to show", R"(text-anchor="middle" font-size="12" fill="#666")");
  return svg;
}

// The golden-ratio sequence: k-th jitter offset in [-0.5, 0.5), evenly spread, fixed.
double jitter(size_t k) {
  const double v = (k + 1) * 0.6180339887498949;
  return v - std::floor(v) - 0.5;
}

}  // namespace

Svg boxplot_figure(const BenchmarkResults& results) {
  const std::string title = "Anomaly-detection ROC-AUC by method and scorer";
  const std::vector<SummaryRow> rows = summarize(results);
  if (rows.empty()) return empty_figure(title);
  const Styles styles(results);
  const std::vector<std::string> datasets = datasets_of(results);

  // Layout (pixels): every panel has its own y axis, slots of equal width for the boxes.
  const double slot = 74, box_w = 36, plot_h = 300, left = 70, gap = 78, right = 20;
  const double top = 74, bottom = 52;
  std::vector<size_t> boxes(datasets.size(), 0);
  for (const SummaryRow& r : rows) ++boxes[index_of(datasets, r.dataset)];
  // A panel is wide enough for its boxes and its title (about 8.5 px per character). Panels
  // flow left to right into rows no wider than max_w, the report page's column, so that the
  // page shows the figure at full size (a wider one would be scaled down, its text with it).
  const double max_w = 1200, row_gap = bottom + 34;
  std::vector<double> panel_w(datasets.size());
  std::vector<size_t> row_of(datasets.size(), 0);
  std::vector<bool> starts_row(datasets.size(), false);
  double width = 0, row_width = 0;
  for (size_t d = 0; d < datasets.size(); ++d) {
    panel_w[d] = std::max({boxes[d] * slot, 8.5 * datasets[d].size() + 20, 150.0});
    starts_row[d] = d == 0 || row_width + gap + panel_w[d] > max_w;
    row_of[d] = d == 0 ? 0 : row_of[d - 1] + starts_row[d];
    row_width = starts_row[d] ? left + right + panel_w[d] : row_width + gap + panel_w[d];
    width = std::max(width, row_width);
  }
  const size_t n_rows = datasets.empty() ? 1 : row_of.back() + 1;
  const double shift = std::max(0.0, 600 - width) / 2;  // a narrow figure: centre the panels
  width += 2 * shift;
  Svg svg(width, top + n_rows * plot_h + (n_rows - 1) * row_gap + bottom);
  svg.text(width / 2, 24, title, R"(text-anchor="middle" font-size="16" font-weight="bold")");
  svg.text(width / 2, 43,
           trials_phrase(rows) + " per box \u00b7 box: quartiles, line: median, whiskers: "
                                 "1.5 IQR, dots: trials",
           R"(text-anchor="middle" font-size="11.5" fill="#555")");

  double x0 = left + shift;
  for (size_t d = 0; d < datasets.size(); ++d) {
    if (starts_row[d]) x0 = left + shift;
    const double plot_w = panel_w[d], y_top = top + row_of[d] * (plot_h + row_gap);
    const double y_bottom = y_top + plot_h;
    // The y range: the dataset's AUCs with a margin, widened to nice ticks.
    std::vector<double> all;
    for (const TrialResult& t : results.trials)
      if (t.dataset == datasets[d] && std::isfinite(t.auc)) all.push_back(t.auc);
    double lo = all.empty() ? 0 : *std::min_element(all.begin(), all.end());
    double hi = all.empty() ? 1 : *std::max_element(all.begin(), all.end());
    const double pad = std::max(0.08 * (hi - lo), 0.01);
    NiceAxis axis = nice_axis(lo - pad, hi + 1.6 * pad, 7);  // headroom for median labels
    std::erase_if(axis.ticks, [&](double t) {
      return (hi <= 1 && t > 1 + 1e-9) || (lo >= 0 && t < -1e-9);  // AUC lives in [0, 1]
    });
    const LinearScale y{axis.lo, axis.hi, y_bottom, y_top};

    svg.open_group(fmt::format(R"(class="panel" data-dataset="{}")", xml_escape(datasets[d])));
    svg.text(x0 + plot_w / 2, y_top - 10, datasets[d],
             R"(text-anchor="middle" font-size="13.5" font-weight="bold")");
    svg.axis_left(y, axis, x0, x0, x0 + plot_w);
    if (axis.lo < 0.5 && 0.5 < axis.hi) {
      svg.line(x0, y(0.5), x0 + plot_w, y(0.5),
               R"(stroke="#999" stroke-width="1" stroke-dasharray="5 4")");
      svg.text(x0 + plot_w - 4, y(0.5) - 4, "chance",
               R"(text-anchor="end" font-size="10" fill="#888")");
    }
    if (starts_row[d])
      svg.text_vertical(x0 - 50, y_top + plot_h / 2, "ROC-AUC",
                        R"(text-anchor="middle" font-size="12.5")");

    size_t b = 0;
    for (const SummaryRow& row : rows) {
      if (row.dataset != datasets[d]) continue;
      const double cx = x0 + (b++ + 0.5) * plot_w / boxes[d];
      const std::string colour = styles.colour(row.method);
      std::vector<const TrialResult*> trials = group_trials(results, row);
      std::vector<double> auc;
      for (const TrialResult* t : trials)
        if (std::isfinite(t->auc)) auc.push_back(t->auc);

      svg.open_group(fmt::format(R"(class="box" data-method="{}" data-scorer="{}")",
                                 xml_escape(row.method), xml_escape(row.scorer)));
      svg.tooltip(fmt::format("{} on {}: median {}, mean {} \u00b1 {}, min {}, max {}, n = {}",
                              pair_label(row.method, row.scorer), row.dataset,
                              fmt_auc(row.median), fmt_auc(row.mean), fmt_auc(row.std),
                              fmt_auc(row.min), fmt_auc(row.max), row.n));
      if (!auc.empty()) {
        const BoxStats s = box_stats(auc);
        const std::string stroke = fmt::format(R"(stroke="{}" stroke-width="1.4")", colour);
        svg.line(cx, y(s.whisker_low), cx, y(s.q1), stroke);
        svg.line(cx, y(s.q3), cx, y(s.whisker_high), stroke);
        svg.line(cx - box_w / 4, y(s.whisker_low), cx + box_w / 4, y(s.whisker_low), stroke);
        svg.line(cx - box_w / 4, y(s.whisker_high), cx + box_w / 4, y(s.whisker_high), stroke);
        svg.rect(cx - box_w / 2, y(s.q3), box_w, y(s.q1) - y(s.q3),
                 fmt::format(R"(fill="{}" fill-opacity="0.22" {})", colour, stroke));
        svg.line(cx - box_w / 2, y(s.median), cx + box_w / 2, y(s.median),
                 fmt::format(R"(stroke="{}" stroke-width="2.4")", colour));
        for (double v : s.outliers)
          svg.circle(cx, y(v), 4, R"(fill="none" stroke="#333" stroke-width="1")");
        size_t k = 0;
        for (const TrialResult* t : trials)
          if (std::isfinite(t->auc))
            svg.circle(cx + jitter(k++) * box_w * 0.8, y(t->auc), 2.3,
                       fmt::format(R"(fill="{}" fill-opacity="0.75")", colour));
        const double top_point = s.outliers.empty() ? s.whisker_high
                                                    : std::max(s.whisker_high, s.outliers.back());
        svg.text(cx, y(top_point) - 7, fmt_auc3(s.median),
                 R"(text-anchor="middle" font-size="10" fill="#444")");
      }
      svg.text(cx, y_bottom + 17, row.method,
               R"(text-anchor="middle" font-size="11.5" fill="#222")");
      svg.text(cx, y_bottom + 31, row.scorer,
               R"(text-anchor="middle" font-size="10.5" fill="#666")");
      svg.close_group();
    }
    svg.rect(x0, y_top, plot_w, plot_h, R"(fill="none" stroke="#333" stroke-width="1")");
    svg.close_group();
    x0 += plot_w + gap;
  }
  return svg;
}

void write_boxplot_svg(const std::string& path, const BenchmarkResults& results) {
  write_file_atomic(path, boxplot_figure(results).document());
}

Svg roc_figure(const BenchmarkResults& results) {
  const std::string title = "ROC curves of anomaly detection";
  const std::vector<SummaryRow> rows = summarize(results);
  if (rows.empty()) return empty_figure(title);
  const Styles styles(results);
  const std::vector<std::string> datasets = datasets_of(results);

  // Legend width from the longest label (about 6.3 px per character at 11 px).
  size_t longest = 10;
  for (const SummaryRow& r : rows)
    longest = std::max(longest, pair_label(r.method, r.scorer).size());
  const double legend_w = 38 + 6.5 * longest + 60;
  const double plot = 280, left = 64, top = 76, bottom = 52, gap = 76;
  const double panel_w = plot + 18 + legend_w;
  double width = left + datasets.size() * panel_w + (datasets.size() - 1) * gap + 16;
  const double shift = std::max(0.0, 640 - width) / 2;  // a narrow figure: centre the panels
  width += 2 * shift;
  Svg svg(width, top + plot + bottom);
  svg.text(width / 2, 24, title, R"(text-anchor="middle" font-size="16" font-weight="bold")");
  svg.text(width / 2, 43,
           trials_phrase(rows) + " per method \u00b7 scorer; bold: the median-AUC trial, "
                                 "faint: every trial",
           R"(text-anchor="middle" font-size="11.5" fill="#555")");

  NiceAxis axis = nice_axis(0, 1, 6);
  double x0 = left + shift;
  for (const std::string& dataset : datasets) {
    const LinearScale x{0, 1, x0, x0 + plot}, y{0, 1, top + plot, top};
    svg.open_group(fmt::format(R"(class="panel" data-dataset="{}")", xml_escape(dataset)));
    svg.text(x0 + plot / 2, top - 10, dataset,
             R"(text-anchor="middle" font-size="13.5" font-weight="bold")");
    svg.axis_left(y, axis, x0, x0, x0 + plot);
    svg.axis_bottom(x, axis, top + plot, top, top + plot);
    svg.text(x0 + plot / 2, top + plot + 38, "false positive rate",
             R"(text-anchor="middle" font-size="12.5")");
    svg.text_vertical(x0 - 44, top + plot / 2, "true positive rate",
                      R"(text-anchor="middle" font-size="12.5")");
    svg.line(x(0), y(0), x(1), y(1), R"(stroke="#999" stroke-width="1" stroke-dasharray="5 4")");

    // The curve in pixels, simplified to within `tolerance` pixels.
    auto points = [&](const RocCurve& c, double tolerance) {
      std::vector<std::pair<double, double>> p;
      for (size_t i = 0; i < c.fpr.size() && i < c.tpr.size(); ++i)
        if (std::isfinite(c.fpr[i]) && std::isfinite(c.tpr[i]))
          p.emplace_back(x(c.fpr[i]), y(c.tpr[i]));
      return simplify_polyline(p, tolerance);
    };
    // Faint curves of every trial first, then the median trials on top.
    std::vector<std::pair<const SummaryRow*, const TrialResult*>> medians;
    for (const SummaryRow& row : rows) {
      if (row.dataset != dataset) continue;
      std::vector<const TrialResult*> trials = group_trials(results, row);
      std::erase_if(trials, [](const TrialResult* t) { return !std::isfinite(t->auc); });
      svg.open_group(fmt::format(R"(class="trials" data-method="{}" data-scorer="{}")",
                                 xml_escape(row.method), xml_escape(row.scorer)));
      for (const TrialResult* t : trials)
        if (!t->roc.fpr.empty())
          svg.polyline(points(t->roc, 0.8),
                       fmt::format(R"(stroke="{}" stroke-width="1" stroke-opacity="0.18")",
                                   styles.colour(row.method)));
      svg.close_group();
      std::stable_sort(trials.begin(), trials.end(),
                       [](const TrialResult* a, const TrialResult* b) { return a->auc < b->auc; });
      medians.emplace_back(&row, trials.empty() ? nullptr : trials[(trials.size() - 1) / 2]);
    }
    for (const auto& [row, t] : medians) {
      if (t == nullptr || t->roc.fpr.empty()) continue;
      svg.open_group(fmt::format(R"(class="curve" data-method="{}" data-scorer="{}")",
                                 xml_escape(row->method), xml_escape(row->scorer)));
      svg.tooltip(fmt::format("{} on {}: trial {} (seed {}), AUC {}",
                              pair_label(row->method, row->scorer), dataset, t->trial, t->seed,
                              fmt_auc(t->auc)));
      svg.polyline(points(t->roc, 0.3), fmt::format(R"(stroke="{}" stroke-width="2.2" {})",
                                               styles.colour(row->method),
                                               styles.dash(row->scorer)));
      svg.close_group();
    }
    svg.rect(x0, top, plot, plot, R"(fill="none" stroke="#333" stroke-width="1")");

    // Legend to the right of the plot: line sample, "method · scorer", median AUC.
    const double lx = x0 + plot + 18, ly = top + 4;
    svg.text(lx, ly + 8, "method \u00b7 scorer", R"(font-size="11" fill="#555")");
    svg.text(lx + legend_w, ly + 8, "median AUC",
             R"(text-anchor="end" font-size="11" fill="#555")");
    double ey = ly + 28;
    for (const auto& [row, t] : medians) {
      svg.line(lx, ey - 4, lx + 30, ey - 4,
               fmt::format(R"(stroke="{}" stroke-width="2.2" {})", styles.colour(row->method),
                           styles.dash(row->scorer)));
      svg.text(lx + 38, ey, pair_label(row->method, row->scorer), R"(font-size="11")");
      svg.text(lx + legend_w, ey, fmt_auc3(row->median),
               R"(text-anchor="end" font-size="11" font-variant-numeric="tabular-nums")");
      ey += 17;
    }
    svg.close_group();
    x0 += panel_w + gap;
  }
  return svg;
}

void write_roc_svg(const std::string& path, const BenchmarkResults& results) {
  write_file_atomic(path, roc_figure(results).document());
}

// ---- HTML -------------------------------------------------------------------------------

namespace {

constexpr const char* kCss = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: #222; max-width: 1200px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.92em; margin: 0.6em 0; }
th, td { padding: 0.25em 0.75em; border-bottom: 1px solid #e4e4e4; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: bold; }
figure { margin: 1em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.25em; }
.note { background: #f8f8f2; border-left: 4px solid #bbb; padding: 0.6em 1em; }
)";

// A JSON object's leaves as ("a.b.c", "value") rows; strings without quotes.
// A setting as a person reads it: strings bare, numbers as the user gave them (a number
// that came from a float prints as that float: 0.05, not 0.0500000007450581), the rest as
// JSON.
std::string setting_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    const auto f = static_cast<float>(d);
    return static_cast<double>(f) == d ? fmt::format("{}", f) : fmt::format("{}", d);
  }
  return json_dump(nlohmann::ordered_json(v));
}

// The settings of each method side by side: one row per setting, one column per method.
std::string method_settings_table(const nlohmann::json& methods) {
  std::vector<std::string> keys;
  for (const auto& m : methods)
    for (auto it = m.begin(); it != m.end(); ++it)
      if (it.key() != "name" && std::find(keys.begin(), keys.end(), it.key()) == keys.end())
        keys.push_back(it.key());
  std::string out = "<table>\n<tr><th>setting</th>";
  for (const auto& m : methods) out += "<th>" + xml_escape(m.value("name", "?")) + "</th>";
  out += "</tr>\n";
  for (const std::string& k : keys) {
    out += "<tr><th>" + xml_escape(k) + "</th>";
    for (const auto& m : methods)
      out += "<td><code>" + xml_escape(m.contains(k) ? setting_text(m[k]) : "\u2014") + "</code></td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out.emplace_back(prefix, setting_text(j));
  }
}

std::string key_value_table(const nlohmann::json& j) {
  std::vector<std::pair<std::string, std::string>> kv;
  if (!j.is_null()) flatten(j, "", kv);
  if (kv.empty()) return "<p class=\"meta\">(none recorded)</p>\n";
  std::string out = "<table>\n";
  for (const auto& [k, v] : kv)
    out += "<tr><th>" + xml_escape(k) + "</th><td><code>" + xml_escape(v) + "</code></td></tr>\n";
  return out + "</table>\n";
}

std::string td(const std::string& s, bool num = false) {
  return (num ? "<td class=\"num\">" : "<td>") + xml_escape(s) + "</td>";
}

}  // namespace

std::string report_html(const BenchmarkResults& results) {
  const std::vector<SummaryRow> rows = summarize(results);
  const std::vector<std::string> datasets = datasets_of(results);
  std::string datasets_list;
  for (const std::string& d : datasets) datasets_list += (datasets_list.empty() ? "" : ", ") + d;

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>kizuki benchmark: " + xml_escape(datasets_list) + "</title>\n<style>" +
                  kCss + "</style>\n</head>\n<body>\n";
  h += "<h1>kizuki anomaly-detection benchmark</h1>\n";
  h += "<p class=\"meta\">" + xml_escape(fmt::format(
           "{} \u00b7 {} result rows \u00b7 {} method \u00d7 scorer groups",
           datasets_list.empty() ? "no datasets" : datasets_list, results.trials.size(),
           rows.size()));
  if (results.environment.is_object() && results.environment.contains("date") &&
      results.environment["date"].is_string())
    h += " \u00b7 " + xml_escape(results.environment["date"].get<std::string>());
  h += "</p>\n";

  // Summary: the best median per dataset in bold.
  std::map<std::string, double> best;
  for (const SummaryRow& r : rows)
    if (std::isfinite(r.median) && (!best.count(r.dataset) || r.median > best[r.dataset]))
      best[r.dataset] = r.median;
  h += "<h2>Summary (ROC-AUC over trials)</h2>\n<table>\n<tr><th>dataset</th><th>method</th>"
       "<th>scorer</th><th>n</th><th>median</th><th>mean</th><th>std</th><th>min</th>"
       "<th>max</th><th>train s (mean)</th></tr>\n";
  for (const SummaryRow& r : rows) {
    const bool is_best = best.count(r.dataset) && r.median == best[r.dataset];
    h += std::string(is_best ? "<tr class=\"best\">" : "<tr>") + td(r.dataset) + td(r.method) +
         td(r.scorer) + td(std::to_string(r.n), true) + td(fmt_auc(r.median), true) +
         td(fmt_auc(r.mean), true) + td(fmt_auc(r.std), true) + td(fmt_auc(r.min), true) +
         td(fmt_auc(r.max), true) + td(fmt::format("{:.1f}", r.train_seconds_mean), true) +
         "</tr>\n";
  }
  h += "</table>\n";

  h += R"(<h2>How to read this</h2>
<div class="note"><p>Each trial trains a network on the normal class (and, for the methods
that use it, the reference set), scores the test images (higher score = more anomalous) and
measures the
<b>ROC-AUC</b>: the probability that a random anomalous test image scores higher than a random
normal one (ties count half). <b>0.5 is chance</b>, 1.0 is a perfect separation, and higher
is better; below 0.5 the scores are inverted. A row of the table is either an
<i>embedding</i> method (<code>doc</code>, <code>l2softmax</code>, <code>arcface</code>, or
the untrained <code>frozen</code> baseline) paired with one scorer of its features
(<code>lof</code>, <code>cosine</code>, <code>knn</code>), or a <i>scoring</i> method with
one of its own scores (<code>ae</code>: <code>mse</code>; <code>vae</code>:
<code>elbo</code>, <code>recon-prob</code>, <code>unregularized</code>;
<code>ssim-ae</code>: <code>ssim</code>, <code>ssim-max</code>); std is the sample standard
deviation (divisor n&#8722;1).</p>
<p>In the box plot each box spans the middle half of the trials (first to third quartile),
the thick line is the median, the whiskers reach the furthest trials within 1.5 times the box
height, open circles are trials beyond them, and every trial is a dot (spread sideways only
to keep dots apart). The ROC figure draws, for each method and scorer, the curve of its
median trial in bold and every trial faintly: the closer a curve hugs the top-left corner,
the better; the dashed diagonal is chance.</p></div>
)";

  h += "<h2>AUC per method and scorer</h2>\n<figure>\n" + boxplot_figure(results).element(false) +
       "<figcaption>One box per method \u00d7 scorer and dataset (also saved as "
       "<code>boxplot.svg</code>).</figcaption>\n</figure>\n";
  h += "<h2>ROC curves</h2>\n<figure>\n" + roc_figure(results).element(false) +
       "<figcaption>Bold: the trial with the median AUC; faint: every trial (also saved as "
       "<code>roc.svg</code>).</figcaption>\n</figure>\n";

  if (has_curves(results))
    h += "<h2>Training curves</h2>\n<figure>\n" + curves_figure(results).element(false) +
         "<figcaption>After every <code>--eval-every</code> epochs: the test AUC (watched, "
         "never used to choose), the proxy AUC on held-out training images, and whether the "
         "normal features collapse (also saved as <code>training_curves.svg</code>)."
         "</figcaption>\n</figure>\n";

  if (!results.map_figures.empty()) {
    h += "<h2>Where the images are anomalous</h2>\n<p>For each method that gives anomaly maps, "
         "one trial's test images in four groups of up to eight: the most and the least "
         "anomalous anomalies, then the most and the least anomalous normal images, by the "
         "score named. Each column is one image: the input on top, the method's "
         "reconstruction below it (grey where it has none), and the map at the bottom, "
         "coloured on one scale per method (its legend beside it: 1st to 99th percentile "
         "of the shown maps). The caption names the kind of map: the method's own, Grad-CAM "
         "of its score over the backbone, or occlusion (the score drop when a square is "
         "filled with the mean normal image, or by the partial-convolution U-Net with "
         "<code>--inpaint unet</code>; <code>--maps gradcam,occlusion</code>), and its "
         "cost. The PNG files lie beside this page.</p>\n";
    for (const MapFigure& m : results.map_figures)
      h += "<figure>\n<img src=\"" + xml_escape(m.file) + "\" alt=\"anomaly maps of " +
           xml_escape(m.method) + "\">\n" + colorbar_html({m.low, m.high}, "map value") +
           "<figcaption>" + xml_escape(m.dataset) + ", <code>" + xml_escape(m.method) +
           "</code>, ordered by <code>" + xml_escape(m.score) + "</code>, trial " +
           std::to_string(m.trial) + ", " + xml_escape(m.kind) + " maps (" +
           fmt::format("{:.3g}", m.seconds_per_image) + " s per image; <code>" + xml_escape(m.file) +
           "</code>).</figcaption>\n"
           "</figure>\n";
  }

  h += training_samples_html(results);
  h += "<h2>Trials</h2>\n<details><summary>" + std::to_string(results.trials.size()) +
       " rows (also in <code>results.csv</code> and <code>results.json</code>)</summary>\n"
       "<table>\n<tr><th>dataset</th><th>method</th><th>scorer</th><th>trial</th><th>seed</th>"
       "<th>AUC</th><th>train s</th></tr>\n";
  for (const TrialResult& t : results.trials)
    h += "<tr>" + td(t.dataset) + td(t.method) + td(t.scorer) + td(std::to_string(t.trial), true) +
         td(std::to_string(t.seed), true) + td(fmt_auc(t.auc), true) +
         td(fmt::format("{:.1f}", t.train_seconds), true) + "</tr>\n";
  h += "</table>\n</details>\n";

  nlohmann::json run = results.settings.is_object() ? results.settings : nlohmann::json::object();
  const nlohmann::json methods = run.value("methods", nlohmann::json::array());
  run.erase("methods");
  h += "<h2>Settings</h2>\n" + key_value_table(run);
  if (methods.is_array() && !methods.empty())
    h += "<h3>Settings of each method</h3>\n" + method_settings_table(methods);
  h += "<h2>Environment</h2>\n" + key_value_table(results.environment);
  h += "</body>\n</html>\n";
  return h;
}

void write_report_html(const std::string& path, const BenchmarkResults& results) {
  write_file_atomic(path, report_html(results));
}

void write_report(const std::string& out_dir, const BenchmarkResults& results) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  KZ_CHECK(!ec && fs::is_directory(out_dir), "report", "cannot create the output directory {}: {}",
           out_dir, ec ? ec.message() : "a file of that name exists");
  const fs::path dir(out_dir);
  write_results_csv((dir / "results.csv").string(), results);
  write_results_json((dir / "results.json").string(), results);
  write_boxplot_svg((dir / "boxplot.svg").string(), results);
  write_roc_svg((dir / "roc.svg").string(), results);
  if (has_curves(results)) write_curves_svg((dir / "training_curves.svg").string(), results);
  write_report_html((dir / "report.html").string(), results);
}

}  // namespace kz
