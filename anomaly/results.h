/// \file
/// results.h — what `kizuki benchmark` measures: one TrialResult per (dataset, method, scorer,
/// trial), the run's settings and environment, and the per-group summary statistics that the
/// terminal table, the box plot and the reports show.
///
/// The experiment runner (anomaly/experiment.h) fills BenchmarkResults; the writers in
/// anomaly/report.h turn it into results.csv, results.json, boxplot.svg, roc.svg and
/// report.html. Nothing here trains or scores anything.
///
/// Statistics (checked against NumPy and matplotlib by tests/fixtures/make_report.py):
/// - quantile(): NumPy's default `np.percentile(x, 100 q)` ("linear", type 7 of Hyndman & Fan):
///   on the sorted values v[0..n-1], h = (n-1) q, result = v[⌊h⌋] + (h-⌊h⌋)(v[⌊h⌋+1] - v[⌊h⌋]).
/// - std: the SAMPLE standard deviation, divisor n-1 (NumPy `std(ddof=1)`, pandas' default,
///   what papers mean by "± std over trials"); NaN when n = 1 (as NumPy and pandas).
/// - box_stats(): matplotlib's `cbook.boxplot_stats(whis=1.5)`: box = quartiles Q1..Q3 (linear
///   percentile), whiskers at the furthest data points within [Q1 - 1.5 IQR, Q3 + 1.5 IQR],
///   points outside the whiskers are outliers ("fliers").
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "anomaly/roc.h"

namespace kz {

/// A trial's network after some epochs of training (--eval-every, anomaly/experiment.h): the
/// scorer's AUC and the collapse diagnostics of the normal training features X (n×F),
/// centred (X̄ = X − mean).
struct CurvePoint {
  int64_t epoch = 0;             ///< epochs trained; 0 is the untrained network
  double auc = 0.0;              ///< of this scorer on the test set
  /// Mean cosine of the rows of X̄ over the pairs i ≠ j: toward 1 as the features collapse
  /// onto one direction.
  double mean_cosine = 0.0;
  /// (Σλ)²/Σλ² of the eigenvalues λ of X̄ᵀX̄ (the participation ratio): about the number of
  /// directions the features spread in; 1 = collapsed onto a line.
  double effective_rank = 0.0;
  /// ‖θ − θ0‖ over every network's parameters (no batch-norm statistics), θ0 the untrained
  /// ones; NaN when the epoch-0 weights were not seen (a unit resumed from a checkpoint).
  double weight_distance = 0.0;
  /// The same scorer's AUC on the proxy set (data/split.h with_proxy_set): held-out normal
  /// against held-out reference images, never the test set; NaN without one.
  double proxy_auc = std::numeric_limits<double>::quiet_NaN();
};

/// The outcome of one (dataset, method, scorer, trial).
struct TrialResult {
  std::string dataset;  ///< "fashion-mnist", "cifar10", or a folder name
  std::string method;   ///< a name of method_names() (anomaly/method.h)
  std::string scorer;   ///< an embedding method's scorer ("lof", "cosine", "knn") or a scoring
                        ///< method's own score ("mse", "elbo", …)
  int trial = 0;        ///< from 0
  uint64_t seed = 0;    ///< the trial's seed (the run's seed + trial)
  double auc = 0.0;     ///< ROC-AUC on the test set
  double train_seconds = 0.0;  ///< training time of this trial's network (shared by its scorers)
  RocCurve roc;                ///< anomaly/roc.h (fpr, tpr, thresholds); may be empty
  /// Kept only for an ensemble's members (anomaly/ensemble.h), else empty: the test scores in
  /// test-set order.
  std::vector<double> test_scores = {};
  /// With test_scores: the mean and standard deviation (divisor n) of the scores of the
  /// normal training images
  ///@{
  double normal_train_mean = 0.0, normal_train_std = 0.0;
  ///@}
  std::vector<CurvePoint> curve = {};  ///< by epoch, with --eval-every; empty otherwise
  /// With --early-stop proxy: the epoch whose weights were kept (the best proxy AUC of the
  /// method's first scorer); −1 otherwise (the last epoch's weights).
  int64_t chosen_epoch = -1;
  /// The method's training warnings (Method::training_warnings(): a GAN's mode collapse, a
  /// discriminator that wins); empty for most (anomaly/report_gan.h)
  std::vector<std::string> warnings = {};
  /// The PNG of its generator's images per epoch, relative to the output folder; "" for most
  std::string samples = {};
};

/// A picture of where a method finds the test images anomalous (a method that gives maps):
/// the 8 most and 8 least anomalous normal and anomalous test images of one trial by `score`,
/// each as input, reconstruction and map, in a PNG beside the report (anomaly/map_figure.h).
struct MapFigure {
  /// Whose maps: the dataset, the method, the score that ranked the images
  ///@{
  std::string dataset, method, score;
  ///@}
  int trial = 0;           ///< which trial's images
  std::string file;        ///< relative to the output folder: "maps/fashion-mnist-ae.png"
  /// The colour scale: map values at its two ends
  ///@{
  double low = 0.0, high = 0.0;
  ///@}
  std::string kind = "own";        ///< "own", "gradcam" or "occlusion" (anomaly/map_kinds.h)
  double seconds_per_image = 0.0;  ///< what drawing the maps cost, per image shown
};

/// Everything a benchmark run measured, with its settings (see the file's description).
struct BenchmarkResults {
  std::vector<TrialResult> trials;  ///< in the runner's order
  nlohmann::json settings;     ///< every option of the run (preset, epochs, lr, ...)
  nlohmann::json environment;  ///< versions (kizuki, oneDNN, OpenBLAS), threads, CPU, date
  /// Pictures of anomaly maps written with the run (their files are relative to its output
  /// folder, so merge_results leaves them out).
  std::vector<MapFigure> map_figures;
};

/// One (dataset, method, scorer) group of trials, AUC statistics over its n trials.
struct SummaryRow {
  /// The group
  ///@{
  std::string dataset, method, scorer;
  ///@}
  int n = 0;  ///< trials in the group
  /// Of AUC; std has divisor n-1
  ///@{
  double median = 0, mean = 0, std = 0, min = 0, max = 0;
  ///@}
  double train_seconds_mean = 0;                             ///< mean train_seconds of the trials
};

/// The groups in the order their first trial appears in results.trials (the runner's order).
std::vector<SummaryRow> summarize(const BenchmarkResults& results);

/// NumPy's default percentile of `values` at fraction q in [0, 1] (see above). values must not
/// be empty; they need not be sorted.
double quantile(std::vector<double> values, double q);

/// matplotlib's box-plot statistics, whis = 1.5.
struct BoxStats {
  /// The quartiles
  ///@{
  double q1 = 0, median = 0, q3 = 0;
  ///@}
  /// Data points, not fences
  ///@{
  double whisker_low = 0, whisker_high = 0;
  ///@}
  std::vector<double> outliers;              ///< in ascending order
};
/// matplotlib's box-plot statistics of `values` (not empty), whis = 1.5.
BoxStats box_stats(const std::vector<double>& values);

}  // namespace kz
