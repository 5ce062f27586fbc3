/// \file
/// training.h — what every method that trains shares: the optimizer it asks for, the data
/// loader settings, the divergence guard, the epoch loop with its progress and checkpoints,
/// and resuming from a checkpoint.
///
/// A method that trains derives from TrainedMethod and gives run_epochs() one function that
/// trains one batch; everything around the batch (timing, the running loss, the weight check,
/// the checkpoint, the progress calls) is here, once; so is data-parallel training over the
/// processes of a Communicator (start_parallel, shard, step): rank 0's initial weights
/// broadcast, each rank on its shard of every global batch, the gradients summed in buckets
/// while backward runs (dist/grad_sync.h), checkpoints written by rank 0.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "anomaly/method.h"
#include "autograd/variable.h"
#include "optim/adam.h"
#include "optim/optimizer.h"

namespace kz {

/// Adam (with o.amsgrad) or SGD (with o.momentum), both with o.weight_decay.
std::unique_ptr<Optimizer> make_optimizer(const MethodOptions& o, std::vector<Variable> params);

/// Shuffled batches of o.batch_size with o.augment, channels-last, seeded from (seed, 100 +
/// stream). Stream 0 is a method's main training set and the only one that prefetches (with
/// 2 or more threads), so --threads T means T compute threads plus at most one mostly idle
/// batch-building thread.
LoaderOptions loader_options(const MethodOptions& o, uint64_t seed, uint64_t stream);
/// loader_options for the set `data`, leaving out a last batch of one image: batch
/// normalisation cannot train on one value per channel (PyTorch refuses it too).
LoaderOptions loader_options(const MethodOptions& o, const ImageDataset& data, uint64_t seed,
                             uint64_t stream);

/// The side of the square images `method` trains on: the preprocessing's height, or the
/// data's own. Throws unless the preprocessing gives square images.
int64_t square_side(const MethodOptions& o, const ImageDataset& data, const std::string& method);

/// The divergence guard: a NaN or Inf in the loss, a gradient or the weights stops training
/// with the epoch, the batch, the likely cause and what is kept.
struct Guard {
  const MethodOptions& options;        ///< the method's, for the likely cause
  const CheckpointOptions& checkpoint;  ///< what is kept
  int64_t saved_epochs = 0;  ///< of the last checkpoint written or loaded (0: none)

  /// Throws: `what` happened at (epoch, batch), the likely cause, what is kept.
  [[noreturn]] void stop(const std::string& what, int64_t epoch, int64_t batch,
                         const Optimizer& opt) const;
  /// Stops unless the loss value is finite.
  void loss(double value, int64_t epoch, int64_t batch, const Optimizer& opt) const;
  /// Every parameter's gradient (gradients = true) or value of the networks.
  void parameters(const std::vector<NamedNetwork>& networks, bool gradients, int64_t epoch,
                  int64_t batch, const Optimizer& opt) const;
};

/// One optimisation step on `loss`, refusing non-finite gradients before they reach the
/// weights; with max_grad_norm > 0 the total gradient norm of the optimizer's parameters is
/// clipped to it first (optim/clip_grad.h).
void optimizer_step(Optimizer& opt, const Variable& loss, const Guard& guard,
                    const std::vector<NamedNetwork>& networks, int64_t epoch, int64_t batch,
                    double max_grad_norm = 0.0);

/// What one trained batch reports: its loss and how many images it took.
struct BatchResult {
  double loss;     ///< the batch's loss
  int64_t images;  ///< images in the batch
};

/// A method that trains: the epoch loop and the checkpoints every such method shares.
class TrainedMethod : public Method {
 protected:
  using Method::Method;
  using Clock = std::chrono::steady_clock;  ///< for train_seconds

  /// The settings a checkpoint of this run must carry (method options, seed, data sizes).
  nlohmann::json fingerprint(uint64_t seed, const BenchmarkSplit& split) const;
  /// Loads the checkpoint when resuming (checking fingerprint and data order) into the
  /// networks and `opt`, positions `loader` at the next epoch; returns the epochs done.
  int64_t resume(Optimizer& opt, DataLoader& loader, const std::vector<uint64_t>& seeds,
                 const nlohmann::json& fingerprint);
  /// Writes the checkpoint after `epochs_done` epochs (no-op without a path). Refuses to
  /// save non-finite weights, so the last checkpoint is always a good one.
  void save_epoch(int64_t epochs_done, const Optimizer& opt, const DataLoader& loader,
                  const std::vector<uint64_t>& seeds, const nlohmann::json& fingerprint,
                  double seconds) const;

