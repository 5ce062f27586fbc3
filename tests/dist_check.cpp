// dist_check.cpp — a program that tests/test_dist.cpp runs under `mpirun -np N`: every rank
// calls dist/'s collective operations on inputs whose results are known in closed form and
// reports each mismatch; it exits 0 when every rank saw every result right.
//   allreduce_sum: x_r[i] = (r + 1)·(i mod 1021) + (i mod 7) summed over ranks r = 0 … S−1 is
//     (i mod 1021)·S(S+1)/2 + S·(i mod 7) — whole numbers below 2^24, so exact in float
//     whatever order the sum takes; lengths 0 to 10^7, odd ones among them; the same with
//     start_allreduce_sum (non-blocking) started before a blocking one.
//   broadcast: floats and a string from the last rank; gather: rank r sends r copies of
//     the letter 'a' + r (rank 0 an empty string), rank 0 gets them in rank order.
// `dist_check train` instead checks data-parallel training (anomaly/training.h), each rank
// against the same code in a group of one (one process on the whole batches of 12):
//   * sync_batch_norm on each rank's rows equals batch_norm on the whole batch (1e-5);
//   * the conv autoencoder (ae, 16×16, SGD) with --sync-bn: weights and running statistics
//     after 10 steps within 1e-5 relative (‖a − b‖ / ‖b‖ over the whole state) — and without
//     it they differ by more (per-rank statistics), so the comparison can tell;
//   * MobileNetV2 (l2softmax, 32×32) with --sync-bn: the same after 1 step. Not after 10:
//     that training is chaotic at this size — in one process, a learning rate changed by
//     1e-6 moves the weights by ~15 % after 10 steps (docs/decisions.md);
//   * without --sync-bn, 4 epochs of ae run and the last epoch's loss, the mean over the
//     ranks, is below the first's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "anomaly/method.h"
#include "autograd/functions.h"
#include "tensor/ops.h"
#include "dist/mpi.h"
#include "tests/synthetic_data.h"

