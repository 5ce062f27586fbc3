// experiment.cpp — the benchmark runner and its presets (see experiment.h).
#include "anomaly/experiment.h"

#include <omp.h>

#include <ctime>
#include <filesystem>
#include <optional>

#include "anomaly/checkpoint.h"
#include "anomaly/map_figure.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "anomaly/scalers.h"
#include "anomaly/scorers.h"
#include "data/cifar10.h"
#include "data/fashion_mnist.h"
#include "data/image_write.h"
#include "tensor/build_info.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"

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
  const BuildInfo b = build_info();
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"kizuki", b.kizuki},
          {"onednn", b.onednn},
          {"openblas", b.openblas},
          {"omp_threads", omp_get_max_threads()},
          {"date", date}};
}

// The reconstruction methods (ae, vae, ssim-ae) learn from the normal images alone, from
// random weights: the data's own channels (no grey→RGB), pixels in [0, 1] for the sigmoid
// decoder, the data's own size (28 px Fashion-MNIST, 32 px CIFAR-10; 96 px in the seed
// preset, as every method there), Adam lr 1e-3 (not AMSGrad), batch 64, latent size 128;
// 30 epochs (quick: 3). Common defaults of the papers, mirrored by the PyTorch reference
// script (scripts/reconstruction_torch.py), not tuned on any test set; docs/results.md says
// how they were checked.
MethodOptions reconstruction_preset(const std::string& name, const std::string& preset,
                                    const std::string& dataset) {
  MethodOptions m;
  m.name = name;
  m.preprocess.rgb = false;
  m.preprocess.scaling = Scaling::unit;
  const int64_t native = dataset == "fashion-mnist" ? 28 : 32;
  m.preprocess.height = m.preprocess.width = preset == "seed" ? 96 : native;
  m.optimizer = "adam";
  m.amsgrad = false;
  m.lr = 1e-3;
  m.batch_size = 64;
  m.latent_dim = 128;
  m.epochs = preset == "quick" ? 3 : 30;
  return m;
}

// The figure of where `method` finds the test images of one trial anomalous: the 8 most and
// 8 least anomalous normal and anomalous test images by `scores` (M,), as input,
// reconstruction and map, written to <out_dir>/maps/<dataset>-<method>.png.
MapFigure write_map_figure(const Method& method, const BenchmarkSplit& split,
                           const std::string& score, const Tensor& scores, int trial,
                           const ExperimentOptions& o) {
  constexpr size_t kEach = 8;
  const std::vector<float> s = scores.to_vector();
  std::vector<std::vector<int64_t>> groups;  // anomalies most, least; normals most, least
  for (const int64_t label : {1, 0}) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < split.test.size(); ++i)
      if (split.test.labels[static_cast<size_t>(i)] == label) idx.push_back(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
      return s[static_cast<size_t>(a)] > s[static_cast<size_t>(b)];
    });
    const size_t n = std::min(kEach, idx.size());
    groups.emplace_back(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n));
    groups.emplace_back(idx.end() - static_cast<std::ptrdiff_t>(n), idx.end());
    std::reverse(groups.back().begin(), groups.back().end());  // the least anomalous first
  }
  std::vector<int64_t> all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  const ImageDataset shown = split.test.subset(all);
  const AnomalyMaps maps = method.maps(shown);
  Preprocess display = method.options().preprocess;
  display.scaling = Scaling::unit;  // pixels in [0, 1] as they are shown
  const Tensor images = preprocess(shown, display).contiguous();
  const Tensor recon = maps.reconstruction.defined() ? clamp(maps.reconstruction.contiguous(), 0.0f, 1.0f)
                                                     : Tensor();
  const Tensor map = maps.maps.contiguous();
  std::vector<std::vector<MapTile>> rows;
  int64_t k = 0;
  for (const auto& g : groups) {
    rows.emplace_back();
    for (const int64_t i : g) {
      MapTile tile;
      tile.image = images.select(0, k);
      if (recon.defined()) tile.reconstruction = recon.select(0, k);
      tile.map = map.select(0, k);
      tile.caption = fmt::format("{:.4g}", s[static_cast<size_t>(i)]);
      rows.back().push_back(tile);
      ++k;
    }
  }
  const MapScale scale = map_scale(map);
  const int zoom = static_cast<int>(std::max<int64_t>(1, 96 / std::max<int64_t>(1, images.size(2))));
  int64_t height = 0, width = 0;
  const std::vector<uint8_t> pixels = map_grid(rows, scale, zoom, &height, &width);
  MapFigure f;
  f.dataset = o.dataset;
  f.method = method.name();
  f.score = score;
  f.trial = trial;
  f.file = fmt::format("maps/{}-{}.png", o.dataset, method.name());
  f.low = scale.low;
  f.high = scale.high;
  std::filesystem::create_directories(o.out_dir + "/maps");
  write_png(o.out_dir + "/" + f.file, pixels, height, width, 3);
  return f;
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
    if (method_info(name).kind == MethodKind::scoring) {
      o.method_options.push_back(reconstruction_preset(name, preset, dataset));
      continue;
    }
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
        for (const MapFigure& f : done.map_figures)
          if (f.trial == t && f.method == mo.name) results.map_figures.push_back(f);
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
      const std::vector<std::pair<std::string, Tensor>> scored = test_scores(*method, *split, o);
      if (t == 0 && method->gives_maps() && !o.out_dir.empty())
        results.map_figures.push_back(
            write_map_figure(*method, *split, scored.front().first, scored.front().second, t, o));
      for (const auto& [scorer, scores] : scored) {
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
