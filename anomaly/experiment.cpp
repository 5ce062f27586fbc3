// experiment.cpp — the benchmark runner and its presets (see experiment.h).
#include "anomaly/experiment.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <ctime>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fmt/ranges.h>

#include "anomaly/checkpoint.h"
#include "anomaly/report_gan.h"
#include "anomaly/map_figure.h"
#include "anomaly/map_kinds.h"
#include "anomaly/gradcam.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "anomaly/scalers.h"
#include "anomaly/scorers.h"
#include "anomaly/training_watch.h"
#include "dist/communicator.h"
#include "data/cifar10.h"
#include "data/fashion_mnist.h"
#include "data/csv.h"
#include "data/image_write.h"
#include "tensor/build_info.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"

namespace kz {

namespace {

nlohmann::json settings_json(const ExperimentOptions& o) {
  nlohmann::json methods = nlohmann::json::array();
  for (const MethodOptions& m : o.method_options) methods.push_back(method_options_json(m));
  nlohmann::json j = {{"preset", o.preset},
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
  // Absent when off, so that older results.json still resume and merge.
  if (o.validate) j["validate"] = true;
  if (o.center) j["center"] = true;
  if (o.tta != "none") j["tta"] = o.tta;
  if (o.known_anomalies > 0) j["known_anomalies"] = o.known_anomalies;
  for (const EnsembleSpec& e : o.ensembles) {
    std::vector<std::string> members;
    for (const auto& [method, score] : e.members)
      members.push_back(score.empty() ? method : method + ":" + score);
    j["ensembles"].push_back(fmt::format("{}={}", e.name, fmt::join(members, ",")));
  }
  if (!o.table.empty()) {
    const TableProtocol& p = o.table_protocol;
    j["table"] = {{"file", o.table},
                  {"label", o.csv.label},
                  {"drop", o.csv.drop},
                  {"skip_rows", o.csv.skip_rows},
                  {"header", o.csv.header},
                  {"normal", p.normal},
                  {"anomaly", p.anomaly},
                  {"reference", p.reference},
                  {"n_reference_per_class", p.n_reference_per_class},
                  {"n_normal_train", p.n_normal_train},
                  {"n_test_normal", p.n_test_normal},
                  {"n_test_anomaly", p.n_test_anomaly}};
  }
  if (o.eval_every > 0) {
    j["eval_every"] = o.eval_every;
    if (o.table.empty()) j["proxy_size"] = o.proxy_each;
  }
  if (o.early_stop != "none") j["early_stop"] = o.early_stop;
  return j;
}

nlohmann::json environment_json() {
  const BuildInfo b = build_info();
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"kizuki", b.kizuki},
          {"onednn", b.onednn},
          {"openblas", b.openblas},
          {"cpu", b.cpu},
          {"built_for", b.built_for},
          {"onednn_isa", b.onednn_isa},
          {"omp_threads", omp_get_max_threads()},
          {"date", date}};
}

// The reconstruction methods (ae, vae, ssim-ae) learn from the normal images alone, from
// random weights: the data's own channels (no grey→RGB), pixels in [0, 1] for the sigmoid
// decoder, the data's own size (28 px Fashion-MNIST, 32 px CIFAR-10; 96 px in the seed
// preset, as every method there), Adam lr 1e-3 (not AMSGrad), batch 64, latent size 128;
// 30 epochs (quick: 3): the papers' common defaults, mirrored by the PyTorch reference
// script (scripts/reconstruction_torch.py). Two departures on CIFAR-10, chosen by the sweep
// of scripts/sweep_reconstruction.sh on held-out normals against reference images (never
// the test set; docs/results.md has the table): the VAE trains 10 epochs, the SSIM
// autoencoder has latent size 32. On Fashion-MNIST no setting beat the defaults.
// A generative method's training samples written as a PNG in the run's folder
// (anomaly/report_gan.h) and its warnings passed to the callback, with the PNG's name, which
// it returns ("" when none was written).
std::string training_notes(const Method& method, const ExperimentOptions& o, int trial,
                           const ExperimentCallbacks& callbacks) {
  const std::string file = write_training_samples(method, o.out_dir, o.dataset, trial);
  for (const std::string& w : method.training_warnings())
    if (callbacks.warning)
      callbacks.warning(trial, method.name(),
                        file.empty() ? w : w + " (G's samples per epoch: " + file + ")");
  return file;
}

// adae's two autoencoders take the same settings (its twin: scripts/generative_torch.py).
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
  if (dataset == "cifar10" && name == "vae" && preset != "quick") m.epochs = 10;
  if (dataset == "cifar10" && name == "ssim-ae") m.latent_dim = 32;
  return m;
}

