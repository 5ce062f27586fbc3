/// \file
/// method.h — the anomaly-detection methods behind one interface: train on a benchmark
/// split, then either embed images (and let a scorer turn the features into anomaly scores)
/// or score them by itself; either kind may also show where an image is anomalous.
///
/// Shape letters: N images, C channels, H×W the preprocessed image size, F feature dimension.
///
/// Two kinds (DESIGN.md §12):
/// \code{.unparsed}
///   embedding  embed() gives (N,F) features; the scorers (anomaly/scorers.h, anomaly/lof.h:
///              LOF, cosine, k-NN) are fitted on the normal training features and score the
///              test features. default_scorer() names the one the method was published with.
///   scoring    score() gives one (N) vector of anomaly scores per name in score_names()
///              ("mse", "elbo", …), higher = more anomalous; no scorer is involved.
/// \endcode
/// Either may give anomaly maps: maps() → (N,H,W), higher = more anomalous, and, for the
/// reconstruction methods, the reconstructed images the maps compare against.
///
/// The methods themselves live one per file in anomaly/methods/ (each file's header names
/// its paper, loss and score), and anomaly/methods/registry.cpp lists them in one table.
/// Networks are saved and loaded through networks(): checkpoints and model.kz store every
/// network's state_dict under "<network>.<parameter>".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "data/split.h"
#include "dist/grad_sync.h"
#include "layers/module.h"

namespace kz {

/// Every method's settings in one flat struct; each method reads the fields it needs (its
/// file says which) and the presets (anomaly/experiment.h) fill them.
struct MethodOptions {
  std::string name = "arcface";  ///< a name of method_names()
  // Network.
  double width = 0.5;            ///< MobileNetV2 width multiplier
  std::string pretrained;        ///< safetensors path; empty = random init
  int64_t latent_dim = 128;      ///< the autoencoders' bottleneck d
  Preprocess preprocess;         ///< size, grey→RGB, pixel scaling
  Augment augment;               ///< training-batch augmentation
  // Training.
  int64_t epochs = 10;             ///< passes over the training set
  int64_t batch_size = 128;        ///< images per step
  std::string optimizer = "adam";  ///< adam | sgd
  double lr = 1e-4;                ///< learning rate
  double weight_decay = 0.0;       ///< L2, as the optimizers' option
  bool amsgrad = true;             ///< Adam's AMSGrad variant
  double momentum = 0.0;           ///< SGD
  // Heads and losses (doubles, so that settings print as the user gave them).
  double alpha = 15.0;             ///< L2-Softmax
  /// ArcFace's scale s and margin m (radians)
  ///@{
  double arcface_s = 30.0, arcface_m = 0.05;
  ///@}
  double doc_lambda = 0.1;         ///< DOC's λ, the weight of compactness
  bool doc_alternate = true;       ///< the seed's alternating updates
  int64_t freeze_blocks = 0;       ///< features.0 … features.{freeze_blocks−1} frozen
  int64_t vae_samples = 10;        ///< L, samples of z for the VAE's reconstruction probability
  int64_t iforest_trees = 100;     ///< Isolation Forest's T, trees
  int64_t iforest_samples = 256;   ///< Isolation Forest's ψ, rows per tree (before clipping to N)
  std::vector<int64_t> mlp_widths{64, 64};  ///< a table's MLP backbone: its stages' widths
  double max_grad_norm = 0.0;      ///< clip the total gradient norm to this (0 = off; panda)
  double panda_lambda = 1e4;       ///< λ of PANDA's pull toward the pretrained weights
  bool panda_fisher = false;       ///< PANDA's pull weighted by a diagonal Fisher (else L2-SP)
  double msc_tau = 0.25;           ///< the Mean-Shifted Contrastive loss's temperature τ
  int64_t goad_maps = 256;         ///< goad on a table: M, its random affine maps
  int64_t goad_dims = 32;          ///< goad on a table: d, the dimension each map gives
  int threads = 0;                 ///< 0 = as configured
  /// twin: the reference classes as further classes of its head (--with-reference)
  bool with_reference = false;
  int64_t anogan_steps = 500;      ///< AnoGAN's Γ, gradient steps of the latent search per image
  double anogan_lambda = 0.1;      ///< AnoGAN's λ, the weight of the discrimination loss
};

/// Every setting above as one JSON object (results.json, checkpoint fingerprints, model.kz)
/// and back; a missing key keeps its default, a key of the wrong type throws naming it.
///@{
nlohmann::json method_options_json(const MethodOptions& options);
MethodOptions method_options_from_json(const nlohmann::json& json);
///@}

/// Checkpoints at every epoch boundary (anomaly/checkpoint.h). With resume and an existing
/// file, train() continues from it: the same final weights as a run that never stopped.
struct CheckpointOptions {
  std::string path;     ///< empty: no checkpoints
  bool resume = false;  ///< continue from `path` when it exists (else start afresh)
};

/// Data-parallel training (anomaly/training.h): the processes of `comm` train one model
/// together, each on its shard of every batch, the gradients summed over them
/// (dist/grad_sync.h). Every process gets the same trained networks.
struct DataParallelOptions {
  Communicator* comm = nullptr;  ///< nullptr (or a group of one): this process alone
  /// Batch norm with the statistics of the whole global batch (else each process's own, as
  /// PyTorch DDP; rank 0's running statistics are kept at the end).
  bool sync_bn = false;
  double bucket_mb = 4.0;  ///< gradient bucket size in MiB; 0: one bucket, after backward
};

/// What train() reports as it goes (one call per batch and per epoch end).
struct TrainProgress {
  /// The epoch (from 0) of `epochs`, the batch (from 0) of `batches`
  ///@{
  int64_t epoch = 0, epochs = 0, batch = 0, batches = 0;
  ///@}
  double loss = 0.0;           ///< running mean over the epoch so far
  double images_per_second = 0.0;  ///< training throughput so far
  double seconds = 0.0;        ///< since training started
  bool epoch_end = false;      ///< the call at the end of an epoch (after its checkpoint)
};
/// Receives train()'s progress.
using ProgressFn = std::function<void(const TrainProgress&)>;
/// Called by train() with the number of epochs done: 0 before the first epoch (the untrained
/// network; after a resume from a checkpoint, the epoch it resumed after) and after every
/// epoch, when the epoch's checkpoint is on disk. The networks may be
/// used (embed(), state_dict()): their training modes are restored after the call.
using EpochHook = std::function<void(int64_t epochs_done)>;

/// embedding: embed() features for a scorer; scoring: score() gives the scores itself.
enum class MethodKind { embedding, scoring };
const char* to_string(MethodKind kind);  ///< "embedding" | "scoring"

/// Where an image is anomalous, for the images of a data set in order.
struct AnomalyMaps {
  Tensor maps;            ///< (N,H,W), higher = more anomalous
  Tensor reconstruction;  ///< (N,C,H,W) in the network's pixel scaling, or undefined
};

/// A network of a method with the name its state is saved under.
using NamedNetwork = std::pair<std::string, Module*>;

/// An anomaly-detection method (see the file's description); make_method builds one.
class Method {
 public:
  virtual ~Method() = default;  ///< methods are held by unique_ptr
  virtual MethodKind kind() const = 0;  ///< embedding or scoring
  /// Builds the networks (random from `seed`, or from pretrained weights) and trains on the
  /// split's normal training set (and, where the method uses one, its reference set). A NaN
  /// or Inf in the loss or in a gradient throws, naming the epoch, the batch and the likely
  /// cause; the last checkpoint stays. The epoch-end progress call comes after that epoch's
  /// checkpoint is on disk.
  virtual void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) = 0;

