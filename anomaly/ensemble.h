/// \file
/// ensemble.h — ensembles of anomaly detectors (`kizuki benchmark --ensemble
/// NAME=method:score,method:score,…`): one more row per ensemble and trial, whose score of an
/// image is the mean of its members' standardised scores.
///
/// Standardising: each member's test scores s become (s − μ)/σ with μ and σ the mean and the
/// standard deviation (divisor n, NumPy's default) of that member's scores of the normal
/// training images, so that members of any scale weigh alike and no test image is used to
/// set them. A scoring method scores its normal training images as it scores test images.
/// An embedding method's scorer is fitted on those same images, so each of them is scored by
/// cross-fitting: in 5 folds, by a scorer fitted on the other four (its own nearest
/// neighbour would otherwise be itself).
///
/// A member is a method of the run's --methods with one of its scores: an embedding method's
/// scorer (one of --scorers, or its default) or a scoring method's own score name; a method
/// alone means its default. The members' test scores and normal-training statistics are kept
/// in their rows of results.json (TrialResult::test_scores), so the ensemble rows are made
/// after every member has run, whichever process ran it, and again on --resume.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "anomaly/results.h"
#include "tensor/tensor.h"

namespace kz {

/// One ensemble: its row name and its members as (method, score) pairs, score empty for the
/// method's default.
struct EnsembleSpec {
  std::string name;                                          ///< the rows' "method"
  std::vector<std::pair<std::string, std::string>> members;  ///< (method, score or "")
};

/// Parses "NAME=method:score,method,…" (NAME and every method non-empty, at least two
/// members, none twice); errors name `where` ("--ensemble") and what is wrong.
EnsembleSpec parse_ensemble(const std::string& text, const std::string& where);

/// Scores of the normal training images by an embedding scorer, each from a scorer fitted on
/// the other folds (5 folds in order of the rows; at least 2 rows per fold): train (N,D) ->
/// (N). `scorer`, `neighbors` and `center` as score_features (anomaly/experiment.h).
Tensor cross_fitted_scores(const std::string& scorer, const Tensor& train, int64_t neighbors,
                           bool center);

/// The members' standardised test scores averaged (see the file's description); every member
/// must carry test_scores of one length and a normal_train_std > 0.
std::vector<double> ensemble_scores(const std::vector<const TrialResult*>& members);

}  // namespace kz
