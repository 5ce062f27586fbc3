// test_dist.cpp — dist/ (processes working together) and `kizuki benchmark` spread over
// processes by mpirun, on this machine (loopback, oversubscribed):
//   * the group of one process: every operation is the identity, bad roots are refused;
//   * allreduce (sums of known vectors, lengths 0 to 10^7, odd ones; blocking and not),
//     broadcast and gather under mpirun -np 2 and -np 3 (tests/dist_check.cpp checks them);
//   * synchronised batch norm over a group of one is batch norm; a loader's shards are the
//     batch's images k·S + r; data-parallel training in a group of one is plain training,
//     bit for bit; under mpirun -np 2 and 3, --sync-bn training equals one process's within
//     1e-5 and per-rank batch norm trains (tests/dist_check.cpp train);
//   * `mpirun -np 2` and `-np 3 kizuki benchmark` give the AUCs and ROC curves of one
//     process bit for bit, in the same order, and leave no per-rank records behind;
//   * a rank that fails on a unit (a damaged checkpoint) ends the run with an error naming
//     the rank and the unit, exit code non-zero, and the finished units in results.json;
//     a rank killed with SIGKILL ends the run (mpirun names the rank, the rank's last line
//     the unit) and keeps its finished units in ranks/rank<r>.json; --resume with any
//     number of processes then finishes the run with the same AUCs.
// The MPI cases skip with a message in a build without MPI or without mpirun.
// KZ_KIZUKI is the built `kizuki` program, KZ_DIST_CHECK tests/dist_check (tests/meson.build).
#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "anomaly/method.h"
#include "anomaly/report.h"
#include "autograd/functions.h"
#include "dist/communicator.h"
#include "dist/mpi.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"
#include "tests/shell.h"

extern char** environ;

using namespace kz;
namespace fs = std::filesystem;

namespace {

using test::Ran;
using test::shell;

// Why the MPI cases cannot run here, or "" when they can.
std::string mpi_missing() {
  if (!mpi_built()) return "kizuki was built without MPI (meson -Dmpi, libopenmpi-dev)";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) return "mpirun is not installed";
  return "";
}

// mpirun on this machine with np processes, more than the cores if need be, as root in a
// container too, each process free to use any core; one thread per process. Under
// AddressSanitizer (scripts/sanitize.sh) the processes skip the leak check: Open MPI leaves
// its own allocations behind at exit, many in plug-ins it has unloaded (no module name to
// suppress them by); one-process runs of the same code keep the check.
std::string mpirun(int np) {
  return "OMP_NUM_THREADS=1 ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" mpirun "
         "--oversubscribe --allow-run-as-root --bind-to none -np " + std::to_string(np) + " ";
}

// A tiny benchmark on Fashion-MNIST (as tests/test_reliability.cpp's): 2 trials of DOC and
// L2-Softmax, 3 epochs, one thread: 4 units.
std::string tiny_benchmark(const fs::path& out) {
  return std::string(KZ_KIZUKI) +
         " benchmark --preset quick --methods doc,l2softmax --trials 2 --epochs 3 --width 0.25"
         " --image-size 16 --batch 16 --reference-per-class 8 --normal-train 24 --test-each 16"
         " --threads 1 --out '" + out.string() + "'";
}

bool have_fashion_mnist() { return fs::exists("/usr/share/datasets/fashion-mnist"); }

// The units of `got` equal those of `expected` with the same (trial, method), bit for bit.
void check_same_units(const BenchmarkResults& got, const BenchmarkResults& expected) {
  for (const TrialResult& g : got.trials) {
    CAPTURE(g.trial);
    CAPTURE(g.method);
    bool found = false;
    for (const TrialResult& e : expected.trials)
      if (e.trial == g.trial && e.method == g.method && e.scorer == g.scorer) {
        found = true;
        CHECK(g.auc == e.auc);
        CHECK(g.roc.fpr == e.roc.fpr);
        CHECK(g.roc.tpr == e.roc.tpr);
      }
    CHECK(found);
  }
}

