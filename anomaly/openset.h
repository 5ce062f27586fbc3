/// \file
/// openset.h — classifying while detecting (the seed's "dream"): a classifier trained on
/// the known classes names each test image's class and flags the images of classes it never
/// saw as unknown; the flagged images are then clustered into kinds of anomaly.
///
/// Shape letters: N images, F feature dimension, K known classes, U unknown classes.
/// \code{.unparsed}
///   train      a classifying method (l2softmax, arcface, adacos, adacos-fixed) on the K
///              known classes' training images (data/openset_split.h)
///   centres    per known class, the mean of its training images' L2-normalised features
///              (with `center`, every feature first has the mean training feature taken
///              off: cosines about the data's centre, as `kizuki benchmark --center`)
///   predict    each image's class: the centre of largest cosine; its score that cosine
///   threshold  set on held-out known training images (never the test set): the largest
///              value t of their max cosines with #{cos ≥ t} ≥ rate·n, i.e. t = the
///              ⌊(1 − rate)·n⌋-th smallest (from 0); an image is flagged unknown when its max
///              cosine < t, so at least `rate` (95 %) of the held-out images stay known
///   metrics    closed-set accuracy: known test images whose predicted class is right;
///              AUROC known-vs-unknown: score 1 − max cosine, unknown = positive
///              (anomaly/roc.h); open-set accuracy: over all test images, a known one right
///              when not flagged and its class right, an unknown one right when flagged;
///              the true-known rate and the unknown detection rate on the test set; the
///              (K+1)×(K+1) confusion matrix, rows the true class (unknown last), columns
///              the decision (a predicted class, or "unknown" when flagged); beside them the
///              head's own closed-set accuracy (argmax of its logits), for comparison
///   modes      with U ≥ 2: k-means (anomaly/kmeans.h, k = U, restarts, seeded) on the
///              L2-normalised features of every flagged image; purity and adjusted Rand
///              index against their true classes (falsely flagged known images count with
///              their own class), and the same scores over the truly unknown ones among
///              them; a 2-D PCA (anomaly/pca.h) of those features for the figure
/// \endcode
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "anomaly/method.h"
#include "data/openset_split.h"