  /// Epochs from guard.saved_epochs (0, or those resumed) to the last: train_batch(e, b)
  /// trains batch b of epoch e and returns what it did, or nothing when the epoch's batches
  /// of `loader` are used up. Progress after each batch; after each epoch the weights are
  /// checked, the checkpoint written (positions of `loader`, `seeds`) and progress reported.
  /// The epoch hook (if set) before the first epoch of a run from the start and after every
  /// epoch; the hook's time is not training time.
  template <class TrainBatch>
  void run_epochs(Guard& guard, Optimizer& opt, DataLoader& loader,
                  const std::vector<uint64_t>& seeds, const nlohmann::json& fp,
                  const ProgressFn& progress, TrainBatch&& train_batch);

  /// The optimiser of a method that trains two networks in turn (adae's two autoencoders,
  /// anogan's generator and discriminator): one Adam (the options' lr, weight decay and
  /// AMSGrad; β1 = `beta1`) with the parameter groups "generator" (0) and "discriminator"
  /// (1). Adam's state is per parameter, so these are the papers' two optimisers, and one
  /// checkpoint holds both. Throws unless the options ask for Adam and training runs in one
  /// process (the two alternating steps have no data-parallel form here).
  std::unique_ptr<Adam> two_network_adam(std::vector<Variable> generator,
                                         std::vector<Variable> discriminator,
                                         double beta1) const;

  double resumed_seconds_ = 0.0;  ///< training time of the resumed epochs

  // --- data-parallel training (set_data_parallel; nothing changes without it) -------------
  /// Whether this train() runs data-parallel (a group of one too: the same code, where
  /// every sum is the identity).
  bool parallel() const { return parallel_.comm != nullptr; }
  /// Call once the networks are built: rank 0's parameters and buffers replace every
  /// rank's, --sync-bn's statistics sums are set on every BatchNorm2d, and the gradient
  /// exchange of `params` (the optimizer's) is laid out. No-op when !parallel().
  void start_parallel(const std::vector<Variable>& params);
  /// `o` serving this rank's shard of every batch (as it is when !parallel()).
  LoaderOptions shard(LoaderOptions o) const;
  /// optimizer_step for the batch `batch`: data-parallel, the backward of this rank's loss
  /// weighted by its share of the global batch (images / global_size), the gradients summed
  /// over the ranks before the guard and the step; otherwise optimizer_step itself.
  void step(Optimizer& opt, const Variable& loss, const Batch& batch, const Guard& guard,
            const std::vector<NamedNetwork>& networks, int64_t epoch, int64_t batch_index);
  /// After the last epoch: without --sync-bn rank 0's batch-norm running statistics replace
  /// the others' (every rank then holds the same model); the exchange's timing is kept.
  void finish_parallel();

 private:
  std::unique_ptr<GradSync> grad_sync_;
};

// --- implementation of the template -------------------------------------------------------

namespace detail {
/// Calls the hook with `epochs_done`, then puts each network back in the training mode it had.
void call_epoch_hook(const EpochHook& hook, int64_t epochs_done,
                     const std::vector<NamedNetwork>& networks);
/// Running loss and speed of the epoch in progress.
struct EpochMeter {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), epoch_start = start;
  int64_t images = 0, batches = 0;
  double loss_sum = 0.0;
  void begin_epoch();
  TrainProgress add(double loss, int64_t n, int64_t epoch, int64_t epochs, int64_t b, int64_t nb);
  double seconds() const;
};
}  // namespace detail

template <class TrainBatch>
void TrainedMethod::run_epochs(Guard& guard, Optimizer& opt, DataLoader& loader,
                               const std::vector<uint64_t>& seeds, const nlohmann::json& fp,
                               const ProgressFn& progress, TrainBatch&& train_batch) {
  const std::vector<NamedNetwork> nets = networks();
  double hook_seconds = 0.0;  // not training time
  auto hook = [&](int64_t epochs_done) {
    if (!epoch_hook_) return;
    const auto start = Clock::now();
    detail::call_epoch_hook(epoch_hook_, epochs_done, nets);
    hook_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  };
  hook(guard.saved_epochs);  // the untrained network, or the epoch a checkpoint resumed after
  hook_seconds = 0.0;        // before the meter starts
  detail::EpochMeter meter;
  for (int64_t e = guard.saved_epochs; e < options_.epochs; ++e) {
    meter.begin_epoch();
    const int64_t nb = loader.num_batches();
    TrainProgress last;
    for (int64_t b = 0;; ++b) {
      const std::optional<BatchResult> r = train_batch(e, b);
      if (!r) break;
      last = meter.add(r->loss, r->images, e, options_.epochs, b, nb);
      if (progress && !last.epoch_end) progress(last);
    }
    guard.parameters(nets, false, e, nb - 1, opt);
    save_epoch(e + 1, opt, loader, seeds, fp, resumed_seconds_ + meter.seconds() - hook_seconds);
    guard.saved_epochs = e + 1;
    if (progress) progress(last);
    hook(e + 1);
  }
  train_seconds_ = resumed_seconds_ + meter.seconds() - hook_seconds;
  finish_parallel();
}

}  // namespace kz
