/// \file
/// communicator.h — a group of processes working on one job, and the few things they say to
/// each other: who am I (rank) among how many (size), broadcast, allreduce (element-wise sum of
/// float buffers), gather, barrier. The anomaly runner spreads its (trial × method) units over
/// the ranks with it; data-parallel training allreduces gradients with it (dist/grad_sync.h).
///
/// Two implementations: SingleCommunicator (size 1, below: every operation is the identity)
/// and, when kizuki is built with MPI, one over MPI_COMM_WORLD (dist/mpi.h makes it). A run
/// without mpirun goes through the same code with size 1. Only anomaly/ and apps/ use this
/// folder; tensor/ … data/ never know that there is more than one process.
///
/// Rules every implementation keeps (MPI's): each operation is collective — every rank of the
/// group calls it, in the same order, with the same root and (allreduce) the same length;
/// one rank that stops calling leaves the others waiting, so a rank that fails does not
/// just leave: the runner lets every rank know (see GroupError) or, failing that, abort() ends
/// them all.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace kz {

/// A non-blocking allreduce in flight (Communicator::start_allreduce_sum): its buffer must
/// stay alive and untouched until wait() returns. Destroying it waits.
class PendingSum {
 public:
  virtual ~PendingSum() = default;
  /// Lets the transfer progress (MPI moves non-blocking collectives only inside MPI calls);
  /// true once it is complete.
  virtual bool test() = 0;
  virtual void wait() = 0;  ///< returns once the buffer holds the sum
};

/// A group of processes (see the file's description); SingleCommunicator is the group of one.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  ///< 0 … size-1
  virtual int size() const = 0;  ///< how many processes work together (1 without mpirun)
  /// "single process", or "MPI (Open MPI v4.1.4, …)": for logs and results.json.
  virtual std::string describe() const = 0;

  /// Every rank's `data` becomes the element-wise sum over the ranks (same length everywhere;
  /// any length, 0 included). The sum is taken in the same order on every rank, so all
  /// ranks hold the same bits afterwards.
  virtual void allreduce_sum(std::span<float> data) = 0;
  /// allreduce_sum without waiting for it (MPI_Iallreduce): the sum is in `data` once the
  /// returned PendingSum's wait() returns. Collective like the others: every rank starts
  /// its non-blocking sums in the same order, and among its other collectives in that order.
  virtual std::unique_ptr<PendingSum> start_allreduce_sum(std::span<float> data) = 0;
  /// `data` of rank `root` replaces `data` on every rank (same length everywhere).
  virtual void broadcast(std::span<float> data, int root) = 0;
  /// `bytes` of rank `root` replaces `bytes` on every rank (the lengths need not match).
  virtual void broadcast(std::string& bytes, int root) = 0;
  /// On `root`: every rank's `bytes`, in rank order (lengths may differ); elsewhere: empty.
  virtual std::vector<std::string> gather(const std::string& bytes, int root) = 0;
  virtual void barrier() = 0;  ///< returns once every rank has called it
  /// Ends every process of the group with exit code `code` — the last resort when one rank
  /// fails where the others may be waiting for it. Never returns.
  [[noreturn]] virtual void abort(int code) = 0;
};

/// The group of one process: rank 0, size 1.
class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "single process"; }
  void allreduce_sum(std::span<float>) override {}
  std::unique_ptr<PendingSum> start_allreduce_sum(std::span<float>) override;
  void broadcast(std::span<float>, int root) override;
  void broadcast(std::string&, int root) override;
  std::vector<std::string> gather(const std::string& bytes, int root) override;
  void barrier() override {}
  [[noreturn]] void abort(int code) override;
};

/// An error every rank of the group raised together, after agreeing on it through the
/// communicator (e.g. "rank 1 of 2 failed on trial 2, method doc: …"): no rank waits for
/// another, so each can end normally; the program prints it once (rank 0).
struct GroupError : Error {
  using Error::Error;
};

/// Agreement on failure: every rank passes its own error message ("" when it is fine); when
/// any is non-empty, every rank throws the same GroupError: the non-empty messages in rank
/// order, joined by "; " (each should name its rank). With size 1, nothing is thrown here: the caller rethrows
/// its own error unchanged.
void raise_if_any_failed(Communicator& comm, const std::string& my_error);

}  ///< namespace kz
