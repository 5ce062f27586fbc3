/// \file
/// grad_sync.h — the gradient exchange of data-parallel training: after each rank's backward
/// on its shard of the global batch, every parameter's gradient becomes the sum over the
/// ranks (the loss of each rank weighted by its share of the global batch, so the sum is the
/// global batch's gradient: anomaly/training.h).
///
/// As PyTorch DDP and Horovod: the parameters are laid out, in reverse order (roughly the
/// order backward finishes them), in flat buckets of about `bucket_bytes`; a hook of the
/// backward engine (autograd/variable.h GradReadyObserver) copies each gradient into its
/// bucket once it is final, and a full bucket starts a non-blocking allreduce
/// (Communicator::start_allreduce_sum) while backward goes on with the earlier layers. After
/// backward the remaining buckets start, all are waited for, and the sums are copied back
/// into the gradients — before the optimizer step. Open MPI moves a non-blocking collective
/// only inside MPI calls (kizuki's MPI is MPI_THREAD_FUNNELED, no progress thread), so each
/// hook also tests the buckets in flight. With one process (SingleCommunicator) every sum is
/// the identity and the whole exchange a copy.
///
/// Every rank must hold the same parameters in the same order and run the same graph, so
/// that the buckets start in the same order everywhere (MPI's rule for collectives).
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"
#include "dist/communicator.h"

namespace kz {

/// Where time went in the exchanges so far (seconds, summed over the steps).
struct GradSyncTiming {
  int64_t steps = 0;           ///< backward() calls
  double backward = 0.0;       ///< backward itself, hooks included (buckets started inside)
  double wait = 0.0;           ///< after backward: until every bucket's sum had arrived
  double hooks = 0.0;          ///< in backward's hooks: copies into buckets, starting and moving sums
  int64_t buckets_early = 0;   ///< buckets started while other gradients were still to come
  int64_t buckets = 0;         ///< buckets exchanged
};

/// The gradient exchange of one set of parameters over `comm` (see the file's description).
class GradSync final : private GradReadyObserver {
 public:
  /// `params` (those that require grad, the same on every rank) in buckets of about
  /// `bucket_bytes` (at least one parameter each; 0 = one bucket of all, which starts only
  /// once backward is over: no overlap). `comm` must outlive this.
  GradSync(Communicator& comm, std::vector<Variable> params, size_t bucket_bytes);
  ~GradSync() override;
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  /// loss.backward(seed) (seed: loss's shape, all `scale`) with the exchange: on return
  /// every parameter's grad is the sum over the ranks of their gradients (undefined where
  /// the graph gave it none, on every rank alike).
  void backward(const Variable& loss, float scale);

  size_t num_buckets() const { return buckets_.size(); }  ///< buckets of the layout
  const GradSyncTiming& timing() const { return timing_; }  ///< since construction

 private:
  struct Slot {
    Variable param;
    size_t offset = 0;   // in its bucket's buffer
    bool ready = false;  // copied in this step
    bool had_grad = false;
  };
  struct Bucket {
    std::vector<size_t> slots;  // indices into slots_
    std::vector<float> buffer;
    size_t waiting = 0;  // slots not ready yet in this step
    std::unique_ptr<PendingSum> pending;
  };
  void ready(VariableImpl& leaf) override;
  void copy_in(Slot& s, std::span<float> buffer);
  void start(Bucket& b);

  Communicator& comm_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const VariableImpl*, std::pair<size_t, size_t>> where_;  // bucket, slot
  size_t ready_count_ = 0;  // slots ready in this step
  GradSyncTiming timing_;
};

}  // namespace kz