// AnoGAN's DCGAN (Schlegl et al. 2017 and Radford et al. 2016's settings) learns from the
// normal images alone, from random weights: the data's own channels and size (96 px in the
// seed preset), pixels in [−1, 1] for the generator's tanh, Adam lr 2e-4 (β1 0.5 in the
// method), batch 64, latent size 100; 25 epochs (quick: 3). Scoring takes anogan_steps (the
// paper's 500) latent-search steps per test image; the quick preset takes 20, so that one trial
// stays a few minutes on two cores (500 steps over 2000 test images take hours there).
MethodOptions anogan_preset(const std::string& preset, const std::string& dataset) {
  MethodOptions m;
  m.name = "anogan";
  m.preprocess.rgb = false;
  m.preprocess.scaling = Scaling::symmetric;
  const int64_t native = dataset == "fashion-mnist" ? 28 : 32;
  m.preprocess.height = m.preprocess.width = preset == "seed" ? 96 : native;
  m.optimizer = "adam";
  m.amsgrad = false;
  m.lr = 2e-4;
  m.batch_size = 64;
  m.latent_dim = 100;
  m.epochs = preset == "quick" ? 3 : 25;
  m.anogan_steps = preset == "quick" ? 20 : 500;
  return m;
}

// PANDA and Mean-Shifted Contrastive learning fine-tune pretrained features on normal images
// alone with their papers' settings in every preset (the authors' code): SGD, weight decay
// 5e-5, features.0 … 13 frozen, batch norm in eval mode (the methods' own); PANDA lr 1e-2,
// momentum 0.9, batch 32, gradient norm clipped to 1e-3, 15 epochs; MSC lr 1e-5, batch 64,
// 20 epochs. The scratch preset trains them 10 epochs, quick 3 (a demo: from random weights
// there is nothing pretrained to keep).
void pretrained_training_preset(MethodOptions& m, const std::string& preset) {
  m.optimizer = "sgd";
  m.weight_decay = 5e-5;
  m.freeze_blocks = 14;
  const bool panda = m.name == "panda";
  m.lr = panda ? 1e-2 : 1e-5;
  m.momentum = panda ? 0.9 : 0.0;
  m.batch_size = panda ? 32 : 64;
  m.max_grad_norm = panda ? 1e-3 : 0.0;
  m.epochs = preset == "seed" ? (panda ? 15 : 20) : preset == "quick" ? 3 : 10;
}

// What the map kinds need of a trained method in a trial: for occlusion its first score (a
// scoring method's first, or the first scorer fitted on the normal training features as
// test_scores fits it) and the mean normal training image, and with --inpaint unet an
// inpainter trained on the normal training images from Generator(derive_seed(seed, 7, 0))
// (seed: the trial's); for Grad-CAM the normal training features. Built only when
// o.map_kinds asks for a kind that needs them.
MapSource experiment_map_source(const Method& method, const BenchmarkSplit& split,
                                const ExperimentOptions& o, uint64_t seed) {
  MapSource s;
  s.method = &method;
  s.occlusion = o.occlusion;
  const auto wants = [&](const char* kind) {
    return std::find(o.map_kinds.begin(), o.map_kinds.end(), kind) != o.map_kinds.end();
  };
  if (split.normal_train.table || split.normal_train.size() == 0) return s;
  if (wants("gradcam") && gives_gradcam(method) && gradcam_needs_normal_features(method))
    s.normal_features = method.embed(split.normal_train);
  if (!wants("occlusion")) return s;
  const Preprocess& pre = method.options().preprocess;
  const ImageDataset sized = resize_images(split.normal_train,
                                           pre.height > 0 ? pre.height : split.normal_train.height,
                                           pre.width > 0 ? pre.width : split.normal_train.width);
  s.mean_image = mean_image(sized);
  if (o.occlusion.inpaint == "unet") {
    InpainterOptions io = o.occlusion.unet;
    io.mask_size = o.occlusion.size;
    Generator gen(derive_seed(seed, 7, 0));
    s.inpainter = Inpainter::train(sized, io, gen);
  }
  if (method.kind() == MethodKind::scoring) {
    s.score = [&method](const ImageDataset& images) {
      const std::vector<float> v = method.score(images).front().to_vector();
      return std::vector<double>(v.begin(), v.end());
    };
    return s;
  }
  const std::string name = scorers_of(method, o).front();
  std::shared_ptr<Scaler> scaler = make_scaler(scaler_for(name, o.center));
  std::shared_ptr<Scorer> scorer = make_scorer(name, name == "knn" ? o.knn_neighbors : o.lof_neighbors);
  scorer->fit(scaler->fit_transform(embed_features(method, split.normal_train, o.tta)));
  const std::string tta = o.tta;
  s.score = [&method, scaler, scorer, tta](const ImageDataset& images) {
    const std::vector<float> v = scorer->score(scaler->transform(embed_features(method, images, tta))).to_vector();
    return std::vector<double>(v.begin(), v.end());
  };
  return s;
}

