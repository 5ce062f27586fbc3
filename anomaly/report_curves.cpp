// report_curves.cpp — training_curves.svg (see report_curves.h).
#include "anomaly/report_curves.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tensor/file_io.h"

namespace kz {
namespace {

// One panel: what it plots and whether its lines are per scorer.
struct Panel {
  const char* title;
  std::function<double(const CurvePoint&)> value;
  bool per_scorer;
};

const std::vector<Panel>& panels() {
  static const std::vector<Panel> p{
      {"test AUC", [](const CurvePoint& c) { return c.auc; }, true},
      {"proxy AUC (held-out)", [](const CurvePoint& c) { return c.proxy_auc; }, true},
      {"mean cosine, centred normals", [](const CurvePoint& c) { return c.mean_cosine; }, false},
      {"effective rank", [](const CurvePoint& c) { return c.effective_rank; }, false},
      {"\u2016\u03b8 \u2212 \u03b8\u2080\u2016", [](const CurvePoint& c) { return c.weight_distance; },
       false},
  };
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Where `name` first appears in `names` (added at the end if absent).
size_t place_of(std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return static_cast<size_t>(it - names.begin());
  names.push_back(name);
  return names.size() - 1;
}

// The trials with curves of one dataset, grouped by "method · scorer" (or by method alone),
// in the order the results list them.
std::vector<std::pair<std::string, std::vector<const TrialResult*>>> lines_of(
    const BenchmarkResults& results, const std::string& dataset, bool per_scorer) {
  std::vector<std::pair<std::string, std::vector<const TrialResult*>>> lines;
  std::map<std::pair<std::string, int>, bool> seen;  // (method, trial) for per-method lines
  for (const TrialResult& t : results.trials) {
    if (t.dataset != dataset || t.curve.empty()) continue;
    if (!per_scorer && seen[{t.method, t.trial}]) continue;  // one scorer's row stands for all
    seen[{t.method, t.trial}] = true;
    const std::string label = per_scorer ? t.method + " \u00b7 " + t.scorer : t.method;
    auto it = std::find_if(lines.begin(), lines.end(), [&](const auto& l) { return l.first == label; });
    if (it == lines.end()) {
      lines.emplace_back(label, std::vector<const TrialResult*>{});
      it = std::prev(lines.end());
    }
    it->second.push_back(&t);
  }
  return lines;
}

}  // namespace

bool has_curves(const BenchmarkResults& results) {
  return std::any_of(results.trials.begin(), results.trials.end(),
                     [](const TrialResult& t) { return !t.curve.empty(); });
}

Svg curves_figure(const BenchmarkResults& results) {
  std::vector<std::string> datasets;
  for (const TrialResult& t : results.trials)
    if (!t.curve.empty() && std::find(datasets.begin(), datasets.end(), t.dataset) == datasets.end())
      datasets.push_back(t.dataset);
  // Colour by method, dash pattern by scorer, the same in every panel.
  std::vector<std::string> methods, scorers;
  size_t most_lines = 1;
  for (const std::string& d : datasets)
    most_lines = std::max(most_lines, lines_of(results, d, true).size());
  auto style = [&](const TrialResult& t, bool per_scorer) {
    static const char* dashes[] = {"", R"(stroke-dasharray="6 3")", R"(stroke-dasharray="2 2")",
                                   R"(stroke-dasharray="8 3 2 3")"};
    const std::string colour = palette_colour(place_of(methods, t.method));
    const size_t dash = per_scorer ? place_of(scorers, t.scorer) % 4 : 0;
    return std::pair{colour, std::string(dashes[dash])};
  };
  const double pw = 190, ph = 150, left = 58, gap = 48, top = 60;
  const double row_h = ph + 84 + 14 * static_cast<double>(most_lines);
  const double width = left + panels().size() * (pw + gap);
  Svg svg(width, top + std::max<size_t>(datasets.size(), 1) * row_h);
  svg.text(width / 2, 24, "Training curves (--eval-every)",
           R"(text-anchor="middle" font-size="16" font-weight="bold")");
  if (datasets.empty()) {
    svg.text(width / 2, 90, "no curves: run with --eval-every N", R"(text-anchor="middle")");
    return svg;
  }
  svg.text(width / 2, 43,
           "bold: the median over trials at each evaluated epoch; faint: each trial; "
           "ring: the epoch --early-stop proxy kept",
           R"(text-anchor="middle" font-size="11.5" fill="#555")");
  for (size_t d = 0; d < datasets.size(); ++d) {
    const double y0 = top + d * row_h + 22;
    svg.text(left, y0 - 8, datasets[d], R"(font-size="13.5" font-weight="bold")");
    int64_t last_epoch = 1;
    for (const TrialResult& t : results.trials)
      if (t.dataset == datasets[d])
        for (const CurvePoint& c : t.curve) last_epoch = std::max(last_epoch, c.epoch);
    for (size_t p = 0; p < panels().size(); ++p) {
      const Panel& panel = panels()[p];
      const auto lines = lines_of(results, datasets[d], panel.per_scorer);
      double lo = INFINITY, hi = -INFINITY;
      for (const auto& line : lines)
        for (const TrialResult* t : line.second)
          for (const CurvePoint& c : t->curve)
            if (std::isfinite(panel.value(c))) {
              lo = std::min(lo, panel.value(c));
              hi = std::max(hi, panel.value(c));
            }
      const double x0 = left + p * (pw + gap);
      svg.open_group(fmt::format(R"(class="panel" data-dataset="{}" data-panel="{}")",
                                 xml_escape(datasets[d]), p));
      svg.text(x0 + pw / 2, y0 + 8, panel.title,
               R"(text-anchor="middle" font-size="12" font-weight="bold")");
      const double py = y0 + 18;
      if (!(lo <= hi)) {
        svg.text(x0 + pw / 2, py + ph / 2, "(no values)", R"(text-anchor="middle" fill="#777")");
        svg.close_group();
        continue;
      }
      if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
      const NiceAxis ya = nice_axis(lo, hi, 5), xa = nice_axis(0, static_cast<double>(last_epoch), 5);
      const LinearScale x{xa.lo, xa.hi, x0, x0 + pw}, y{ya.lo, ya.hi, py + ph, py};
      svg.axis_left(y, ya, x0, x0, x0 + pw);
      svg.axis_bottom(x, xa, py + ph, py, py + ph);
      svg.text(x0 + pw / 2, py + ph + 34, "epochs trained", R"(text-anchor="middle" font-size="11")");
      for (size_t l = 0; l < lines.size(); ++l) {
        const auto [colour, dash] = style(*lines[l].second.front(), panel.per_scorer);
        std::map<int64_t, std::vector<double>> by_epoch;
        for (const TrialResult* t : lines[l].second) {
          std::vector<std::pair<double, double>> pts;
          for (const CurvePoint& c : t->curve) {
            if (!std::isfinite(panel.value(c))) continue;
            pts.emplace_back(x(static_cast<double>(c.epoch)), y(panel.value(c)));
            by_epoch[c.epoch].push_back(panel.value(c));
            if (c.epoch == t->chosen_epoch)
              svg.circle(pts.back().first, pts.back().second, 4,
                         fmt::format(R"(fill="none" stroke="{}" stroke-width="1.2")", colour));
          }
          svg.polyline(pts, fmt::format(R"(stroke="{}" stroke-width="1" stroke-opacity="0.25")",
                                        colour));
        }
        std::vector<std::pair<double, double>> med;
        for (const auto& [epoch, values] : by_epoch)
          med.emplace_back(x(static_cast<double>(epoch)), y(median(values)));
        svg.open_group(fmt::format(R"(class="line" data-line="{}")", xml_escape(lines[l].first)));
        svg.tooltip(lines[l].first);
        svg.polyline(med, fmt::format(R"(stroke="{}" stroke-width="2.2" {})", colour, dash));
        for (const auto& [px, pyv] : med) svg.circle(px, pyv, 2.2, fmt::format(R"(fill="{}")", colour));
        svg.close_group();
        // The legend under the panel.
        const double ly = py + ph + 50 + 14 * static_cast<double>(l);
        svg.line(x0, ly - 4, x0 + 22, ly - 4,
                 fmt::format(R"(stroke="{}" stroke-width="2.2" {})", colour, dash));
        svg.text(x0 + 28, ly, lines[l].first, R"(font-size="10.5")");
      }
      svg.rect(x0, py, pw, ph, R"(fill="none" stroke="#333" stroke-width="1")");
      svg.close_group();
    }
  }
  return svg;
}

void write_curves_svg(const std::string& path, const BenchmarkResults& results) {
  write_file_atomic(path, curves_figure(results).document());
}

}  // namespace kz