  // --- embedding methods (the others throw) ---
  /// Features (N,F) of a data set, eval mode, no gradients.
  virtual Tensor embed(const ImageDataset& data) const;
  /// F, the dimension of its features.
  virtual int64_t feature_dim() const;
  /// The scorer this method was published with ("lof", "cosine", "knn").
  virtual std::string default_scorer() const;

  // --- scoring methods (the others throw) ---
  /// The names of the scores it gives; the first is the default.
  virtual std::vector<std::string> score_names() const;
  /// One (N) score vector per name of score_names(), in that order; eval mode, no gradients,
  /// the same values on every call.
  virtual std::vector<Tensor> score(const ImageDataset& data) const;

  // --- maps (either kind) ---
  virtual bool gives_maps() const { return false; }  ///< whether maps() works
  /// The maps of a data set's images (N,H,W); eval mode, no gradients. Throws unless
  /// gives_maps().
  virtual AnomalyMaps maps(const ImageDataset& data) const;

  // --- classes: an embedding method with a classification head predicts them ---
  /// The head's class names for a split (empty: no head).
  virtual std::vector<std::string> head_classes(const BenchmarkSplit& split) const;
  /// Logits (N, head classes) of features (N,F) from embed(), or undefined without a head.
  virtual Tensor class_logits(const Tensor& features) const;