// The figure of where `method` finds the test images of one trial anomalous: the 8 most and
// 8 least anomalous normal and anomalous test images by `scores` (M,), as input,
// reconstruction and map of `kind`, written to <out_dir>/maps/<dataset>-<method>.png (own
// maps) or <dataset>-<method>-<kind>.png.
MapFigure write_map_figure(const Method& method, const BenchmarkSplit& split,
                           const std::string& score, const Tensor& scores, int trial,
                           const ExperimentOptions& o, const MapSource& source, MapKind kind) {
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
  const auto start = std::chrono::steady_clock::now();
  AnomalyMaps maps;
  if (kind == MapKind::own) maps = method.maps(shown);
  else maps.maps = detector_maps(source, kind, shown);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
  f.file = kind == MapKind::own ? fmt::format("maps/{}-{}.png", o.dataset, method.name())
                                : fmt::format("maps/{}-{}-{}.png", o.dataset, method.name(),
                                              to_string(kind));
  f.kind = to_string(kind);
  f.seconds_per_image = seconds / static_cast<double>(std::max<size_t>(1, all.size()));
  f.low = scale.low;
  f.high = scale.high;
  std::filesystem::create_directories(o.out_dir + "/maps");
  write_png(o.out_dir + "/" + f.file, pixels, height, width, 3);
  return f;
}

// Whether `r` holds the results of the unit (trial t, method).
bool has_unit(const BenchmarkResults& r, int t, const std::string& method) {
  return std::any_of(r.trials.begin(), r.trials.end(), [&](const TrialResult& x) {
    return x.trial == t && x.method == method;
  });
}

// Appends the units (trial, method) of `from` that `into` lacks: their results (every
// scorer's) and map figures. A unit is recorded whole, so it is taken whole or not at all.
void add_missing_units(BenchmarkResults& into, const BenchmarkResults& from) {
  std::vector<std::pair<int, std::string>> taken;  // the units of `from` that `into` lacked
  for (const TrialResult& r : from.trials) {
    std::pair<int, std::string> unit{r.trial, r.method};
    const bool is_taken = std::find(taken.begin(), taken.end(), unit) != taken.end();
    if (!is_taken && has_unit(into, r.trial, r.method)) continue;
    if (!is_taken) taken.push_back(std::move(unit));
    into.trials.push_back(r);
  }
  for (const MapFigure& f : from.map_figures)
    if (std::find(taken.begin(), taken.end(), std::pair{f.trial, f.method}) != taken.end())
      into.map_figures.push_back(f);
}

// Results in the order one process records them: by trial, then by the method's place in
// `methods`; within a unit (its scorers) as they were recorded.
void order_units(BenchmarkResults& r, const std::vector<std::string>& methods) {
  auto place = [&](const std::string& m) { return std::find(methods.begin(), methods.end(), m) - methods.begin(); };
  std::stable_sort(r.trials.begin(), r.trials.end(), [&](const TrialResult& a, const TrialResult& b) {
    return std::pair{a.trial, place(a.method)} < std::pair{b.trial, place(b.method)};
  });
  std::stable_sort(r.map_figures.begin(), r.map_figures.end(), [&](const MapFigure& a, const MapFigure& b) {
    return std::pair{a.trial, place(a.method)} < std::pair{b.trial, place(b.method)};
  });
}

// Rank 0's merge of the ranks' records: `mine` with every unit of `texts` (results.json
// texts gathered from the ranks) that it lacks, in one-process order, written to
// `results_path` when there is one; returns the merged results as text, to broadcast.
std::string merge_records(BenchmarkResults mine, const std::vector<std::string>& texts,
                          const std::vector<std::string>& methods,
                          const std::string& results_path) {
  for (const std::string& text : texts)
    add_missing_units(mine, results_from_json(nlohmann::json::parse(text)));
  order_units(mine, methods);
  if (!results_path.empty()) write_results_json(results_path, mine);
  return results_json_text(mine);
}

// The rank that runs the k-th unit left: dealt as cards in a snake, 0 1 … S−1 S−1 … 1 0 0 1
// …, so that where every trial has the same methods (units of unlike cost in a repeating
// pattern) no rank gets the dearest method every time, as a plain round-robin would.
int dealt_to(size_t k, int size) {
  const auto s = static_cast<size_t>(size);
  const size_t round = k / s, place = k % s;
  return static_cast<int>(round % 2 == 0 ? place : s - 1 - place);
}

