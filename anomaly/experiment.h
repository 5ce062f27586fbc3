/// \file
/// experiment.h — the benchmark protocol (DESIGN.md §7) as one function, and its presets.
///
/// For each trial t (seed s_t = seed + t): draw the split (reference classes, normal
/// training set, test set) with s_t; for each method: build and train its network with s_t;
/// an embedding method embeds the normal training set and the test set (with test-time
/// augmentation if asked), and for each scorer the scorer is fitted on the normal training
/// features (through a MinMaxScaler for lof and knn, as the seed; raw or centred for cosine)
/// and scores the test set; a scoring method scores the
/// test set itself, once per score it gives. Each (method, scorer or score) records the
/// ROC-AUC (higher score = more anomalous, anomaly = 1).
///
/// Presets (MethodOptions per method, plus split sizes and trials):
/// \code{.unparsed}
///   seed     the seed's settings with the pretrained weights: DOC 5 epochs SGD lr 5e-5 with
///            early layers frozen; L2-Softmax (α 15) and ArcFace (s 30, m 0.05) 10 epochs Adam
///            lr 1e-4 AMSGrad; batch 128; 96×96 RGB. Departure: kizuki has width-1.0 ImageNet
///            weights only (the seed used width 0.5), and they need pixels in [−1, 1].
///   scratch  from random initialisation: 32×32, width 0.5, Adam lr 1e-3 (AMSGrad) for every
///            method, 10 epochs, pixels in [0, 1] (docs/results.md has the measurements).
///   quick    scratch with 3 epochs, 2 trials and a half-size reference set (500 per class):
///            the README's demo, a few minutes on two cores.
///   panda, msc  their papers' settings in every preset (SGD, weight decay 5e-5, features.0
///            … 13 frozen; PANDA lr 1e-2, momentum 0.9, batch 32, gradient norm ≤ 1e-3, 15
///            epochs; MSC lr 1e-5, batch 64, 20 epochs; scratch 10 epochs, quick 3).
/// \endcode
/// For a table (dataset "table": `kizuki benchmark --table`), the network methods take the
/// MLP backbone (layers/mlp.h, widths 64, 64) on the standardised rows as they are (no
/// resizing, no grey→RGB, no pixel scaling), Adam lr 1e-3 (AMSGrad), batch 64, 50 epochs
/// (quick: 10, 2 trials); iforest and identity have nothing to preset.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "anomaly/ensemble.h"
#include "anomaly/method.h"
#include "anomaly/occlusion.h"
#include "anomaly/results.h"
#include "data/table_split.h"
#include "dist/communicator.h"