  // --- the networks, for checkpoints and model files ---
  /// Every trained network under its name ("backbone", "head", "autoencoder"); empty before
  /// train() or build_untrained().
  virtual std::vector<NamedNetwork> networks() const = 0;
  /// What, beyond options(), it takes to build networks of the trained shapes (a head's
  /// class count, a pretrained backbone's batch-norm epsilon): saved in model.kz.
  virtual nlohmann::json architecture() const { return nlohmann::json::object(); }
  /// Builds untrained networks from an architecture() (loading a model file); the caller
  /// then loads their state with load_state_dict().
  virtual void build_untrained(const nlohmann::json& architecture) = 0;
  /// All networks' states as "<network>.<name>" (and back: every network's keys must be
  /// there, and no others).
  ///@{
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);
  ///@}

  const std::string& name() const { return options_.name; }  ///< options().name
  const MethodOptions& options() const { return options_; }  ///< as constructed
  double train_seconds() const { return train_seconds_; }    ///< wall time of the last train()
  /// Checkpoints for the next train() (none by default).
  void set_checkpoint(const CheckpointOptions& checkpoint) { checkpoint_ = checkpoint; }
  /// Data-parallel training for the next train() (none by default).
  void set_data_parallel(const DataParallelOptions& parallel) { parallel_ = parallel; }
  /// Where the gradient exchange of the last data-parallel train() spent its time.
  const GradSyncTiming& sync_timing() const { return sync_timing_; }
  /// Epochs the last train() took from a checkpoint instead of running them (0: none).
  int64_t resumed_epochs() const { return resumed_epochs_; }
  /// A hook for the next train()s (none by default); methods that do not train never call it.
  void set_epoch_hook(EpochHook hook) { epoch_hook_ = std::move(hook); }
  /// Warnings about the last train() that the user must see (a GAN's mode collapse, a
  /// discriminator that wins: anomaly/methods/anogan.cpp); empty when nothing went wrong.
  virtual std::vector<std::string> training_warnings() const { return {}; }
  /// Images the last train() drew after each epoch, (epochs done, (n,C,H,W) in [0, 1]), for
  /// the report (a GAN's samples); empty for most methods.
  virtual std::vector<std::pair<int64_t, Tensor>> training_samples() const { return {}; }

 protected:
  explicit Method(const MethodOptions& options) : options_(options) {}  ///< keeps options
  /// Throws "[method] NAME is a KIND method: it has no WHAT".
  [[noreturn]] void not_given(const std::string& what) const;
  MethodOptions options_;         ///< options()
  CheckpointOptions checkpoint_;  ///< set_checkpoint()'s
  DataParallelOptions parallel_;  ///< set_data_parallel()'s
  GradSyncTiming sync_timing_;    ///< sync_timing(); train() sets it
  int64_t resumed_epochs_ = 0;    ///< resumed_epochs(); train() sets it
  double train_seconds_ = 0.0;    ///< train_seconds(); train() sets it
  EpochHook epoch_hook_;          ///< set_epoch_hook()'s
};

/// Test-time augmentation of an embedding method's features (the scorers see these):
/// "none" gives f(x), method.embed(data) as it is; "flip" gives (f(x) + f(flip x)) / 2, the
/// mean of the features of each image and of its mirror image (flip_horizontal,
/// data/dataset.h), as DN2 and PANDA do. Anything else, or a scoring method, is a kz::Error
/// naming it. data gives (N,F).
Tensor embed_features(const Method& method, const ImageDataset& data, const std::string& tta);
/// Throws unless tta is "none" or "flip"; `where` starts the message ("--tta" for the CLI).
void check_tta(const std::string& tta, const std::string& where);

/// One row of the method table (anomaly/methods/registry.cpp).
struct MethodInfo {
  std::string name;     ///< what --methods takes
  MethodKind kind;      ///< embedding or scoring
  bool uses_reference;  ///< trains on the reference classes too (else normal images alone)
  std::string summary;  ///< one line for --help and the docs
  std::unique_ptr<Method> (*make)(const MethodOptions& options);  ///< builds the method
};
const std::vector<MethodInfo>& method_table();  ///< every method, in the table's order
/// The table's entry for `name`; anything else throws listing the names.
const MethodInfo& method_info(const std::string& name);
/// The method options.name names, built with `options`; an unknown name throws listing them.
std::unique_ptr<Method> make_method(const MethodOptions& options);
std::vector<std::string> method_names();  ///< the table's names, in order
/// Adds a method defined outside kizuki's tree (examples/out-of-tree/) after the built-in
/// ones, so that method_info(), make_method(), run_benchmark() and model files take its name
/// as any other. Refuses an empty name, a name with characters other than letters, digits,
/// '-' and '_' (names become file names and comma lists), a name already in the table, and
/// a missing make function. Register before the runs that use it, from one thread: a
/// registration may move the table, so references from method_info() last until the next.
void register_method(MethodInfo info);

}  // namespace kz