namespace kz {

/// Everything run_openset needs.
struct OpenSetOptions {
  std::string dataset = "cifar10";  ///< fashion-mnist | cifar10 (for the record)
  std::string data_dir;             ///< for the record
  std::string preset = "scratch";   ///< the preset the method options came from (for the record)
  std::string unknown;              ///< comma list of unknown class names or indices
  MethodOptions method;             ///< a classifying method (see the file's description)
  /// Per known class: training images, held-out images (threshold); per class: test images
  ///@{
  int64_t n_train_per_class = 1000, n_held_out_per_class = 200;
  int64_t n_test_known_per_class = 200, n_test_unknown_per_class = 500;
  ///@}
  double true_known_rate = 0.95;  ///< of the held-out images, for the threshold
  int64_t kmeans_restarts = 10;   ///< k-means++ starts of the modes' clustering
  bool center = false;            ///< take the mean training feature off every feature
  uint64_t seed = 0;              ///< the split, the training and the clustering
};

/// The open-set scores of one run (see the file's description).
struct OpenSetMetrics {
  double closed_set_accuracy = 0.0;  ///< known test images classified right
  double auroc = 0.0;                ///< known vs unknown, score 1 − max cosine
  double open_set_accuracy = 0.0;    ///< known right and unflagged, unknown flagged
  double true_known_rate = 0.0;      ///< known test images not flagged
  double unknown_detection_rate = 0.0;  ///< unknown test images flagged
  /// Known test images the head's argmax classifies right (not a nearest-centre score;
  /// run_openset fills it, open_set_metrics leaves it 0)
  double head_accuracy = 0.0;
  /// (K+1)×(K+1) counts: [true class][decision], unknown last on both sides
  std::vector<std::vector<int64_t>> confusion;
};

/// The clustering of the flagged images (see the file's description).
struct OpenSetModes {
  int64_t k = 0;                 ///< clusters (= unknown classes); 0: not clustered
  int64_t flagged = 0;           ///< images clustered
  int64_t flagged_unknown = 0;   ///< of them, truly unknown
  /// Against the true classes of all flagged images, then of the truly unknown ones
  ///@{
  double purity = 0.0, ari = 0.0, purity_unknown = 0.0, ari_unknown = 0.0;
  ///@}
  double inertia = 0.0;          ///< of the kept k-means run
  std::string skipped;           ///< why not clustered (empty when clustered)
};

/// One test image's outcome.
struct OpenSetPrediction {
  int64_t test_index = 0;   ///< in the test split
  int64_t original = 0;     ///< its own class (original label)
  int64_t label = 0;        ///< 0 … K−1 known, K unknown
  int64_t predicted = 0;    ///< the known class of largest cosine, 0 … K−1
  double max_cosine = 0.0;  ///< to that class's centre
  bool flagged = false;     ///< max_cosine < threshold
  int64_t cluster = -1;     ///< flagged and clustered: its cluster, else −1
  /// flagged and clustered: its PCA coordinates
  ///@{
  double pc1 = 0.0, pc2 = 0.0;
  ///@}
};

/// What run_openset gives (and write_openset_report writes).
struct OpenSetResult {
  nlohmann::json settings;     ///< the options, as results.json records them
  nlohmann::json environment;  ///< build, CPU, threads, date
  std::vector<std::string> class_names;  ///< the data set's, by original label
  std::vector<int64_t> known_classes;    ///< original labels of known 0 … K−1
  std::vector<int64_t> unknown_classes;  ///< original labels of the unknown classes
  double threshold = 0.0;                ///< on the max cosine
  double held_out_known_rate = 0.0;      ///< of the held-out images not flagged (≥ rate)
  /// Images trained on, held out
  ///@{
  int64_t n_train = 0, n_held_out = 0;
  ///@}
  OpenSetMetrics metrics;                ///< on the test set
  OpenSetModes modes;                    ///< the flagged images' clustering
  std::vector<OpenSetPrediction> predictions;  ///< per test image, in test-set order
  double train_seconds = 0.0;            ///< the method's training
  double total_seconds = 0.0;            ///< the whole run
};

/// Per class 0 … K−1, the mean of the L2-normalised rows of `features` (N,F) labelled
/// with it: (K,F). Every class needs a row; a zero row stays zero.
Tensor class_centres(const Tensor& features, const std::vector<int64_t>& labels, int64_t classes);

/// For each row of features (N,F), the centre (K,F) of largest cosine (the lowest index on a
/// tie) and that cosine (0 for a zero row or centre).
void nearest_centre(const Tensor& features, const Tensor& centres,
                    std::vector<int64_t>& predicted, std::vector<double>& max_cosine);

/// The threshold keeping `rate` of `scores` at or above it (see the file's description);
/// scores non-empty, rate in (0, 1].
double known_rate_threshold(std::vector<double> scores, double rate);

/// The scores of the file's description. truth: 0 … K−1 known, K unknown; predicted: 0 …
/// K−1; an image is flagged when max_cosine < threshold. Both known and unknown images needed.
OpenSetMetrics open_set_metrics(const std::vector<int64_t>& truth,
                                const std::vector<int64_t>& predicted,
                                const std::vector<double>& max_cosine, double threshold,
                                int64_t classes);

/// Progress of a run: the method's training, and a line per stage.
struct OpenSetCallbacks {
  ProgressFn progress;                            ///< the method's training
  std::function<void(const std::string&)> stage;  ///< "embedding the test images", …
};

/// The whole open-set run on `data` (see the file's description).
OpenSetResult run_openset(const OpenSetOptions& options, const TrainTest& data,
                          const OpenSetCallbacks& callbacks = {});

/// The metrics and the modes as lines for the terminal.
std::string format_openset_summary(const OpenSetResult& result);

/// Writes into `dir` (created if needed; each file atomically): results.json (settings,
/// environment, threshold, metrics, confusion matrix, modes), predictions.csv (one row per
/// test image), confusion.svg, clusters.svg (when clustered) and report.html (all of them).
void write_openset_report(const std::string& dir, const OpenSetResult& result);

}  // namespace kz