namespace kz {

/// Everything run_benchmark needs: the data, the split, the methods and the trials.
struct ExperimentOptions {
  std::string dataset = "fashion-mnist";  ///< fashion-mnist | cifar10
  std::string data_dir;                   ///< empty: the dataset's default location
  /// −1: the protocol's (7/9, 4/7)
  ///@{
  int64_t normal_class = -1, anomaly_class = -1;
  ///@}
  /// The split's sizes, as benchmark_split's (data/split.h)
  ///@{
  int64_t n_reference_per_class = 1000, n_normal_train = 1000, n_test_each = 1000;
  ///@}
  std::vector<std::string> methods{"doc", "l2softmax", "arcface"};  ///< names of method_names()
  std::vector<std::string> scorers;  ///< embedding methods only; empty: each one's default
  int trials = 10;                   ///< trial t uses seed + t
  uint64_t seed = 0;                 ///< of trial 0
  int64_t lof_neighbors = 5;         ///< the seed's n_neighbors
  int64_t knn_neighbors = 5;         ///< k of the k-NN scorer (PANDA and DN2 use 2)
  /// Embedding methods only (a scoring method's own scores are left as they are): the
  /// cosine scorer measures angles about the mean normal training feature (a CenteringScaler
  /// fitted on the normal training features, anomaly/scalers.h). LOF and k-NN measure
  /// Euclidean distances, which a shift leaves unchanged, so they are scored as without it.
  bool center = false;
  /// Embedding methods only: "none" or "flip": every image's feature is the mean of its own
  /// and its mirror image's (anomaly/method.h embed_features), training and test images alike.
  std::string tta = "none";
  /// Watch the features train (embedding methods that train; 0 = off): before the first
  /// epoch (the untrained network, epoch 0) and after every eval_every-th epoch and the last,
  /// each scorer's test AUC and the collapse diagnostics of the normal training features
  /// (anomaly/diagnostics.h) and ‖θ − θ0‖, recorded as each TrialResult's curve. Training
  /// is unchanged by it (the same weights and AUC as without); its time is not training time.
  int64_t eval_every = 0;
  /// With eval_every (images): the proxy set's size, at most this many held-out normal and
  /// as many held-out reference-class images of the train split (data/split.h
  /// with_proxy_set), scored after every evaluation as the curves' proxy_auc; 0 = none.
  int64_t proxy_each = 500;
  /// "none", or "proxy": keep the weights of the evaluation (eval_every) with the best
  /// proxy AUC of the first scorer instead of the last epoch's (anomaly/training_watch.h);
  /// the test set never chooses. The chosen epoch is each TrialResult's chosen_epoch.
  std::string early_stop = "none";
  std::string preset = "scratch";    ///< the preset the options came from (for the record)
  /// Score held-out data instead of the test set (data/split.h validation_split): normals of
  /// the train split the methods do not train on against reference-set images, for choosing
  /// settings without the test set. Methods that train on the reference set are refused.
  bool validate = false;
  std::vector<MethodOptions> method_options;  ///< one per entry of `methods`
  /// One more row per ensemble and trial (anomaly/ensemble.h); its members' rows keep their
  /// test scores.
  std::vector<EnsembleSpec> ensembles;
  /// Weak supervision: this many labelled anomaly-class images of the train split
  /// (data/split.h with_known_anomalies; for a table, rows of its anomaly classes outside
  /// the test set, data/table_split.h table_known_anomalies), the same for every method of
  /// a trial. deepsad
  /// pushes them away from its centre; l2softmax, arcface and adacos take them as one class
  /// more; the other methods do not use them.
  int64_t known_anomalies = 0;
  /// Where the run keeps its work (not a setting of the experiment): with out_dir set,
  /// results.json there is rewritten after every finished (trial, method), and each
  /// training writes `checkpoints/trial<t>-<method>.ckpt` at every epoch boundary (removed
  /// once its results are recorded). resume: finished (trial, method)s recorded in
  /// results.json are taken as they are (its settings must match), and an unfinished one
  /// continues from its checkpoint; the results equal those of a run that never stopped.
  std::string out_dir;
  bool resume = false;  ///< see out_dir
  /// Data-parallel training (--data-parallel; anomaly/method.h DataParallelOptions): every
  /// rank works on every unit, each on its shard of every batch; rank 0 records. Not a
  /// setting of the experiment (the results say how many ranks in "environment").
  bool data_parallel = false;
  bool sync_bn = false;     ///< --sync-bn, with data_parallel
  double bucket_mb = 4.0;   ///< --bucket-mb, with data_parallel
  /// A table instead of images (`kizuki benchmark --table`): the CSV file (empty: images),
  /// how to read it (data/csv.h) and which rows play which part (data/table_split.h); each
  /// trial's split is table_split's, standardised with its normal training rows' statistics.
  std::string table;
  CsvOptions csv;                ///< see table
  TableProtocol table_protocol;  ///< see table
  /// Map figures of other kinds (anomaly/map_kinds.h; `--maps gradcam,occlusion`): for each
  /// kind listed, trial 0's figure of every method that can give it, beside the methods' own,
  /// with its cost in seconds per image. Gradcam and occlusion explain the first scorer (or
  /// score) of the method. Not a setting of the experiment: no AUC changes.
  std::vector<std::string> map_kinds;
  OcclusionOptions occlusion;  ///< the mask of the occlusion maps and its fill (mean or unet)
};

/// The options of `preset` ("seed", "scratch" or "quick") for `dataset` and `methods`.
/// "seed" needs `pretrained` (a safetensors file), the others ignore it unless given.
/// dataset "table" gives the table settings of the file's description.
ExperimentOptions preset_options(const std::string& preset, const std::string& dataset,
                                 const std::vector<std::string>& methods,
                                 const std::string& pretrained);

/// Messages for the terminal: training progress of (trial, method), and one line per
/// finished (trial, method, scorer).
struct ExperimentCallbacks {
  /// Training progress of (trial, method).
  std::function<void(int trial, const std::string& method, const TrainProgress&)> progress;
  /// A finished (trial, method, scorer).
  std::function<void(const TrialResult&)> result;
  /// A (trial, method) taken from results.json or continued from a checkpoint (--resume).
  std::function<void(int trial, const std::string& method, const std::string& what)> resumed;
  /// This process starts (trial, method) (with several processes: names what a rank was
  /// doing when it died).
  std::function<void(int trial, const std::string& method)> started;
  /// Data-parallel (options.data_parallel), rank 0: where the gradient exchange of (trial,
  /// method)'s training spent its time, and the training's wall time.
  std::function<void(int trial, const std::string& method, const GradSyncTiming&,
                     double train_seconds)>
      synced;
  /// A warning about (trial, method)'s training (Method::training_warnings(): a GAN's mode
  /// collapse, …), naming the PNG of its generator's samples when one was written.
  std::function<void(int trial, const std::string& method, const std::string& warning)> warning;
};

/// The protocol's (trial × method) units, run by the processes of `comm` (nullptr: this one
/// alone, the same code with size 1). The units not recorded yet, in the order one process
/// runs them (trial by trial, methods in order), are dealt to the ranks as cards in a
/// snake (ranks 0 1 … S−1 S−1 … 1 0 0 1 …), fixed before any work starts; each unit is
/// deterministic from seed + trial, so every AUC equals a one-process run's bit for bit
/// (with the same --threads). Each rank records a unit as soon as it is finished — in a run of one
/// process in results.json, otherwise in `<out_dir>/ranks/rank<r>.json` — and at the end rank 0
/// gathers them all, writes results.json in the one-process order, and every rank returns
/// the whole results. --resume (any number of processes, before and after) takes the units
/// of results.json and of every ranks/*.json this rank can see. A rank whose unit fails
/// stops; the others finish theirs; everything finished is recorded in results.json, then
/// every rank throws one GroupError naming the rank, the trial and the method (one process:
/// the unit's own error). docs/decisions.md says why the records are per rank.
/// With options.data_parallel every rank runs every unit together (anomaly/training.h) and
/// rank 0 alone writes results.json, the checkpoints and the figures; a rank that fails
/// there ends the whole group (Communicator::abort), the others being inside a collective.
BenchmarkResults run_benchmark(const ExperimentOptions& options,
                               const ExperimentCallbacks& callbacks = {},
                               Communicator* comm = nullptr);

/// The data set's train/test pair from its reader, with the protocol's classes filled in.
/// A table (options.table) is read whole into `train`; `test` stays empty.
TrainTest load_benchmark_dataset(ExperimentOptions& options);

/// Trial `seed`'s split of `data`: benchmark_split (data/split.h), or validation_split with
/// options.validate, or table_split (data/table_split.h) for a table.
BenchmarkSplit draw_split(const TrainTest& data, const ExperimentOptions& options,
                          uint64_t seed);

/// The scorers an embedding method is scored by: o.scorers, or its default scorer when none
/// are given; a method named after its scorer (the classical detectors `lof` and `knn`: the
/// rows scored by that scorer) is scored by that one alone.
std::vector<std::string> scorers_of(const Method& method, const ExperimentOptions& o);

/// The test set's scores of a trained method, each under its name: for an embedding method
/// one per scorer of scorers_of(), for a scoring method its own.
std::vector<std::pair<std::string, Tensor>> test_scores(const Method& method,
                                                       const BenchmarkSplit& split,
                                                       const ExperimentOptions& o);

/// The scores of `data`'s images by an embedding method's scorers, as test_scores, each
/// scorer fitted on `train_features` (the method's embed_features of the normal training set).
std::vector<std::pair<std::string, Tensor>> embedding_scores(const Method& method,
                                                            const Tensor& train_features,
                                                            const ImageDataset& data,
                                                            const ExperimentOptions& o);

/// Scores of `test` features by `scorer` fitted on `train` features (scaled as the protocol
/// says: MinMax before lof and knn; nothing before cosine, or centring with `center`). Both
/// (N,F) / (M,F); returns (M,).
Tensor score_features(const std::string& scorer, const Tensor& train, const Tensor& test,
                      int64_t neighbors, bool center = false);

/// The name a scorer's results are recorded under, so the tables tell variants apart: the
/// scorer, then in brackets what differs from the defaults, e.g. "knn(k=2,flip)",
/// "cosine(centred,flip)"; plain "knn" / "cosine" / "lof" with the defaults. k is shown for
/// lof and knn when it is not 5, "centred" for cosine with o.center, "flip" with o.tta.
std::string scorer_label(const std::string& scorer, const ExperimentOptions& o);

}  // namespace kz