// Equal to `expected` in the same order, bit for bit.
void check_same_run(const BenchmarkResults& got, const BenchmarkResults& expected) {
  REQUIRE(got.trials.size() == expected.trials.size());
  for (size_t i = 0; i < got.trials.size(); ++i) {
    CAPTURE(i);
    CHECK(got.trials[i].trial == expected.trials[i].trial);
    CHECK(got.trials[i].method == expected.trials[i].method);
  }
  check_same_units(got, expected);
}

// The whole text of a file; "" when it cannot be read.
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The process id of MPI rank `rank` among the processes whose command line holds
// `marker`, or -1: mpirun gives each rank OMPI_COMM_WORLD_RANK in its environment.
pid_t find_rank(int rank, const std::string& marker) {
  const std::string wanted = std::string(1, '\0') + "OMPI_COMM_WORLD_RANK=" +
                             std::to_string(rank) + std::string(1, '\0');
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (slurp(e.path() / "cmdline").find(marker) == std::string::npos) continue;
    if (('\0' + slurp(e.path() / "environ")).find(wanted) != std::string::npos)
      return static_cast<pid_t>(std::stoi(name));
  }
  return -1;
}

}  // namespace

TEST_CASE("dist: the group of one process leaves data as it is and refuses other roots") {
  SingleCommunicator one;
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  std::vector<float> x{1.5f, -2.0f, 3.25f};
  one.allreduce_sum(x);
  CHECK(x == std::vector<float>{1.5f, -2.0f, 3.25f});
  one.broadcast(x, 0);
  CHECK(x == std::vector<float>{1.5f, -2.0f, 3.25f});
  std::string s = "text";
  one.broadcast(s, 0);
  CHECK(s == "text");
  CHECK(one.gather("mine", 0) == std::vector<std::string>{"mine"});
  CHECK_THROWS_WITH_AS(one.broadcast(s, 1),
                       doctest::Contains("[dist] broadcast from rank 1 in a group of 1"), Error);
  CHECK_THROWS_WITH_AS(one.gather("x", 2), doctest::Contains("gather to rank 2"), Error);
  CHECK_NOTHROW(raise_if_any_failed(one, "a failure the caller rethrows itself"));
}

TEST_CASE("dist: synchronised batch norm over a group of one is batch norm") {
  // With the identity as the sum over processes, sync_batch_norm must give batch_norm's
  // output, running statistics and gradients (the global-sum terms of its backward then
  // being the local ones), in both memory formats.
  for (const bool channels_last : {false, true}) {
    CAPTURE(channels_last);
    Generator gen(11);
    Tensor x = Tensor::normal({4, 3, 5, 6}, 0.5f, 2.0f, gen);
    if (channels_last) x = x.to_channels_last();
    const Tensor dy = Tensor::normal({4, 3, 5, 6}, 0.0f, 1.0f, gen);
    const Tensor g0 = Tensor::uniform({3}, 0.5f, 1.5f, gen), b0 = Tensor::uniform({3}, -1, 1, gen);
    Tensor results[2][6];
    for (int synced = 0; synced < 2; ++synced) {
      Variable xv(x.clone(), true), w(g0.clone(), true), b(b0.clone(), true);
      if (channels_last) xv = Variable(x.contiguous().to_channels_last(), true);
      Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
      const StatSum identity = [](std::span<float>) {};
      const Variable y = synced ? sync_batch_norm(xv, w, b, rm, rv, 0.1f, 1e-5f, identity)
                                : batch_norm(xv, w, b, rm, rv, true, 0.1f, 1e-5f);
      y.backward(dy);
      const Tensor parts[6] = {y.data(), rm, rv, xv.grad(), w.grad(), b.grad()};
      for (int i = 0; i < 6; ++i) results[synced][i] = parts[i].contiguous();
    }
    for (int i = 0; i < 6; ++i) {
      CAPTURE(i);
      const std::vector<float> a = results[0][i].to_vector(), c = results[1][i].to_vector();
      REQUIRE(a.size() == c.size());
      for (size_t k = 0; k < a.size(); ++k) CHECK(c[k] == doctest::Approx(a[k]).epsilon(1e-4));
    }
  }
}

