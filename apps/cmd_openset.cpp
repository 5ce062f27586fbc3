// cmd_openset.cpp — `kizuki openset`: classifying while detecting (anomaly/openset.h). A
// classifying method trains on every class but the --unknown ones; each test image gets a
// known class and an unknown flag; the scores, the confusion matrix and (with two or more
// unknown classes) the clustering of the flagged images are printed and written to --out.
#include <fmt/format.h>

#include "anomaly/experiment.h"
#include "anomaly/openset.h"
#include "apps/commands.h"
#include "apps/process.h"

namespace kz {

namespace {

struct OpenSetFlags {
  std::string dataset = "cifar10", data_dir, unknown, method = "arcface", out = "openset";
  std::string preset = "scratch", pretrained;
  TrainingFlags training;  // --image-size, --width, --epochs, --batch, --lr
  double true_known_rate = 0.95;
  uint64_t seed = 0;
  int threads = 0;
  int64_t train_per_class = 1000, held_out_per_class = 200, test_known_per_class = 200,
          test_unknown_per_class = 500, kmeans_restarts = 10;
  bool center = false;
};

void run(const OpenSetFlags& f) {
  set_threads(f.threads);
  ExperimentOptions e = preset_options(f.preset, f.dataset, {f.method}, recorded_path(f.pretrained));
  e.data_dir = recorded_path(f.data_dir);
  const TrainTest data = load_benchmark_dataset(e);
  OpenSetOptions o;
  o.dataset = f.dataset;
  o.data_dir = e.data_dir;
  o.preset = f.preset;
  o.unknown = f.unknown;
  o.method = e.method_options.front();
  MethodOptions& m = o.method;
  apply_training_flags(f.training, m);
  m.threads = f.threads;
  o.n_train_per_class = f.train_per_class;
  o.n_held_out_per_class = f.held_out_per_class;
  o.n_test_known_per_class = f.test_known_per_class;
  o.n_test_unknown_per_class = f.test_unknown_per_class;
  o.true_known_rate = f.true_known_rate;
  o.kmeans_restarts = f.kmeans_restarts;
  o.center = f.center;
  o.seed = f.seed;
  const bool live = interactive();
  fmt::print(stderr, "kizuki openset: {} ({} preset), method {}, unknown {}\n", o.dataset,
             o.preset, m.name, o.unknown);
  OpenSetCallbacks callbacks;
  callbacks.stage = [](const std::string& what) { fmt::print(stderr, "{}\n", what); };
  callbacks.progress = [live](const TrainProgress& p) {
    if (!live) return;
    fmt::print(stderr, "\r\033[K{}", progress_line(p));
    if (p.epoch_end) fmt::print(stderr, "\n");
  };
  const OpenSetResult r = run_openset(o, data, callbacks);
  fmt::print("{}", format_openset_summary(r));
  fmt::print("trained {:.1f} s, whole run {:.1f} s\n", r.train_seconds, r.total_seconds);
  write_openset_report(f.out, r);
  fmt::print("wrote {0}/results.json, {0}/predictions.csv, {0}/confusion.svg{1}, "
             "{0}/report.html\n", f.out, r.modes.k > 0 ? fmt::format(", {}/clusters.svg", f.out) : "");
}

}  // namespace

void add_openset_command(CLI::App& app) {
  auto flags = std::make_shared<OpenSetFlags>();
  CLI::App* cmd = app.add_subcommand(
      "openset", "classify the known classes and flag unknown ones (open-set recognition)");
  cmd->add_option("--dataset", flags->dataset, "fashion-mnist or cifar10 (default cifar10)")
      ->check(CLI::IsMember({"fashion-mnist", "cifar10"}));
  cmd->add_option("--data-dir", flags->data_dir,
                  "data folder (default /usr/share/datasets/fashion-mnist for fashion-mnist)");
  cmd->add_option("--unknown", flags->unknown,
                  "comma list of the classes left out of training (names or indices), e.g. "
                  "horse,truck")
      ->required();
  cmd->add_option("--method", flags->method, "the classifier: arcface, l2softmax or adacos")
      ->check(CLI::IsMember({"arcface", "l2softmax", "adacos", "adacos-fixed"}));
  cmd->add_option("--out", flags->out,
                  "output folder: results.json, predictions.csv, confusion.svg, clusters.svg, "
                  "report.html (default openset)");
  cmd->add_option("--preset", flags->preset, "scratch, seed or quick (the method's settings)")
      ->check(CLI::IsMember({"scratch", "seed", "quick"}));
  cmd->add_option("--pretrained", flags->pretrained, "backbone weights (.safetensors)")
      ->check(CLI::ExistingFile);
  add_training_flags(cmd, flags->training);
  cmd->add_option("--seed", flags->seed, "seed of the split, the training and the clustering");
  cmd->add_option("--threads", flags->threads, "threads for oneDNN, OpenBLAS and kizuki")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--train-per-class", flags->train_per_class,
                  "training images per known class (default 1000; -1: all the rest)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 30));
  cmd->add_option("--held-out-per-class", flags->held_out_per_class,
                  "held-out training images per known class, for the threshold (default 200)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 30));
  cmd->add_option("--test-known-per-class", flags->test_known_per_class,
                  "test images per known class (default 200)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 30));
  cmd->add_option("--test-unknown-per-class", flags->test_unknown_per_class,
                  "test images per unknown class (default 500)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 30));
  cmd->add_option("--true-known-rate", flags->true_known_rate,
                  "share of the held-out known images kept known by the threshold (default 0.95)")
      ->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--kmeans-restarts", flags->kmeans_restarts,
                  "k-means++ starts for the clustering of the flagged images (default 10)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_flag("--center", flags->center,
                "take the mean training feature off every feature before the cosines");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace kz
