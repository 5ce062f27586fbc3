// experiment.cpp — the benchmark runner and its presets (see experiment.h).
#include "anomaly/experiment.h"

#include <omp.h>

#include <ctime>
#include <filesystem>
#include <optional>

#include <dnnl.hpp>

#include "anomaly/checkpoint.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "anomaly/scalers.h"
#include "anomaly/scorers.h"
#include "data/cifar10.h"
#include "data/fashion_mnist.h"
#include "tensor/blas.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

nlohmann::json settings_json(const ExperimentOptions& o) {
  nlohmann::json methods = nlohmann::json::array();
  for (const MethodOptions& m : o.method_options) methods.push_back(method_options_json(m));
  return {{"preset", o.preset},
          {"dataset", o.dataset},
          {"data_dir", o.data_dir},
          {"normal_class", o.normal_class},
          {"anomaly_class", o.anomaly_class},
          {"n_reference_per_class", o.n_reference_per_class},
          {"n_normal_train", o.n_normal_train},
          {"n_test_each", o.n_test_each},
          {"trials", o.trials},
          {"seed", o.seed},
          {"scorers", o.scorers},
          {"lof_neighbors", o.lof_neighbors},
          {"knn_neighbors", o.knn_neighbors},
          {"methods", methods}};
}

nlohmann::json environment_json() {
  const dnnl_version_t* v = dnnl_version();
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"kizuki", KIZUKI_VERSION},
          {"onednn", fmt::format("{}.{}.{}", v->major, v->minor, v->patch)},
          {"openblas", blas_info()},
          {"omp_threads", omp_get_max_threads()},
          {"date", date}};
}

}  // namespace

ExperimentOptions preset_options(const std::string& preset, const std::string& dataset,
                                 const std::vector<std::string>& methods,
                                 const std::string& pretrained) {
  KZ_CHECK(preset == "seed" || preset == "scratch" || preset == "quick", "benchmark",
           "unknown --preset '{}' (seed, scratch or quick)", preset);
  KZ_CHECK(preset != "seed" || !pretrained.empty(), "benchmark",
           "--preset seed needs --pretrained W.safetensors (e.g. "
           "../shared/data/weights/mobilenet_v2_1.0_imagenet.safetensors)");
  ExperimentOptions o;
  o.preset = preset;
  o.dataset = dataset;
  o.methods = methods;
  if (preset == "quick") {  // the README's demo: the protocol's normal and test sets, a
    o.trials = 2;             // half-size reference set, 3 epochs: about a minute on 2 cores
    o.n_reference_per_class = 500;
  }
  for (const std::string& name : methods) {
    MethodOptions m;
    m.name = name;
    m.pretrained = pretrained;
    m.preprocess.rgb = true;
    m.batch_size = 128;
    if (preset == "seed") {
      m.width = 1.0;
      m.preprocess.height = m.preprocess.width = 96;
      m.preprocess.scaling = Scaling::symmetric;
      if (name == "doc") {
        m.optimizer = "sgd";
        m.lr = 5e-5;
        m.epochs = 5;
        m.freeze_blocks = 14;  // features.0 … 13 frozen, the last 4 blocks and the 1×1 train
      } else {
        m.optimizer = "adam";
        m.amsgrad = true;
        m.lr = 1e-4;
        m.epochs = 10;
      }
    } else {
      m.width = pretrained.empty() ? 0.5 : 1.0;
      m.preprocess.height = m.preprocess.width = 32;
      m.preprocess.scaling = pretrained.empty() ? Scaling::unit : Scaling::symmetric;
      m.optimizer = "adam";
      m.amsgrad = true;
      m.lr = 1e-3;
      m.epochs = preset == "quick" ? 3 : 10;
    }
    o.method_options.push_back(m);
  }
  return o;
}

TrainTest load_benchmark_dataset(ExperimentOptions& o) {
  if (o.dataset == "fashion-mnist") {
    if (o.normal_class < 0) o.normal_class = 7;    // sneaker
    if (o.anomaly_class < 0) o.anomaly_class = 9;  // ankle boot
    return load_fashion_mnist(o.data_dir.empty() ? kFashionMnistDir : o.data_dir);
  }
  if (o.dataset == "cifar10") {
    if (o.normal_class < 0) o.normal_class = 4;    // deer
    if (o.anomaly_class < 0) o.anomaly_class = 7;  // horse
    KZ_CHECK(!o.data_dir.empty(), "benchmark",
             "--dataset cifar10 needs --data-dir (the folder of data_batch_1.bin … "
             "test_batch.bin, e.g. ../shared/data/cifar10)");
    return load_cifar10(o.data_dir);
  }
  fail("benchmark", fmt::format("unknown --dataset '{}' (fashion-mnist or cifar10)", o.dataset));
}