TEST_CASE("dist: a data loader's shards are the batch's images k·S + r, in its order") {
  const ImageDataset d = test::synthetic(3, 4);  // 30 images
  LoaderOptions o;
  o.batch_size = 7;
  o.seed = 9;
  o.augment.horizontal_flip = true;
  o.prefetch = false;
  DataLoader whole(d, Preprocess{}, o);
  std::vector<std::unique_ptr<DataLoader>> shards;
  for (int64_t r = 0; r < 3; ++r) {
    LoaderOptions s = o;
    s.shard = r;
    s.shards = 3;
    shards.push_back(std::make_unique<DataLoader>(d, Preprocess{}, s));
  }
  // 30 = 4·7 + 2: the last batch of 2 images cannot be shared by 3 and is left out.
  CHECK(whole.num_batches() == 5);
  CHECK(shards[0]->num_batches() == 4);
  for (int64_t b = 0; b < 4; ++b) {
    const Batch all = whole.batch(1, b);
    for (int64_t r = 0; r < 3; ++r) {
      const Batch part = shards[static_cast<size_t>(r)]->batch(1, b);
      CHECK(part.global_size == 7);
      const std::vector<int64_t> rows = r == 0 ? std::vector<int64_t>{0, 3, 6}
                                               : std::vector<int64_t>{r, r + 3};
      REQUIRE(part.indices.size() == rows.size());
      for (size_t k = 0; k < rows.size(); ++k) {
        const auto row = static_cast<size_t>(rows[k]);
        CHECK(part.indices[k] == all.indices[row]);
        CHECK(part.labels[k] == all.labels[row]);
        CHECK(part.images.select(0, static_cast<int64_t>(k)).to_vector() ==
              all.images.select(0, rows[k]).to_vector());  // the same augmentation
      }
    }
  }
  LoaderOptions bad = o;
  bad.shard = 3;
  bad.shards = 3;
  CHECK_THROWS_WITH_AS(DataLoader(d, Preprocess{}, bad), doctest::Contains("shard 3 of 3"), Error);
  bad.shard = 0;
  bad.shards = 8;
  CHECK_THROWS_WITH_AS(DataLoader(d, Preprocess{}, bad),
                       doctest::Contains("a batch of 7 images cannot be shared by 8"), Error);
}

TEST_CASE("dist: data-parallel training in a group of one is plain training, bit for bit") {
  // The same code as under mpirun (broadcast, shards, the bucketed exchange) with every
  // sum the identity: the weights must be exactly those of training without it.
  const BenchmarkSplit split = test::tiny_split(0);
  MethodOptions o;
  o.name = "l2softmax";
  o.width = 0.25;
  o.preprocess.height = o.preprocess.width = 16;
  o.epochs = 1;
  o.batch_size = 16;
  auto plain = make_method(o);
  plain->train(split, 4, nullptr);
  SingleCommunicator one;
  auto parallel = make_method(o);
  parallel->set_data_parallel({&one, false, 0.01});  // small buckets: many of them
  parallel->train(split, 4, nullptr);
  const GradSyncTiming& t = parallel->sync_timing();
  CHECK(t.steps == 7);  // ⌈110 / 16⌉ batches
  CHECK(t.buckets > 7);
  // Buckets start as their gradients become final, while backward goes on; never the one
  // holding the first layers' (backward's last) gradients.
  CHECK(t.buckets_early > 0);
  CHECK(t.buckets_early <= t.buckets - 7);
  auto one_bucket = make_method(o);
  one_bucket->set_data_parallel({&one, false, 0.0});  // one bucket, after backward
  one_bucket->train(split, 4, nullptr);
  CHECK(one_bucket->sync_timing().buckets == 7);
  CHECK(one_bucket->sync_timing().buckets_early == 0);
  CHECK(one_bucket->state_dict().at("head.weight").to_vector() ==
        plain->state_dict().at("head.weight").to_vector());
  const StateDict a = plain->state_dict(), b = parallel->state_dict();
  for (const auto& entry : a) {  // not a structured binding: CAPTURE is a lambda
    CAPTURE(entry.first);
    CHECK(b.at(entry.first).to_vector() == entry.second.to_vector());
  }
}

