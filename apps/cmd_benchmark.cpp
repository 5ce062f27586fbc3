// cmd_benchmark.cpp — `kizuki benchmark`: the anomaly benchmark protocol (DESIGN.md §7),
// its progress on the terminal, the summary table, and the report files in --out. --out
// also keeps the run's work as it goes (results.json after every finished trial, epoch
// checkpoints while training), so `--resume` continues a stopped run (anomaly/experiment.h).
// Under `mpirun -np N` the (trial × method) units are spread over the N processes, each with
// --threads threads; rank 0 prints the summary and writes the report files.
// --table FILE.csv runs the same protocol on a table's rows (data/csv.h, data/table_split.h).
#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "anomaly/experiment.h"
#include "anomaly/report.h"
#include "apps/commands.h"
#include "apps/process.h"
#include "tensor/storage.h"

namespace kz {

namespace {

struct BenchmarkFlags {
  std::string dataset = "fashion-mnist", data_dir, preset = "scratch", pretrained;
  std::string methods = "doc,l2softmax,arcface", scorers, out = "results", tta = "none";
  int64_t knn_k = 0;  // 0 = the default, 5
  bool center = false;
  int trials = 0;  // 0 = the preset's
  TrainingFlags training;  // --image-size, --width, --epochs, --batch, --lr
  int64_t latent_dim = 0;
  uint64_t seed = 0;
  int threads = 0;
  int64_t reference_per_class = 0, normal_train = 0, test_each = 0;  // 0 = the preset's
  bool resume = false, validate = false;
  std::vector<std::string> ensembles;  // NAME=method:score,… each
  int64_t known_anomalies = 0;
  bool data_parallel = false, sync_bn = false;
  double bucket_mb = 4.0;
  // A table instead of images.
  std::string table, label, normal, drop;
  std::vector<std::string> anomaly, reference;
  int64_t skip_rows = 0, test_normal = 0, test_anomaly = 0;
  bool no_header = false;
  double memory_limit_mb = 0.0;  // 0 = none
  std::string mlp_widths;        // empty = the preset's
  int64_t freeze_blocks = -1;  // -1 = the preset's
  double panda_lambda = -1.0;  // < 0 = the default
  bool panda_fisher = false;
  int64_t eval_every = 0;
  int64_t proxy_size = 500;
  std::string early_stop = "none";
  std::string maps;  // comma list of map kinds beyond the methods' own: gradcam, occlusion
  OcclusionOptions occlusion;
  bool with_reference = false;
  int64_t goad_maps = 0, goad_dims = 0;  // 0 = the defaults (256, 32)
  int64_t anogan_steps = -1;  // -1 = the default (500)
};

void run(const BenchmarkFlags& f, Communicator& comm) {
  const bool root = comm.rank() == 0;
  // Each line of a run of several processes says which one speaks.
  const std::string who = comm.size() > 1 ? fmt::format("[rank {}] ", comm.rank()) : "";
  set_threads(f.threads);
  // A table's rows are named after its file: "breast_cancer" for breast_cancer.csv(.gz).
  std::string dataset = f.dataset;
  if (!f.table.empty()) {
    dataset = std::filesystem::path(f.table).filename().string();
    for (const char* ext : {".gz", ".csv"})
      if (dataset.size() > std::strlen(ext) &&
          dataset.compare(dataset.size() - std::strlen(ext), std::string::npos, ext) == 0)
        dataset.resize(dataset.size() - std::strlen(ext));
  }
  ExperimentOptions o = preset_options(f.preset, f.table.empty() ? dataset : "table",
                                      split_list(f.methods), recorded_path(f.pretrained));
  o.dataset = dataset;
  if (!f.table.empty()) {
    KZ_CHECK(!f.label.empty() && !f.normal.empty(), "benchmark",
             "--table needs --label COLUMN and --normal VALUE (the normal class's label)");
    o.table = recorded_path(f.table);
    o.csv.label = f.label;
    o.csv.drop = split_list(f.drop);
    o.csv.skip_rows = f.skip_rows;
    o.csv.header = !f.no_header;
    o.csv.max_bytes = static_cast<int64_t>(f.memory_limit_mb * 1024 * 1024);
    TableProtocol& p = o.table_protocol;
    p.normal = f.normal;
    p.anomaly = f.anomaly;
    p.reference = f.reference;
    if (f.reference_per_class > 0) p.n_reference_per_class = f.reference_per_class;
    if (f.normal_train > 0) p.n_normal_train = f.normal_train;
    if (f.test_each > 0) p.n_test_normal = p.n_test_anomaly = f.test_each;
    if (f.test_normal > 0) p.n_test_normal = f.test_normal;
    if (f.test_anomaly > 0) p.n_test_anomaly = f.test_anomaly;
  }
  o.data_dir = recorded_path(f.data_dir);
  o.scorers = split_list(f.scorers);
  o.seed = f.seed;
  if (f.trials > 0) o.trials = f.trials;
  if (f.reference_per_class > 0) o.n_reference_per_class = f.reference_per_class;
  if (f.normal_train > 0) o.n_normal_train = f.normal_train;
  if (f.test_each > 0) o.n_test_each = f.test_each;
  o.out_dir = f.out;
  o.resume = f.resume;
  o.validate = f.validate;
  if (f.knn_k > 0) o.knn_neighbors = f.knn_k;
  o.center = f.center;
  o.tta = f.tta;
  o.map_kinds = split_list(f.maps);
  for (const std::string& k : o.map_kinds)
    KZ_CHECK(k == "gradcam" || k == "occlusion", "benchmark",
             "--maps: unknown map kind '{}' (gradcam or occlusion; the methods' own maps are "
             "always drawn)", k);
  o.occlusion = f.occlusion;
  if (!o.map_kinds.empty()) check_occlusion_options(o.occlusion, "--mask-size/--mask-stride/--inpaint");
  for (const std::string& e : f.ensembles) o.ensembles.push_back(parse_ensemble(e, "--ensemble"));
  o.known_anomalies = f.known_anomalies;
  KZ_CHECK(!f.sync_bn || f.data_parallel, "benchmark", "--sync-bn needs --data-parallel");
  o.data_parallel = f.data_parallel;
  o.sync_bn = f.sync_bn;
  o.bucket_mb = f.bucket_mb;
  o.eval_every = f.eval_every;
  o.proxy_each = f.proxy_size;
  o.early_stop = f.early_stop;
  for (MethodOptions& m : o.method_options) {
    apply_training_flags(f.training, m);
    if (f.latent_dim > 0) m.latent_dim = f.latent_dim;
    if (!f.mlp_widths.empty()) m.mlp_widths = parse_widths(f.mlp_widths, "benchmark");
    m.threads = f.threads;
    if (f.freeze_blocks >= 0) m.freeze_blocks = f.freeze_blocks;
    if (f.panda_lambda >= 0) m.panda_lambda = f.panda_lambda;
    if (f.panda_fisher) m.panda_fisher = true;
    if (f.with_reference) m.with_reference = true;
    if (f.goad_maps > 0) m.goad_maps = f.goad_maps;
    if (f.goad_dims > 0) m.goad_dims = f.goad_dims;
    if (f.anogan_steps >= 0) m.anogan_steps = f.anogan_steps;
  }
  if (root && !f.resume && std::filesystem::exists(f.out + "/checkpoints") &&
      !std::filesystem::is_empty(f.out + "/checkpoints"))
    fmt::print(stderr, "note: {}/checkpoints holds a stopped run; starting afresh (--resume "
               "continues it)\n", f.out);
  // What a flag leaves alone is said, not refused: one run may mix methods and scorers.
  if (root) {
    for (const std::string& s : o.scorers)
      if (o.center && s != "cosine")
        fmt::print(stderr, "note: --center changes only cosine scores; {} is scored as without "
                   "it (a shift of every feature leaves Euclidean distances unchanged)\n", s);
    for (const std::string& m : o.methods)
      if (method_info(m).kind == MethodKind::scoring && (o.center || o.tta != "none"))
        fmt::print(stderr, "note: --center and --tta apply to embedding methods' features; {} "
                   "gives its own scores, which are left as they are\n", m);
  }
  const bool live = interactive() && comm.size() == 1;
  if (root)
    fmt::print(stderr, "kizuki benchmark: {} ({} preset), methods {}, {} trial(s){}{}\n",
               o.dataset, o.preset, f.methods, o.trials,
               comm.size() > 1 ? fmt::format(", {}", comm.describe()) : "",
               o.validate ? "; validation: held-out normals against reference images, not the "
                            "test set" : "");
  ExperimentCallbacks callbacks;
  callbacks.progress = [&](int trial, const std::string& method, const TrainProgress& p) {
    if (!live) return;
    fmt::print(stderr, "\r\033[K[trial {}/{} {}] {}", trial + 1, o.trials, method,
               progress_line(p));
    if (p.epoch_end) fmt::print(stderr, "\n");
  };
  callbacks.resumed = [&](int trial, const std::string& method, const std::string& what) {
    fmt::print(stderr, "{}[trial {}/{}] {:<10} {}\n", who, trial + 1, o.trials, method, what);
  };
  callbacks.result = [&](const TrialResult& r) {
    fmt::print(stderr, "{}[trial {}/{}] {:<10} {:<7} AUC {:.4f}  (trained {:.1f} s{})\n", who,
               r.trial + 1, o.trials, r.method, r.scorer, r.auc, r.train_seconds,
               r.chosen_epoch >= 0 ? fmt::format("; epoch {} kept by --early-stop", r.chosen_epoch)
                                   : "");
  };
  if (comm.size() > 1)
    callbacks.started = [&](int trial, const std::string& method) {
      fmt::print(stderr, "{}[trial {}/{}] {:<10} started\n", who, trial + 1, o.trials, method);
    };
  callbacks.synced = [&](int trial, const std::string& method, const GradSyncTiming& t,
                         double train_seconds) {
    const double steps = static_cast<double>(std::max<int64_t>(t.steps, 1));
    fmt::print(stderr, "[trial {}/{}] {:<10} data-parallel over {} process(es): {} steps, per "
               "step {:.1f} ms: backward {:.1f} ms (hooks {:.1f}: gradient copies, starting "
               "and moving the sums), then waiting for the sums {:.1f} ms; {} of {} buckets "
               "started before the last gradient\n", trial + 1, o.trials, method, comm.size(),
               t.steps, 1e3 * train_seconds / steps, 1e3 * t.backward / steps,
               1e3 * t.hooks / steps, 1e3 * t.wait / steps, t.buckets_early, t.buckets);
  };
  callbacks.warning = [&](int trial, const std::string& method, const std::string& w) {
    fmt::print(stderr, "{}[trial {}/{}] {:<10} WARNING: {}\n", who, trial + 1, o.trials, method, w);
  };
  BenchmarkResults results = run_benchmark(o, callbacks, &comm);
  if (!root) return;
  results.environment["peak_memory_bytes"] = storage_cache_stats().peak_bytes_in_use;
  results.environment["peak_rss_bytes"] = peak_rss_bytes();
  fmt::print("{}", format_summary_table(summarize(results)));
  fmt::print("peak memory: {} resident ({} in tensors)\n", format_bytes(peak_rss_bytes()),
             format_bytes(storage_cache_stats().peak_bytes_in_use));
  write_report(f.out, results);
  fmt::print("wrote {0}/results.csv, {0}/results.json, {0}/boxplot.svg, {0}/roc.svg, "
             "{0}/report.html\n", f.out);
}

}  // namespace

void add_benchmark_command(CLI::App& app, Communicator& comm) {
  auto flags = std::make_shared<BenchmarkFlags>();
  CLI::App* cmd = app.add_subcommand("benchmark", "run the anomaly-detection benchmark");
  cmd->add_option("--dataset", flags->dataset, "fashion-mnist or cifar10")
      ->check(CLI::IsMember({"fashion-mnist", "cifar10"}));
  cmd->add_option("--data-dir", flags->data_dir,
                  "data folder (default /usr/share/datasets/fashion-mnist for fashion-mnist)");
  cmd->add_option("--methods", flags->methods,
                  fmt::format("comma list of {}", fmt::join(method_names(), ",")));
  cmd->add_option("--scorers", flags->scorers,
                  "comma list of lof,cosine,knn,gde for the embedding methods (default: each "
                  "method's own; scoring methods always give their own scores)");
  cmd->add_option("--knn-k", flags->knn_k, "k of the knn scorer (default 5; PANDA and DN2 use 2)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_flag("--center", flags->center,
                "subtract the mean normal training feature before the cosine scorer");
  cmd->add_option("--tta", flags->tta,
                  "test-time augmentation of the embedding methods' features: none, or flip "
                  "(each feature the mean of the image's and its mirror image's)")
      ->check(CLI::IsMember({"none", "flip"}));
  cmd->add_option("--ensemble", flags->ensembles,
                  "NAME=method:score,method:score,…: one more row per trial, the mean of the "
                  "members' scores standardised on the normal training images (repeatable; a "
                  "method alone is its default score)");
  cmd->add_option("--known-anomalies", flags->known_anomalies,
                  "weak supervision: N labelled anomalies from the anomaly class's training "
                  "images (never test images), the same for every method of a trial; used by "
                  "deepsad, l2softmax, arcface and adacos (default 0); with --table rows of the "
                  "anomaly classes outside the test set (see --test-anomaly)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--trials", flags->trials, "trials (default: the preset's, 10)");
  cmd->add_option("--preset", flags->preset, "scratch, seed or quick")
      ->check(CLI::IsMember({"scratch", "seed", "quick"}));
  cmd->add_option("--pretrained", flags->pretrained, "backbone weights (.safetensors)")
      ->check(CLI::ExistingFile);
  add_training_flags(cmd, flags->training);
  cmd->add_option("--latent-dim", flags->latent_dim, "the autoencoders' bottleneck size")
      ->check(CLI::Range(1, 65536));
  cmd->add_flag("--validate", flags->validate,
                "score held-out normals against reference images instead of the test set "
                "(for choosing settings; methods that train on the reference set refused)");
  cmd->add_option("--seed", flags->seed, "base seed (trial t uses seed + t)");
  cmd->add_option("--threads", flags->threads,
                  "threads for oneDNN, OpenBLAS and kizuki (per process under mpirun)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--reference-per-class", flags->reference_per_class,
                  "reference images per class (default: the preset's, 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--normal-train", flags->normal_train,
                  "normal training images (default: the preset's, 1000)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 30));
  cmd->add_option("--test-each", flags->test_each,
                  "normal and anomalous test images each (default: the preset's, 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--out", flags->out,
                  "output folder: the report files, results.json after every finished trial, "
                  "and checkpoints/ while training");
  cmd->add_option("--table", flags->table,
                  "a CSV table instead of images (RFC 4180; plain or gzipped): its rows are "
                  "split, standardised with the normal training rows' statistics, and scored")
      ->check(CLI::ExistingFile);
  cmd->add_option("--label", flags->label, "--table: the label column's name (its position "
                  "from 0 with --no-header)");
  cmd->add_option("--normal", flags->normal, "--table: the normal class's label value");
  cmd->add_option("--anomaly", flags->anomaly,
                  "--table: the anomaly classes' label values (default: every class neither "
                  "normal nor reference)");
  cmd->add_option("--reference", flags->reference,
                  "--table: label values of the reference classes (default: none)");
  cmd->add_option("--drop", flags->drop, "--table: comma list of columns to leave out");
  cmd->add_option("--skip-rows", flags->skip_rows,
                  "--table: lines before the header (1 for scikit-learn's bundled files)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_flag("--no-header", flags->no_header,
                "--table: the file has no header; columns are named 0, 1, … by position");
  cmd->add_option("--memory-limit", flags->memory_limit_mb,
                  "--table: refuse a table needing more than this many MiB (default: no limit)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--mlp-widths", flags->mlp_widths,
                  "--table: comma list of the MLP backbone's stage widths (default 64,64)");
  cmd->add_option("--goad-maps", flags->goad_maps,
                  "--table: goad's random affine maps, M (default 256)")
      ->check(CLI::Range(int64_t{2}, int64_t{65536}));
  cmd->add_option("--goad-dims", flags->goad_dims,
                  "--table: the dimension each of goad's maps gives, d (default 32)")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--test-normal", flags->test_normal,
                  "--table: normal test rows (default: every normal row not trained on)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--test-anomaly", flags->test_anomaly,
                  "--table: anomalous test rows (default: every anomalous row)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_flag("--resume", flags->resume,
                "continue the run recorded in --out: finished trials are kept, an unfinished "
                "one continues from its last epoch checkpoint (same settings needed)");
  add_data_parallel_flags(cmd, flags->data_parallel, flags->sync_bn, flags->bucket_mb);
  cmd->add_option("--freeze-blocks", flags->freeze_blocks,
                  "features.0 … N−1 of the backbone frozen (default: the preset's; doc, panda "
                  "and msc freeze 14 in their presets)")
      ->check(CLI::Range(int64_t{0}, int64_t{18}));
  cmd->add_option("--panda-lambda", flags->panda_lambda,
                  "λ of panda's pull toward the pretrained weights (default 1e4)")
      ->check(CLI::Range(0.0, 1e12));
  cmd->add_flag("--panda-fisher", flags->panda_fisher,
                "panda's pull weighted by a diagonal Fisher estimated on the reference set "
                "(EWC) instead of 1 for every weight (L2-SP)");
  cmd->add_option("--eval-every", flags->eval_every,
                  "after every N epochs (and before the first, and after the last) record each "
                  "scorer's AUC and the collapse diagnostics of the normal features in "
                  "results.json (embedding methods that train; default 0 = off)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--proxy-size", flags->proxy_size,
                  "with --eval-every: score at most N held-out normal and N held-out "
                  "reference-class training images after each evaluation, the proxy AUC that "
                  "never touches the test set (default 500; 0 = none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--early-stop", flags->early_stop,
                  "none | proxy: keep the weights of the --eval-every evaluation with the best "
                  "proxy AUC (first scorer) instead of the last epoch's (default none)")
      ->check(CLI::IsMember({"none", "proxy"}));
  cmd->add_option("--maps", flags->maps,
                  "map figures of other kinds beside the methods' own, comma list: gradcam "
                  "(embedding methods on MobileNetV2, deepsad), occlusion (any method); trial 0, with "
                  "their cost in seconds per image in results.json");
  cmd->add_option("--mask-size", flags->occlusion.size,
                  "--maps occlusion: the square mask's side in pixels (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--mask-stride", flags->occlusion.stride,
                  "--maps occlusion: the mask's step in pixels, at most --mask-size (default 4)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--inpaint", flags->occlusion.inpaint,
                  "--maps occlusion: what fills the mask: mean (the mean normal training image) "
                  "or unet (a partial-convolution U-Net trained on them in trial 0)");
  cmd->add_option("--inpaint-epochs", flags->occlusion.unet.epochs,
                  "--inpaint unet: the U-Net's training epochs (default 5)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_flag("--with-reference", flags->with_reference,
                "twin: the reference classes as further classes of its ArcFace head, beside "
                "normal and twin");
  cmd->add_option("--anogan-steps", flags->anogan_steps,
                  "anogan: Γ, the gradient steps of each test image's latent search (default "
                  "500; fewer are faster and fit the images less closely)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->callback([flags, &comm] { run(*flags, comm); });
}

}  // namespace kz
