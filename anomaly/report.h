/// \file
/// report.h — the files `kizuki benchmark --out DIR` writes from a BenchmarkResults
/// (anomaly/results.h): results.csv, results.json, boxplot.svg, roc.svg and report.html.
/// Every file is written atomically (tensor/file_io.h: temp file + rename), so an interrupted
/// run never leaves a torn file. Errors are kz::Error starting with "[report]" and naming the
/// file.
///
/// Each writer has a pure function next to it that returns the text (or figure), so the HTML
/// page can inline the figures and tests can inspect them without touching the disk.
///
/// Figures (SVG 1.1, standalone, no scripts or external resources):
/// - boxplot.svg: one panel per dataset (side by side, wrapping into rows at most 1200 px wide,
///   the report page's column), one box per method × scorer in the runner's order,
///   coloured by method. Box = Q1..Q3 (NumPy's linear percentile), line = median, whiskers =
///   the furthest trials within 1.5 IQR of the box, open circles = trials beyond them
///   (matplotlib's boxplot), dots = every trial, spread sideways by a fixed (deterministic)
///   jitter. The median is written above each box; a dashed line marks AUC 0.5 (chance) when
///   it is in range.
/// - roc.svg: one panel per dataset; per method × scorer every trial's ROC curve faint and the
///   curve of its median trial bold (the trial at sorted position ⌊(n-1)/2⌋, i.e. the lower
///   median for even n); colour = method, dash pattern = scorer; the diagonal is chance; the
///   legend gives each pair's median AUC.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "anomaly/results.h"
#include "anomaly/svg.h"

namespace kz {

/// Aligned text table for the terminal: dataset, method, scorer, n, median, mean, std, min,
/// max (AUC, 4 decimals) and mean training seconds; "-" for an undefined std (n = 1).
std::string format_summary_table(const std::vector<SummaryRow>& rows);

/// One RFC 4180 field: quoted (with "" for ") when it holds a comma, quote, CR or LF.
std::string csv_field(std::string_view s);

/// results.csv: header `dataset,method,scorer,trial,seed,auc,train_seconds`, then one row per
/// trial in order. Numbers are printed in the shortest form that reads back exactly. Lines
/// end with "\n".
std::string results_csv(const BenchmarkResults& results);
void write_results_csv(const std::string& path, const BenchmarkResults& results);  ///< atomic

/// results.json:
///   {"format": "kizuki-benchmark-results", "version": 1, "settings": {...},
///    "environment": {...}, "summary": [{dataset, method, scorer, n, median, mean, std, min,
///    max, train_seconds_mean}, ...],
///    "trials": [{dataset, method, scorer, trial, seed, auc, train_seconds,
///                "roc": {"fpr": [...], "tpr": [...], "thresholds": [...]}}, ...]}
/// JSON has no infinity or NaN: they are written as null (the first ROC threshold is +inf;
/// an undefined std is NaN). results_from_json reads null thresholds back as +inf.
nlohmann::ordered_json results_to_json(const BenchmarkResults& results);  ///< keys in that order
BenchmarkResults results_from_json(const nlohmann::json& j);  ///< throws "[report] ..."
/// JSON text (indent < 0: one line); invalid UTF-8 in names (a folder name) becomes U+FFFD
/// instead of throwing.
std::string json_dump(const nlohmann::ordered_json& j, int indent = -1);
/// The file's text: the keys above in that order, settings and environment indented, one
/// summary row or trial per line.
std::string results_json_text(const BenchmarkResults& results);
void write_results_json(const std::string& path, const BenchmarkResults& results);  ///< atomic
BenchmarkResults read_results_json(const std::string& path);  ///< errors name the file

/// boxplot.svg's figure (see the file's description), and the file written atomically.
///@{
Svg boxplot_figure(const BenchmarkResults& results);
void write_boxplot_svg(const std::string& path, const BenchmarkResults& results);
///@}

/// roc.svg's figure (see the file's description), and the file written atomically.
///@{
Svg roc_figure(const BenchmarkResults& results);
void write_roc_svg(const std::string& path, const BenchmarkResults& results);
///@}

/// report.html: one self-contained page (inline CSS, both figures inlined, no scripts, no
/// external resources): summary table, a "how to read this" note, the box plot, the ROC
/// figure, every trial, the settings and the environment.
std::string report_html(const BenchmarkResults& results);
void write_report_html(const std::string& path, const BenchmarkResults& results);  ///< atomic

/// One run out of several runs of the same benchmark with different seeds (say trials 0-4
/// with --seed 0 and trials 5-9 with --seed 5, run in two processes): the trials in the
/// order given, renumbered 0, 1, ...; settings of the first with "trials" the total and
/// "seed" the smallest; environment of the first, with "merged_from" listing `names`.
/// The runs' settings must be equal apart from "trials" and "seed", and no seed may appear in
/// two runs: otherwise an error naming the two runs and the first setting that differs.
/// Or other methods on the same trials (say `--methods vae` and `--methods ssim-ae`, each
/// with its own settings, in two processes): settings equal apart from "methods" and no
/// method in two runs; then the methods side by side, in the order given, trials as they are.
BenchmarkResults merge_results(const std::vector<BenchmarkResults>& runs,
                               const std::vector<std::string>& names);

/// Creates out_dir (and its parents) and writes the five files above into it.
void write_report(const std::string& out_dir, const BenchmarkResults& results);

}  // namespace kz