TEST_CASE("dist: allreduce, broadcast and gather under mpirun -np 2 and -np 3") {
  if (const std::string missing = mpi_missing(); !missing.empty()) {
    MESSAGE("skipped: " << missing);
    return;
  }
  for (const int np : {2, 3}) {
    CAPTURE(np);
    const Ran r = shell(mpirun(np) + KZ_DIST_CHECK);
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("size " + std::to_string(np)) != std::string::npos);
    CHECK(r.output.find("allreduce_sum n=10000000 (0 wrong): ok") != std::string::npos);
    CHECK(r.output.find("allreduce_sum n=1000001 (0 wrong): ok") != std::string::npos);
    CHECK(r.output.find("WRONG") == std::string::npos);
    for (int rank = 0; rank < np; ++rank)
      CHECK(r.output.find("rank " + std::to_string(rank) + ": 0 failure(s)") != std::string::npos);
  }
}

TEST_CASE("dist: data-parallel training under mpirun -np 2 and -np 3 (tests/dist_check train)") {
  if (const std::string missing = mpi_missing(); !missing.empty()) {
    MESSAGE("skipped: " << missing);
    return;
  }
  for (const int np : {2, 3}) {
    CAPTURE(np);
    const Ran r = shell(mpirun(np) + KZ_DIST_CHECK + " train");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("ae, --sync-bn: weights and statistics after 10 steps within") !=
          std::string::npos);
    CHECK(r.output.find("the loss falls") != std::string::npos);
    CHECK(r.output.find("WRONG") == std::string::npos);
    for (int rank = 0; rank < np; ++rank)
      CHECK(r.output.find("rank " + std::to_string(rank) + ": 0 failure(s)") != std::string::npos);
  }
}

TEST_CASE("dist: kizuki benchmark over 2 and 3 processes gives the AUCs of one, bit for bit") {
  if (const std::string missing = mpi_missing(); !missing.empty()) {
    MESSAGE("skipped: " << missing);
    return;
  }
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const test::TempDir dir("dist_spread");
  const Ran one = shell(tiny_benchmark(dir.path / "one"));
  INFO(one.output);
  REQUIRE(one.status == 0);
  const BenchmarkResults expected = read_results_json(dir / "one/results.json");
  REQUIRE(expected.trials.size() == 4);
  for (const int np : {2, 3}) {
    CAPTURE(np);
    const fs::path out = dir.path / ("np" + std::to_string(np));
    const Ran r = shell(mpirun(np) + tiny_benchmark(out));
    INFO(r.output);
    REQUIRE(r.status == 0);
    check_same_run(read_results_json((out / "results.json").string()), expected);
    CHECK(r.output.find("[rank " + std::to_string(np - 1) + "] [trial") != std::string::npos);
    CHECK(fs::exists(out / "report.html"));  // rank 0 wrote the report
    CHECK(!fs::exists(out / "ranks"));       // every record merged into results.json
    CHECK(fs::is_empty(out / "checkpoints"));
  }
}