namespace {

// ‖a − b‖ / ‖b‖ of the whole state (every tensor, as one vector): tensors whose value is
// zero but for rounding (a BN bias before another BN gets a gradient of ~1e-9) make a
// per-tensor ratio meaningless.
double relative_difference(const kz::StateDict& a, const kz::StateDict& b) {
  double diff = 0.0, norm = 1e-300;
  for (const auto& [name, tb] : b) {
    const std::vector<float> x = a.at(name).contiguous().to_vector();
    const std::vector<float> y = tb.contiguous().to_vector();
    for (size_t i = 0; i < y.size(); ++i) {
      const double d = static_cast<double>(x[i]) - y[i];
      diff += d * d;
      norm += static_cast<double>(y[i]) * y[i];
    }
  }
  return std::sqrt(diff / norm);
}

// A tiny method of `name` at `size`×`size`, global batch 12, plain SGD with momentum.
kz::MethodOptions tiny(const std::string& name, int64_t size, int64_t epochs) {
  kz::MethodOptions m;
  m.name = name;
  m.width = 0.25;
  m.latent_dim = 8;
  m.preprocess.height = m.preprocess.width = size;
  m.preprocess.scaling = kz::Scaling::unit;
  m.epochs = epochs;
  m.batch_size = 12;
  // SGD: Adam divides each gradient by its own running size, so gradients that are zero but
  // for rounding (a BN bias before another BN) move by ±lr whichever way rounding tips them.
  m.optimizer = "sgd";
  m.momentum = 0.9;
  m.lr = 0.01;
  return m;
}

// 8 reference classes × `per_class` and `normal` normal images (L2-Softmax trains on both,
// the autoencoders on the normal ones).
kz::BenchmarkSplit split(int64_t per_class, int64_t normal) {
  kz::TrainTest data{kz::test::synthetic(120, 1), kz::test::synthetic(20, 2)};
  return kz::benchmark_split(data, 3, 8, per_class, normal, 20, 5);
}

// sync_batch_norm on rows k·S + r of a batch (each rank) against batch_norm on the whole
// batch (every rank computes it): outputs, input gradients, the parameter gradients summed
// over the ranks, and the running statistics.
template <class Report>
void check_sync_batch_norm(kz::Communicator& comm, Report&& report) {
  using namespace kz;
  const int rank = comm.rank(), size = comm.size();
  Generator gen(17);
  const int64_t n = 12, c = 5;
  const Tensor x = Tensor::normal({n, c, 3, 4}, 0.5f, 2.0f, gen).to_channels_last();
  const Tensor dy = Tensor::normal({n, c, 3, 4}, 0.0f, 1.0f, gen);
  Variable xw(x.clone().to_channels_last(), true), ww(Tensor::full({c}, 1.5f), true),
      bw(Tensor::full({c}, 0.2f), true);
  Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c});
  const Variable yw = batch_norm(xw, ww, bw, rm, rv, true, 0.1f, 1e-5f);
  yw.backward(dy);
  std::vector<int64_t> rows;
  for (int64_t k = rank; k < n; k += size) rows.push_back(k);
  Variable xs(index_select0(x, rows).to_channels_last(), true), ws(Tensor::full({c}, 1.5f), true),
      bs(Tensor::full({c}, 0.2f), true);
  Tensor rms = Tensor::zeros({c}), rvs = Tensor::ones({c});
  const Variable ys = sync_batch_norm(xs, ws, bs, rms, rvs, 0.1f, 1e-5f,
                                      [&comm](std::span<float> v) { comm.allreduce_sum(v); });
  ys.backward(index_select0(dy, rows));
  std::vector<float> dw = ws.grad().to_vector(), db = bs.grad().to_vector();
  comm.allreduce_sum(dw);
  comm.allreduce_sum(db);
  const StateDict got{{"y", ys.data()}, {"dx", xs.grad()}, {"dw", Tensor::from_vector(dw, {c})},
                      {"db", Tensor::from_vector(db, {c})}, {"mean", rms}, {"var", rvs}};
  const StateDict want{{"y", index_select0(yw.data().contiguous(), rows)},
                       {"dx", index_select0(xw.grad().contiguous(), rows)},
                       {"dw", ww.grad()}, {"db", bw.grad()}, {"mean", rm}, {"var", rv}};
  const double worst = relative_difference(got, want);
  char what[160];
  std::snprintf(what, sizeof what, "sync_batch_norm on shards: batch norm of the whole batch "
                "within %.2g relative", worst);
  report(worst <= 1e-5, what);
}

// Method `o` trained data-parallel (sync_bn or not) against the same code in a group of one
// (one process on the whole batches); the worst relative difference of its state.
double against_one_process(kz::Communicator& comm, const kz::MethodOptions& o,
                           const kz::BenchmarkSplit& s, bool sync_bn) {
  kz::SingleCommunicator one;
  auto alone = kz::make_method(o);
  alone->set_data_parallel({&one, true, 4.0});
  alone->train(s, 3, nullptr);
  auto together = kz::make_method(o);
  together->set_data_parallel({&comm, sync_bn, 0.05});  // small buckets: several of them
  together->train(s, 3, nullptr);
  return relative_difference(together->state_dict(), alone->state_dict());
}

