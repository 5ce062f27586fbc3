// method.h — the anomaly-detection methods behind one interface: train on a benchmark
// split, embed images, and name the scorer that suits them.
//
// Shape letters: N images, F backbone feature dimension (1280·max(1, width)), R reference
// classes (8 in the benchmark), B batch size.
//
// Every method is a MobileNetV2 backbone (features only: images → pooled (N,F) features)
// plus what trains it:
//   doc        Deep One-Class (Perera & Patel 2018). A softmax head over the R reference
//              classes; descriptiveness l_D = cross-entropy of a reference batch,
//              compactness l_C of the head's outputs on a normal batch (losses/doc.h).
//              Either alternating updates per batch (the seed: a step on l_D, then a step on
//              λ·l_C) or one step on l_D + λ·l_C. Early layers may be frozen.
//   l2softmax  Classify reference + normal images (R+1 classes) through an L2-Softmax head.
//   arcface    The same through an ArcFace head.
//   frozen     No training at all: the backbone's features as they are (pretrained or
//              random). The baseline that shows what training adds.
// After training, embed() gives the pooled backbone features (N,F) in eval mode; the
// scorers (anomaly/scorers.h, anomaly/lof.h) turn them into anomaly scores.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "data/split.h"
#include "layers/mobilenet_v2.h"
#include "losses/margin_head.h"
#include "optim/optimizer.h"

namespace kz {

struct MethodOptions {
  std::string name = "arcface";  // doc | l2softmax | arcface | frozen
  // Backbone.
  double width = 0.5;
  std::string pretrained;        // safetensors path; empty = random init
  Preprocess preprocess;         // size, grey→RGB, pixel scaling
  Augment augment;               // training-batch augmentation
  // Training.
  int64_t epochs = 10;
  int64_t batch_size = 128;
  std::string optimizer = "adam";  // adam | sgd
  double lr = 1e-4;
  double weight_decay = 0.0;
  bool amsgrad = true;
  double momentum = 0.0;           // SGD
  // Heads and losses.
  float alpha = 15.0f;             // L2-Softmax
  float arcface_s = 30.0f, arcface_m = 0.05f;
  float doc_lambda = 0.1f;
  bool doc_alternate = true;       // the seed's alternating updates
  int64_t freeze_blocks = 0;       // features.0 … features.{freeze_blocks−1} frozen
  int threads = 0;                 // 0 = as configured
};

// Every setting above as one JSON object (results.json, checkpoint fingerprints).
nlohmann::json method_options_json(const MethodOptions& options);

// Checkpoints at every epoch boundary (anomaly/checkpoint.h). With resume and an existing
// file, train() continues from it: the same final weights as a run that never stopped.
struct CheckpointOptions {
  std::string path;     // empty: no checkpoints
  bool resume = false;  // continue from `path` when it exists (else start afresh)
};

// What train() reports as it goes (one call per batch and per epoch end).
struct TrainProgress {
  int64_t epoch = 0, epochs = 0, batch = 0, batches = 0;
  double loss = 0.0;           // running mean over the epoch so far
  double images_per_second = 0.0;
  double seconds = 0.0;        // since training started
  bool epoch_end = false;
};
using ProgressFn = std::function<void(const TrainProgress&)>;

class Method {
 public:
  virtual ~Method() = default;
  // Builds the backbone (random from `seed`, or the pretrained file) and trains on the
  // split's reference and normal training sets. A NaN or Inf in the loss or in a gradient
  // throws, naming the epoch, the batch and the likely cause; the last checkpoint stays.
  // The epoch-end progress call comes after that epoch's checkpoint is on disk.
  virtual void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) = 0;
  // Pooled backbone features (N,F) of a data set, eval mode, no gradients.
  Tensor embed(const ImageDataset& data) const;
  // The scorer this method was published with: "lof" for doc and l2softmax, "cosine" for
  // arcface and frozen.
  virtual std::string default_scorer() const = 0;
  const std::string& name() const { return options_.name; }
  MobileNetV2& backbone() const { return *backbone_; }
  // The classification head training used (null for frozen): over the R+1 classes
  // (reference then normal) for l2softmax and arcface, the R reference classes for doc.
  const std::shared_ptr<MarginHead>& head() const { return head_; }
  double train_seconds() const { return train_seconds_; }
  const MethodOptions& options() const { return options_; }
  // Installs trained networks (a model file being loaded) instead of training.
  void set_networks(std::shared_ptr<MobileNetV2> backbone, std::shared_ptr<MarginHead> head);
  void set_checkpoint(const CheckpointOptions& checkpoint) { checkpoint_ = checkpoint; }
  // Epochs the last train() took from a checkpoint instead of running them (0: none).
  int64_t resumed_epochs() const { return resumed_epochs_; }

 protected:
  explicit Method(const MethodOptions& options) : options_(options) {}
  void build_backbone(uint64_t seed);
  // The settings a checkpoint of this run must carry (method options, seed, data sizes).
  nlohmann::json fingerprint(uint64_t seed, const BenchmarkSplit& split) const;
  // Loads the checkpoint when resuming (checking fingerprint and data order) into the
  // networks and `opt`, positions `loader` at the next epoch; returns the epochs done.
  int64_t resume(Optimizer& opt, DataLoader& loader, const std::vector<uint64_t>& seeds,
                 const nlohmann::json& fingerprint);
  // Writes the checkpoint after `epochs_done` epochs (no-op without a path). Refuses to
  // save non-finite weights, so the last checkpoint is always a good one.
  void save_epoch(int64_t epochs_done, const Optimizer& opt, const DataLoader& loader,
                  const std::vector<uint64_t>& seeds, const nlohmann::json& fingerprint,
                  double seconds) const;
  MethodOptions options_;
  CheckpointOptions checkpoint_;
  int64_t resumed_epochs_ = 0;
  double resumed_seconds_ = 0.0;
  std::shared_ptr<MobileNetV2> backbone_;
  std::shared_ptr<MarginHead> head_;
  double train_seconds_ = 0.0;
};

// "doc", "l2softmax", "arcface" or "frozen"; anything else throws listing those.
std::unique_ptr<Method> make_method(const MethodOptions& options);
const std::vector<std::string>& method_names();

}  // namespace kz