TEST_CASE("dist: a rank that fails names itself and its unit; the finished units stay") {
  if (const std::string missing = mpi_missing(); !missing.empty()) {
    MESSAGE("skipped: " << missing);
    return;
  }
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const test::TempDir dir("dist_fail");
  const Ran one = shell(tiny_benchmark(dir.path / "one"));
  REQUIRE(one.status == 0);
  const BenchmarkResults expected = read_results_json(dir / "one/results.json");

  // Bad data on one rank: a damaged checkpoint of unit (trial 2, doc), the last unit of
  // rank 1 (units dealt in a snake: rank 0 runs (1, doc) and (2, l2softmax), rank 1
  // (1, l2softmax) and (2, doc)).
  const fs::path out = dir.path / "bad";
  fs::create_directories(out / "checkpoints");
  std::ofstream(out / "checkpoints/trial1-doc.ckpt") << "not a checkpoint";
  const Ran bad = shell(mpirun(2) + tiny_benchmark(out) + " --resume");
  INFO(bad.output);
  CHECK(bad.status != 0);
  CHECK(bad.output.find("rank 1 of 2 failed on trial 2/2, method doc") != std::string::npos);
  CHECK(bad.output.find("trial1-doc.ckpt") != std::string::npos);
  const BenchmarkResults kept = read_results_json((out / "results.json").string());
  CHECK(kept.trials.size() == 3);  // all but (trial 2, doc)
  check_same_units(kept, expected);
  // Repaired, the run resumes (with 3 processes) to the one-process results.
  fs::remove(out / "checkpoints/trial1-doc.ckpt");
  const Ran again = shell(mpirun(3) + tiny_benchmark(out) + " --resume");
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK(again.output.find("recorded in") != std::string::npos);
  check_same_run(read_results_json((out / "results.json").string()), expected);
}

TEST_CASE("dist: a rank killed with SIGKILL ends the run; its finished units stay for --resume") {
  if (const std::string missing = mpi_missing(); !missing.empty()) {
    MESSAGE("skipped: " << missing);
    return;
  }
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const test::TempDir dir("dist_kill");
  const auto three_trials = [](const fs::path& out) {
    std::string c = tiny_benchmark(out);
    return c.replace(c.find("--trials 2"), 10, "--trials 3");  // 6 units, 3 per rank
  };
  const Ran one = shell(three_trials(dir.path / "one"));
  REQUIRE(one.status == 0);
  const BenchmarkResults expected = read_results_json(dir / "one/results.json");
  REQUIRE(expected.trials.size() == 6);

  // Rank 1 is killed as soon as it says it starts its second unit (its first is recorded).
  const fs::path out = dir.path / "killed";
  const std::string command = mpirun(2) + three_trials(out) + " > '" + (dir / "log") + "' 2>&1";
  std::vector<std::string> args{"/bin/sh", "-c", command};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t shell_pid = -1;
  REQUIRE(posix_spawn(&shell_pid, "/bin/sh", nullptr, nullptr, argv.data(), environ) == 0);
  pid_t rank1 = -1;
  for (int i = 0; i < 30000 && rank1 < 0; ++i) {  // at most a minute
    if (slurp(dir / "log").find("[rank 1] [trial 2/3] doc        started") != std::string::npos)
      rank1 = find_rank(1, out.string());
    else std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(rank1 > 0);
  ::kill(rank1, SIGKILL);
  int status = 0;
  ::waitpid(shell_pid, &status, 0);
  const std::string log = slurp(dir / "log");
  INFO(log);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) != 0));
  CHECK(log.find("process rank 1") != std::string::npos);  // mpirun names the rank
  // … and the rank's last line names the unit it was running.
  const size_t last = log.rfind("[rank 1] ");
  REQUIRE(last != std::string::npos);
  CHECK(log.substr(last, log.find('\n', last) - last).find("started") != std::string::npos);
  // Its finished units are kept, and --resume (one process) finishes the run.
  const BenchmarkResults kept = read_results_json((out / "ranks/rank1.json").string());
  CHECK(kept.trials.size() >= 1);
  check_same_units(kept, expected);
  const Ran again = shell(three_trials(out) + " --resume");
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK(again.output.find("recorded in") != std::string::npos);
  check_same_run(read_results_json((out / "results.json").string()), expected);
  CHECK(!fs::exists(out / "ranks"));
}