template <class Report>
void check_training(kz::Communicator& comm, Report&& report) {
  check_sync_batch_norm(comm, report);
  char what[200];
  // The conv autoencoder (BatchNorm2d throughout), 10 steps: 120 normal images.
  const kz::BenchmarkSplit normal120 = split(1, 120);
  for (const bool sync_bn : {true, false}) {
    const double worst = against_one_process(comm, tiny("ae", 16, 1), normal120, sync_bn);
    std::snprintf(what, sizeof what, "ae, %s: weights and statistics after 10 steps within "
                  "%.2g relative of one process", sync_bn ? "--sync-bn" : "per-rank BN", worst);
    report(sync_bn ? worst <= 1e-5 : worst > 1e-5, what);  // per-rank statistics must differ
  }
  // MobileNetV2 (L2-Softmax) with --sync-bn, one step: 12 images.
  const double worst = against_one_process(comm, tiny("l2softmax", 32, 1), split(1, 4), true);
  std::snprintf(what, sizeof what, "l2softmax (MobileNetV2), --sync-bn: weights and statistics "
                "after 1 step within %.2g relative of one process", worst);
  report(worst <= 1e-5, what);
  // Per-rank batch norm trains: the loss falls over 4 epochs of 10 steps.
  auto falling = kz::make_method(tiny("ae", 16, 4));
  falling->set_data_parallel({&comm, false, 4.0});
  std::vector<double> epoch_loss;
  falling->train(normal120, 3, [&](const kz::TrainProgress& p) {
    if (p.epoch_end) epoch_loss.push_back(p.loss);
  });
  std::vector<float> mean_loss(epoch_loss.begin(), epoch_loss.end());  // each rank's shards'
  comm.allreduce_sum(mean_loss);
  for (size_t e = 0; e < epoch_loss.size(); ++e) epoch_loss[e] = mean_loss[e] / comm.size();
  std::snprintf(what, sizeof what, "ae, per-rank BN: the loss falls (%.4f -> %.4f)",
                epoch_loss.empty() ? 0.0 : epoch_loss.front(),
                epoch_loss.empty() ? 0.0 : epoch_loss.back());
  report(epoch_loss.size() == 4 && epoch_loss.back() < epoch_loss.front(), what);
}

}  // namespace

int main(int argc, char** argv) {
  kz::MpiSession session(argc, argv);
  kz::Communicator& comm = session.world();
  const int rank = comm.rank(), size = comm.size();
  int failures = 0;
  auto report = [&](bool ok, const std::string& what) {
    if (!ok) ++failures;
    if (!ok || rank == 0) std::printf("rank %d: %s: %s\n", rank, what.c_str(), ok ? "ok" : "WRONG");
  };
  if (argc > 1 && std::string(argv[1]) == "train") {
    check_training(comm, report);
    std::printf("rank %d: %d failure(s)\n", rank, failures);
    return failures == 0 ? 0 : 1;
  }
  for (const size_t n : {0, 1, 2, 3, 7, 1000, 4097, 65537, 1000001, 10000000}) {
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i)
      x[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 1021) + static_cast<int>(i % 7));
    std::vector<float> y = x;  // the same sum, non-blocking, while the blocking one runs
    std::unique_ptr<kz::PendingSum> pending = comm.start_allreduce_sum(y);
    comm.allreduce_sum(x);
    pending->wait();
    size_t wrong = 0, wrong_started = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto expected = static_cast<float>(static_cast<int>(i % 1021) * size * (size + 1) / 2 +
                                               size * static_cast<int>(i % 7));
      wrong += x[i] != expected;
      wrong_started += y[i] != expected;
    }
    report(wrong == 0, "allreduce_sum n=" + std::to_string(n) + " (" + std::to_string(wrong) +
                           " wrong)");
    report(wrong_started == 0, "start_allreduce_sum n=" + std::to_string(n) + " (" +
                                   std::to_string(wrong_started) + " wrong)");
  }
  std::vector<float> b(1001, static_cast<float>(rank));
  comm.broadcast(b, size - 1);
  bool same = true;
  for (const float v : b) same = same && v == static_cast<float>(size - 1);
  report(same, "broadcast floats from the last rank");
  std::string text = rank == size - 1 ? std::string(100003, 'z') : "short";
  comm.broadcast(text, size - 1);
  report(text == std::string(100003, 'z'), "broadcast string from the last rank");
  const std::vector<std::string> all =
      comm.gather(std::string(static_cast<size_t>(rank), static_cast<char>('a' + rank)), 0);
  bool gathered = rank == 0 ? all.size() == static_cast<size_t>(size) : all.empty();
  for (size_t r = 0; gathered && r < all.size(); ++r)
    gathered = all[r] == std::string(r, static_cast<char>('a' + r));
  report(gathered, "gather to rank 0");
  comm.barrier();
  if (rank == 0) std::printf("size %d\n", size);
  std::printf("rank %d: %d failure(s)\n", rank, failures);
  return failures == 0 ? 0 : 1;
}