// Runs `step` on this rank, then lets every rank know whether it failed on any: then every
// rank throws the same GroupError naming the ranks (dist/communicator.h); in a run of one
// process, the step's own error, unchanged.
template <class Step>
void on_every_rank(Communicator& comm, const std::string& what, Step&& step) {
  std::exception_ptr failure;
  std::string message;
  try {
    step();
  } catch (const std::exception& e) {
    failure = std::current_exception();
    message = fmt::format("rank {} of {} {}: {}", comm.rank(), comm.size(), what, e.what());
  }
  raise_if_any_failed(comm, message);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

ExperimentOptions preset_options(const std::string& preset, const std::string& dataset,
                                 const std::vector<std::string>& methods,
                                 const std::string& pretrained) {
  KZ_CHECK(preset == "seed" || preset == "scratch" || preset == "quick", "benchmark",
           "unknown --preset '{}' (seed, scratch or quick)", preset);
  const bool table = dataset == "table";
  KZ_CHECK(table || preset != "seed" || !pretrained.empty(), "benchmark",
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
    if (name == "iforest" || name == "identity" || name == "lof" || name == "knn") {  // no network
      o.method_options.push_back(m);
      continue;
    }
    if (table) {  // the MLP on the standardised rows as they are
      m.pretrained = pretrained;
      m.preprocess.height = m.preprocess.width = 0;
      m.preprocess.rgb = false;
      m.preprocess.scaling = Scaling::none;
      m.optimizer = "adam";
      m.amsgrad = true;
      m.lr = 1e-3;
      m.batch_size = 64;
      m.epochs = preset == "quick" ? 10 : 50;
      if (name == "goad") m.mlp_widths = {8, 8, 8, 8, 8};  // the authors' netC5, ndf 8
      if (name == "ae") m.mlp_widths = {32, 16, 8};  // Deep SAD's tabular autoencoder
      o.method_options.push_back(m);
      continue;
    }
    m.pretrained = pretrained;
    m.preprocess.rgb = true;
    m.batch_size = 128;
    if (name == "ae" || name == "vae" || name == "ssim-ae" || name == "adae") {
      o.method_options.push_back(reconstruction_preset(name, preset, dataset));
      continue;
    }
    if (name == "anogan") {
      o.method_options.push_back(anogan_preset(preset, dataset));
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
    // GEOM and GOAD see every image 72 times per epoch: GEOM's ceil(200 / 72) = 3 epochs
    // (quick: 1), two images (144 transformed copies) per step.
    if (name == "geom" || name == "goad") {
      m.batch_size = 144;
      m.epochs = preset == "quick" ? 1 : 3;
    }
    if (name == "panda" || name == "msc") pretrained_training_preset(m, preset);
    o.method_options.push_back(m);
  }
  return o;
}

TrainTest load_benchmark_dataset(ExperimentOptions& o) {
  if (!o.table.empty()) {
    TrainTest data;
    data.train = table_dataset(load_csv(o.table, o.csv));
    return data;
  }
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

BenchmarkSplit draw_split(const TrainTest& data, const ExperimentOptions& o, uint64_t seed) {
  if (!o.table.empty()) {
    KZ_CHECK(!o.validate, "benchmark", "--validate is for images; a table has no held-out "
             "split of its own yet");
    return table_split(data.train, o.table_protocol, seed);
  }
  BenchmarkSplit split = benchmark_split(data, o.normal_class, o.anomaly_class,
                                         o.n_reference_per_class, o.n_normal_train,
                                         o.n_test_each, seed);
  if (o.validate) split = validation_split(data, split, o.normal_class, o.n_test_each, seed);
  return split;
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
  return embedding_scores(method, embed_features(method, split.normal_train, o.tta), split.test,
                          o);
}

std::vector<std::string> scorers_of(const Method& method, const ExperimentOptions& o) {
  if (o.scorers.empty() || method.name() == method.default_scorer())
    return {method.default_scorer()};
  return o.scorers;
}

std::vector<std::pair<std::string, Tensor>> embedding_scores(const Method& method,
                                                            const Tensor& train_features,
                                                            const ImageDataset& data,
                                                            const ExperimentOptions& o) {
  const Tensor features = embed_features(method, data, o.tta);
  std::vector<std::pair<std::string, Tensor>> out;
  for (const std::string& scorer : scorers_of(method, o)) {
    const int64_t k = scorer == "knn" ? o.knn_neighbors : o.lof_neighbors;
    out.emplace_back(scorer_label(scorer, o),
                     score_features(scorer, train_features, features, k, o.center));
  }
  return out;
}

Tensor score_features(const std::string& scorer, const Tensor& train, const Tensor& test,
                      int64_t neighbors, bool center) {
  std::unique_ptr<Scaler> scaler = make_scaler(scaler_for(scorer, center));
  const Tensor train_scaled = scaler->fit_transform(train);
  std::unique_ptr<Scorer> s = make_scorer(scorer, neighbors);
  s->fit(train_scaled);
  return s->score(scaler->transform(test));
}

std::string scorer_label(const std::string& scorer, const ExperimentOptions& o) {
  const ExperimentOptions defaults;
  std::vector<std::string> parts;
  if (scorer == "knn" && o.knn_neighbors != defaults.knn_neighbors)
    parts.push_back(fmt::format("k={}", o.knn_neighbors));
  if (scorer == "lof" && o.lof_neighbors != defaults.lof_neighbors)
    parts.push_back(fmt::format("k={}", o.lof_neighbors));
  if (scorer == "cosine" && o.center) parts.emplace_back("centred");
  if (o.tta != "none") parts.push_back(o.tta);
  return parts.empty() ? scorer : fmt::format("{}({})", scorer, fmt::join(parts, ","));
}

// The row label (TrialResult::scorer) of an ensemble member's score of `method` (score empty:
// the method's default): an embedding method's scorer_label, a scoring method's score name.
std::string member_label(const ExperimentOptions& o, const MethodOptions& mo,
                         const std::string& score) {
  const std::unique_ptr<Method> m = make_method(mo);
  if (m->kind() == MethodKind::scoring) return score.empty() ? m->score_names().front() : score;
  return scorer_label(score.empty() ? m->default_scorer() : score, o);
}

const MethodOptions& options_of(const ExperimentOptions& o, const std::string& method) {
  for (const MethodOptions& mo : o.method_options)
    if (mo.name == method) return mo;
  fail("benchmark", fmt::format("method '{}' is not among --methods", method));
}

// Refuses an ensemble whose members the run does not make, before any work.
void check_ensembles(const ExperimentOptions& o) {
  std::set<std::string> names;
  for (const EnsembleSpec& e : o.ensembles) {
    KZ_CHECK(names.insert(e.name).second, "--ensemble", "two ensembles are named '{}'", e.name);
    KZ_CHECK(std::find(o.methods.begin(), o.methods.end(), e.name) == o.methods.end(),
             "--ensemble", "the ensemble '{}' has the name of a method of --methods", e.name);
    for (const auto& [method, score] : e.members) {
      KZ_CHECK(std::find(o.methods.begin(), o.methods.end(), method) != o.methods.end(),
               "--ensemble", "{}: member method '{}' is not among --methods", e.name, method);
      const std::unique_ptr<Method> m = make_method(options_of(o, method));
      if (score.empty()) continue;
      if (m->kind() == MethodKind::scoring) {
        const std::vector<std::string> names_of = m->score_names();
        KZ_CHECK(std::find(names_of.begin(), names_of.end(), score) != names_of.end(),
                 "--ensemble", "{}: {} gives no score '{}' ({})", e.name, method, score,
                 fmt::join(names_of, ", "));
      } else {
        const std::vector<std::string> scorers = scorers_of(*m, o);
        KZ_CHECK(std::find(scorers.begin(), scorers.end(), score) != scorers.end(), "--ensemble",
                 "{}: {} is scored by {} in this run, not '{}'", e.name, method,
                 fmt::join(scorers, ", "), score);
      }
    }
  }
}

// For a finished unit: the labels of its rows that are ensemble members, each with its
// score's own name (a scorer, or a scoring method's score).
std::map<std::string, std::string> member_rows(const ExperimentOptions& o, const Method& method) {
  std::map<std::string, std::string> out;
  for (const EnsembleSpec& e : o.ensembles)
    for (const auto& [name, score] : e.members) {
      if (name != method.name()) continue;
      const std::string base =
          !score.empty() ? score
          : method.kind() == MethodKind::scoring ? method.score_names().front()
                                                 : method.default_scorer();
      out[member_label(o, method.options(), score)] = base;
    }
  return out;
}

// Keeps a member row's test scores and the mean and std (divisor n) of its normal training
// images' scores (anomaly/ensemble.h: cross-fitted for an embedding scorer).
void keep_member_scores(TrialResult& r, const Method& method, const BenchmarkSplit& split,
                        const ExperimentOptions& o, const std::string& base,
                        std::vector<double> test) {
  Tensor train;
  if (method.kind() == MethodKind::scoring) {
    const std::vector<std::string> names = method.score_names();
    const auto at = std::find(names.begin(), names.end(), base) - names.begin();
    train = method.score(split.normal_train)[static_cast<size_t>(at)];
  } else {
    const int64_t k = base == "knn" ? o.knn_neighbors : o.lof_neighbors;
    train = cross_fitted_scores(base, embed_features(method, split.normal_train, o.tta), k,
                                o.center);
  }
  const std::vector<float> v = train.to_vector();
  double mean = 0.0, var = 0.0;
  for (float x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (float x : v) var += (x - mean) * (x - mean);
  r.test_scores = std::move(test);
  r.normal_train_mean = mean;
  r.normal_train_std = std::sqrt(var / static_cast<double>(v.size()));
}

// Adds the rows of every ensemble for every trial whose members are all recorded (and that
// lacks the row), in the runner's order.
void add_ensemble_rows(BenchmarkResults& r, const ExperimentOptions& o, const TrainTest& data,
                       const ExperimentCallbacks& callbacks) {
  std::vector<std::string> order = o.methods;
  for (int t = 0; t < o.trials; ++t) {
    std::optional<BenchmarkSplit> split;
    for (const EnsembleSpec& e : o.ensembles) {
      if (has_unit(r, t, e.name)) continue;
      std::vector<const TrialResult*> members;
      std::set<std::string> member_methods;
      double train_seconds = 0.0;
      for (const auto& [method, score] : e.members) {
        const std::string label = member_label(o, options_of(o, method), score);
        for (const TrialResult& row : r.trials)
          if (row.trial == t && row.method == method && row.scorer == label &&
              !row.test_scores.empty()) {
            members.push_back(&row);
            if (member_methods.insert(method).second) train_seconds += row.train_seconds;
          }
      }
      if (members.size() != e.members.size()) continue;  // a member failed or is not yet run
      if (!split) {
        const uint64_t seed = o.seed + static_cast<uint64_t>(t);
        split = draw_split(data, o, seed);  // the test set is all the ensemble needs
      }
      const std::vector<int> labels(split->test.labels.begin(), split->test.labels.end());
      const std::vector<double> scores = ensemble_scores(members);
      TrialResult row;
      row.dataset = o.dataset;
      row.method = e.name;
      row.scorer = "ensemble";
      row.trial = t;
      row.seed = o.seed + static_cast<uint64_t>(t);
      row.auc = roc_auc(scores, labels);
      row.roc = roc_curve(scores, labels);
      row.train_seconds = train_seconds;
      r.trials.push_back(std::move(row));
      if (callbacks.result) callbacks.result(r.trials.back());
    }
  }
  for (const EnsembleSpec& e : o.ensembles) order.push_back(e.name);
  order_units(r, order);
}

BenchmarkResults run_benchmark(const ExperimentOptions& options,
                               const ExperimentCallbacks& callbacks, Communicator* communicator) {
  SingleCommunicator single;
  Communicator& comm = communicator != nullptr ? *communicator : single;
  const int rank = comm.rank(), size = comm.size();
  ExperimentOptions o = options;
  // Data-parallel: every rank on every unit, recorded by rank 0 alone (as one process).
  const bool dp = o.data_parallel;
  const bool writer = !dp || rank == 0;
  const std::string results_path = o.out_dir + "/results.json";
  const std::string checkpoints = o.out_dir + "/checkpoints";
  const std::string ranks_dir = o.out_dir + "/ranks";
  // Where this process records each unit it finishes: results.json itself in a run of one
  // process, ranks/rank<r>.json in a run of several (rank 0 merges them into results.json).
  const std::string record_path =
      size == 1 || dp ? results_path : fmt::format("{}/rank{}.json", ranks_dir, rank);

  // Set up, the same on every rank: settings, data, and what this rank sees recorded.
  TrainTest data;
  BenchmarkResults results, seen;
  on_every_rank(comm, "could not start", [&] {
    KZ_CHECK(o.trials >= 1, "benchmark", "--trials must be at least 1, got {}", o.trials);
    KZ_CHECK(o.method_options.size() == o.methods.size(), "benchmark",
             "{} methods but {} method settings", o.methods.size(), o.method_options.size());
    for (const std::string& s : o.scorers)
      KZ_CHECK(s == "lof" || s == "cosine" || s == "knn" || s == "gde", "benchmark",
               "unknown scorer '{}' (lof, cosine, knn or gde)", s);
    KZ_CHECK(o.knn_neighbors >= 1, "benchmark", "--knn-k must be at least 1, got {}",
             o.knn_neighbors);
    KZ_CHECK(o.lof_neighbors >= 1, "benchmark", "LOF's n_neighbors must be at least 1, got {}",
             o.lof_neighbors);
    KZ_CHECK(o.known_anomalies >= 0, "benchmark", "--known-anomalies must be >= 0, got {}",
             o.known_anomalies);
    check_tta(o.tta, "--tta");
    check_ensembles(o);
    KZ_CHECK(o.eval_every >= 0, "benchmark", "--eval-every must be >= 0 (0 = off), got {}",
             o.eval_every);
    KZ_CHECK(o.early_stop == "none" || o.early_stop == "proxy", "benchmark",
             "--early-stop must be 'none' or 'proxy', got '{}'", o.early_stop);
    KZ_CHECK(o.early_stop == "none" || (o.eval_every > 0 && o.table.empty()), "benchmark",
             "--early-stop proxy chooses among the evaluations of --eval-every N on images' "
             "proxy set: give --eval-every (tables have no proxy set yet)");
    KZ_CHECK(o.proxy_each >= 0, "benchmark", "--proxy-size must be >= 0, got {}", o.proxy_each);
    for (const std::string& m : o.methods) {
      const MethodInfo& info = method_info(m);  // unknown names fail before any work
      KZ_CHECK(!o.validate || !info.uses_reference, "benchmark",
               "--validate scores reference-set images as anomalies, but method '{}' trains "
               "on the reference set; validate it another way or leave it out", m);
    }
    for (const MethodOptions& m : o.method_options)
      KZ_CHECK(!o.validate || !m.with_reference, "benchmark",
               "--validate scores reference-set images as anomalies, but --with-reference "
               "trains {} on the reference set; leave one of them out", m.name);
    data = load_benchmark_dataset(o);
    if (!o.table.empty() && o.known_anomalies > 0)  // too few rows left fails now too
      (void)table_known_anomalies(data.train, draw_split(data, o, o.seed), o.table_protocol,
                                  o.known_anomalies, o.seed);
    else if (!o.table.empty())
      (void)draw_split(data, o, o.seed);  // a bad --normal fails now
    results.settings = settings_json(o);
    results.environment = environment_json();
    results.environment["ranks"] = size;
    if (dp)
      results.environment["data_parallel"] = {{"sync_bn", o.sync_bn}, {"bucket_mb", o.bucket_mb}};
    seen.settings = results.settings;
    if (o.out_dir.empty()) return;
    std::filesystem::create_directories(checkpoints);
    if (size > 1 && !dp) std::filesystem::create_directories(ranks_dir);
    // --resume: results.json and every rank's record this rank can see (a shared folder:
    // all of them; a folder of its own machine: its own).
    std::vector<std::string> records{results_path};
    if (std::filesystem::is_directory(ranks_dir))
      for (const auto& e : std::filesystem::directory_iterator(ranks_dir))
        if (e.path().extension() == ".json") records.push_back(e.path().string());
    for (const std::string& path : records) {
      if (!o.resume) {  // a fresh run: the records of an earlier one are not this run's
        if (path != results_path && (rank == 0 || path == record_path)) remove_file(path);
        continue;
      }
      if (!std::filesystem::exists(path)) continue;
      const BenchmarkResults r = read_results_json(path);
      check_fingerprint(path, r.settings, results.settings);
      add_missing_units(seen, r);
    }
  });
  // Rank 0 merges what the ranks saw, records it in results.json (so that each rank may now
  // rewrite its own record), and every rank takes the merged list as done.
  const std::vector<std::string> seen_texts = comm.gather(results_json_text(seen), 0);
  std::string done_text;
  on_every_rank(comm, "could not merge the recorded results", [&] {
    if (rank != 0) return;
    done_text = merge_records(results, seen_texts, o.methods,
                              o.out_dir.empty() ? "" : results_path);
  });
  comm.broadcast(done_text, 0);
  const BenchmarkResults done = results_from_json(nlohmann::json::parse(done_text));

  // The units left, in the order one process runs them; dealt_to() says whose each is.
  std::vector<std::pair<int, size_t>> pending;  // (trial, index into o.method_options)
  for (int t = 0; t < o.trials; ++t)
    for (size_t m = 0; m < o.method_options.size(); ++m) {
      const std::string& name = o.method_options[m].name;
      if (!has_unit(done, t, name)) {
        pending.emplace_back(t, m);
        continue;
      }
      for (const TrialResult& r : done.trials)
        if (r.trial == t && r.method == name) results.trials.push_back(r);
      for (const MapFigure& f : done.map_figures)
        if (f.trial == t && f.method == name) results.map_figures.push_back(f);
      if (rank != 0) continue;
      if (callbacks.resumed) callbacks.resumed(t, name, "recorded in " + results_path);
      if (callbacks.result)
        for (const TrialResult& r : done.trials)
          if (r.trial == t && r.method == name) callbacks.result(r);
      // A run killed between recording these and dropping the checkpoint left it behind.
      if (!o.out_dir.empty())
        for (const char* kind : {"ckpt", "best"})
          remove_file(fmt::format("{}/trial{}-{}.{}", checkpoints, t, name, kind));
    }

  std::exception_ptr failure;
  std::string failure_message;
  std::optional<BenchmarkSplit> split;  // of trial split_trial, drawn when a unit needs it
  int split_trial = -1;
  for (size_t k = 0; k < pending.size(); ++k) {
    if (!dp && dealt_to(k, size) != rank) continue;
    const int t = pending[k].first;  // not a structured binding: lambdas below capture it
    const MethodOptions& mo = o.method_options[pending[k].second];
    const uint64_t seed = o.seed + static_cast<uint64_t>(t);
    try {
      if (callbacks.started && writer) callbacks.started(t, mo.name);
      CheckpointOptions ck;
      std::string best_path;  // --early-stop's kept weights (anomaly/training_watch.h)
      if (!o.out_dir.empty()) {
        ck.path = fmt::format("{}/trial{}-{}.ckpt", checkpoints, t, mo.name);
        best_path = fmt::format("{}/trial{}-{}.best", checkpoints, t, mo.name);
      }
      ck.resume = o.resume;
      if (split_trial != t) {
        split = draw_split(data, o, seed);
        if (o.known_anomalies > 0 && !o.table.empty())
          split = table_known_anomalies(data.train, *split, o.table_protocol,
                                        o.known_anomalies, seed);
        else if (o.known_anomalies > 0)
          split = with_known_anomalies(data, *split, o.anomaly_class, o.known_anomalies, seed);
        if (o.eval_every > 0 && o.table.empty() && o.proxy_each > 0)
          split = with_proxy_set(data, *split, o.normal_class, o.proxy_each, seed);
        split_trial = t;
      }
      const std::vector<int> labels(split->test.labels.begin(), split->test.labels.end());
      std::unique_ptr<Method> method = make_method(mo);
      method->set_checkpoint(ck);
      if (dp) method->set_data_parallel({&comm, o.sync_bn, o.bucket_mb});
      std::optional<TrainingWatch> watch;  // --eval-every, --early-stop
      if (o.eval_every > 0 && method->kind() == MethodKind::embedding) {
        watch.emplace(*method, *split, o, best_path, writer);
        method->set_epoch_hook(watch->hook());
      }
      method->train(*split, seed, [&](const TrainProgress& p) {
        if (callbacks.progress && writer) callbacks.progress(t, mo.name, p);
      });
      if (watch) watch->finish();
      if (dp && writer && callbacks.synced)
        callbacks.synced(t, mo.name, method->sync_timing(), method->train_seconds());
      const std::string samples = writer ? training_notes(*method, o, t, callbacks) : "";
      if (method->resumed_epochs() > 0 && callbacks.resumed && writer)
        callbacks.resumed(t, mo.name,
                          fmt::format("continued from {} after epoch {}", ck.path,
                                      method->resumed_epochs()));
      const std::vector<std::pair<std::string, Tensor>> scored = test_scores(*method, *split, o);
      if (t == 0 && !o.out_dir.empty() && writer) {
        const MapSource source = experiment_map_source(*method, *split, o, seed);
        std::vector<MapKind> kinds;
        if (method->gives_maps()) kinds.push_back(MapKind::own);
        for (const std::string& k : o.map_kinds) {
          const MapKind kind = parse_map_kind(k, "--maps");
          if (kind != MapKind::own && gives_map_kind(source, kind)) kinds.push_back(kind);
        }
        for (const MapKind kind : kinds)
          results.map_figures.push_back(write_map_figure(*method, *split, scored.front().first,
                                                         scored.front().second, t, o, source, kind));
      }
      const std::map<std::string, std::string> members = member_rows(o, *method);
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
        r.warnings = method->training_warnings();
        r.samples = samples;
        const auto member = members.find(scorer);
        if (member != members.end()) keep_member_scores(r, *method, *split, o, member->second, sd);
        if (watch) {
          if (auto c = watch->curves().find(scorer); c != watch->curves().end()) r.curve = c->second;
          r.chosen_epoch = watch->chosen_epoch();
        }
        results.trials.push_back(r);
        if (callbacks.result && writer) callbacks.result(r);
      }
      if (!o.out_dir.empty() && writer) {  // record it first, then drop its checkpoint
        order_units(results, o.methods);
        write_results_json(record_path, results);
        remove_file(ck.path);  // and what a killed checkpoint write left
        remove_file(best_path);
      }
    } catch (const std::exception& e) {  // this rank stops; the others finish their units
      failure = std::current_exception();
      failure_message = fmt::format("rank {} of {} failed on trial {}/{}, method {}: {}", rank,
                                    size, t + 1, o.trials, mo.name, e.what());
      if (dp && size > 1) {  // the other ranks wait inside this unit's collectives
        fmt::print(stderr, "kizuki: {}\n", failure_message);
        comm.abort(1);
      }
      break;
    }
  }

  // Rank 0 gathers every rank's finished units (a failed rank's too) and records them all in
  // results.json; then every rank learns whether any failed.
  const std::vector<std::string> finished = comm.gather(results_json_text(results), 0);
  std::string merged_text;
  if (rank == 0) {
    try {
      merged_text = merge_records(results, finished, o.methods,
                                  o.out_dir.empty() ? "" : results_path);
      if (!o.ensembles.empty()) {  // made once every member is recorded, whoever ran it
        BenchmarkResults merged = results_from_json(nlohmann::json::parse(merged_text));
        add_ensemble_rows(merged, o, data, callbacks);
        if (!o.out_dir.empty()) write_results_json(results_path, merged);
        merged_text = results_json_text(merged);
      }
    } catch (const std::exception& e) {
      if (!failure) failure = std::current_exception();
      failure_message += fmt::format("{}rank 0 of {} could not record the results: {}",
                                     failure_message.empty() ? "" : "; ", size, e.what());
    }
  }
  raise_if_any_failed(comm, failure_message);
  if (failure) std::rethrow_exception(failure);  // one process: its own error, unchanged
  comm.broadcast(merged_text, 0);
  if (!o.out_dir.empty()) {  // every record (this run's, an earlier one's) is in results.json
    if (size > 1 && !dp) remove_file(record_path);  // where each rank's disk is its own
    comm.barrier();
    std::error_code ignored;
    if (rank == 0) std::filesystem::remove_all(ranks_dir, ignored);
  }
  return results_from_json(nlohmann::json::parse(merged_text));
}

}  // namespace kz