std::vector<std::pair<std::string, Tensor>> test_scores(const Method& method,
                                                       const BenchmarkSplit& split,
                                                       const ExperimentOptions& o) {
  std::vector<std::pair<std::string, Tensor>> out;
  if (method.kind() == MethodKind::scoring) {
    const std::vector<std::string> names = method.score_names();
    const std::vector<Tensor> scores = method.score(split.test);
    for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], scores[i]);
    return out;
  }
  const Tensor train_features = method.embed(split.normal_train);
  const Tensor test_features = method.embed(split.test);
  std::vector<std::string> scorers = o.scorers;
  if (scorers.empty()) scorers = {method.default_scorer()};
  for (const std::string& scorer : scorers) {
    const int64_t k = scorer == "knn" ? o.knn_neighbors : o.lof_neighbors;
    out.emplace_back(scorer, score_features(scorer, train_features, test_features, k));
  }
  return out;
}

Tensor score_features(const std::string& scorer, const Tensor& train, const Tensor& test,
                      int64_t neighbors) {
  // LOF and k-NN measure Euclidean distances: MinMax-scale first, fitted on the normal
  // training features (the seed's choice). Cosine similarity is scale-free per sample.
  std::unique_ptr<Scaler> scaler = make_scaler(scorer == "cosine" ? "none" : "minmax");
  const Tensor train_scaled = scaler->fit_transform(train);
  std::unique_ptr<Scorer> s = make_scorer(scorer, neighbors);
  s->fit(train_scaled);
  return s->score(scaler->transform(test));
}

BenchmarkResults run_benchmark(const ExperimentOptions& options,
                               const ExperimentCallbacks& callbacks) {
  ExperimentOptions o = options;
  KZ_CHECK(o.trials >= 1, "benchmark", "--trials must be at least 1, got {}", o.trials);
  KZ_CHECK(o.method_options.size() == o.methods.size(), "benchmark",
           "{} methods but {} method settings", o.methods.size(), o.method_options.size());
  for (const std::string& s : o.scorers)
    KZ_CHECK(s == "lof" || s == "cosine" || s == "knn", "benchmark",
             "unknown scorer '{}' (lof, cosine or knn)", s);
  for (const std::string& m : o.methods) method_info(m);  // unknown names fail before any work
  const TrainTest data = load_benchmark_dataset(o);

  BenchmarkResults results;
  results.settings = settings_json(o);
  results.environment = environment_json();

  // What an earlier run with these settings already finished (--resume).
  const std::string results_path = o.out_dir + "/results.json";
  const std::string checkpoints = o.out_dir + "/checkpoints";
  BenchmarkResults done;
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(checkpoints);
    if (o.resume && std::filesystem::exists(results_path)) {
      done = read_results_json(results_path);
      check_fingerprint(results_path, done.settings, results.settings);
    }
  }

  for (int t = 0; t < o.trials; ++t) {
    const uint64_t seed = o.seed + static_cast<uint64_t>(t);
    std::optional<BenchmarkSplit> split;  // drawn only when a method of trial t must run
    for (const MethodOptions& mo : o.method_options) {
      CheckpointOptions ck;
      if (!o.out_dir.empty())
        ck.path = fmt::format("{}/trial{}-{}.ckpt", checkpoints, t, mo.name);
      ck.resume = o.resume;
      std::vector<TrialResult> recorded;
      for (const TrialResult& r : done.trials)
        if (r.trial == t && r.method == mo.name) recorded.push_back(r);
      if (!recorded.empty()) {
        if (callbacks.resumed) callbacks.resumed(t, mo.name, "recorded in " + results_path);
        for (const TrialResult& r : recorded) {
          results.trials.push_back(r);
          if (callbacks.result) callbacks.result(r);
        }
        // A run killed between recording these and dropping the checkpoint left it behind.
        if (!ck.path.empty()) remove_file(ck.path);
        continue;
      }
      if (!split)
        split = benchmark_split(data, o.normal_class, o.anomaly_class, o.n_reference_per_class,
                                o.n_normal_train, o.n_test_each, seed);
      const std::vector<int> labels(split->test.labels.begin(), split->test.labels.end());
      std::unique_ptr<Method> method = make_method(mo);
      method->set_checkpoint(ck);
      method->train(*split, seed, [&](const TrainProgress& p) {
        if (callbacks.progress) callbacks.progress(t, mo.name, p);
      });
      if (method->resumed_epochs() > 0 && callbacks.resumed)
        callbacks.resumed(t, mo.name,
                          fmt::format("continued from {} after epoch {}", ck.path,
                                      method->resumed_epochs()));
      for (const auto& [scorer, scores] : test_scores(*method, *split, o)) {
        const std::vector<float> sv = scores.to_vector();
        const std::vector<double> sd(sv.begin(), sv.end());
        TrialResult r;
        r.dataset = o.dataset;
        r.method = mo.name;
        r.scorer = scorer;
        r.trial = t;
        r.seed = seed;
        r.auc = roc_auc(sd, labels);
        r.roc = roc_curve(sd, labels);
        r.train_seconds = method->train_seconds();
        results.trials.push_back(r);
        if (callbacks.result) callbacks.result(r);
      }
      if (!o.out_dir.empty()) {  // record it first, then drop its checkpoint
        write_results_json(results_path, results);
        remove_file(ck.path);  // and what a killed checkpoint write left
      }
    }
  }
  return results;
}

}  // namespace kz
