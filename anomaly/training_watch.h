/// \file
/// training_watch.h — watching a network train (--eval-every) and choosing which epoch's
/// weights to keep (--early-stop proxy) without letting the test set choose anything.
///
/// After the epochs eval_every asks for — 0 (the untrained network, or the epoch a run
/// resumed after), every eval_every-th, and the last — the watch records, for each scorer
/// of the run, one CurvePoint (anomaly/results.h):
/// \code{.unparsed}
///   auc              the test AUC: shown in the curves, never used to choose
///   proxy_auc        held-out normal against held-out reference-class training images
///                    (data/split.h with_proxy_set): images no method trains on
///   mean_cosine,     collapse diagnostics of the normal training features
///   effective_rank   (anomaly/diagnostics.h)
///   weight_distance  ‖θ − θ0‖ over the parameters (NaN after a resume: θ0 was not seen)
/// \endcode
/// With early stopping the watch keeps the weights (every network's state_dict) of the
/// evaluation with the highest proxy AUC of the run's first scorer, the earliest on ties;
/// finish() puts them back into the method. With a file path the kept weights are also
/// written there (atomically) whenever they change, and a resumed run starts from that file,
/// so it chooses among the same epochs as a run that never stopped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "anomaly/experiment.h"
#include "anomaly/method.h"
#include "anomaly/results.h"
#include "data/split.h"

namespace kz {

/// --eval-every's curves and --early-stop proxy's choice for one (trial, method); see the
/// file's description. It must outlive the method's train(), whose epoch hook it is.
class TrainingWatch {
 public:
  /// Watches `method` on `split` (its test and proxy sets) with the scorers of `options`.
  /// best_path: where early stopping keeps its weights ("" = in memory only); `writer`:
  /// whether this process writes that file (rank 0 under data parallelism). With
  /// options.resume the file is read if present, otherwise it is removed as stale.
  TrainingWatch(Method& method, const BenchmarkSplit& split, const ExperimentOptions& options,
                std::string best_path, bool writer);
  /// The hook to give the method (Method::set_epoch_hook).
  EpochHook hook();
  /// After training: with early stopping, loads the kept weights into the method.
  void finish();
  /// The curves by scorer label (scorer_label), in epoch order.
  const std::map<std::string, std::vector<CurvePoint>>& curves() const { return curves_; }
  /// The epoch whose weights finish() kept; −1 without early stopping.
  int64_t chosen_epoch() const { return early_stop_ ? best_epoch_ : -1; }

 private:
  void evaluate(int64_t epochs_done);
  void keep_if_best(int64_t epoch, double proxy_auc);

  Method& method_;
  const BenchmarkSplit& split_;
  const ExperimentOptions& options_;
  std::vector<int> test_labels_, proxy_labels_;
  std::map<std::string, std::vector<CurvePoint>> curves_;
  StateDict theta0_;  // parameters before training (empty after a resume)
  bool early_stop_ = false;
  std::string best_path_;
  bool writer_ = false;
  int64_t best_epoch_ = -1;
  double best_proxy_ = 0.0;
  StateDict best_state_;
};

}  // namespace kz
