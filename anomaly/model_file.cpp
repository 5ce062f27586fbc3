// model_file.cpp — training, saving, loading and applying a detector (see model_file.h).
#include "anomaly/model_file.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "data/loader.h"
#include "losses/arcface.h"
#include "losses/l2_softmax.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

namespace kz {

namespace {

constexpr double kThresholdQuantile = 0.95;

// numpy.percentile's default (linear) on sorted copies.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<double> to_doubles(const Tensor& t) {
  const std::vector<float> f = t.to_vector();
  return {f.begin(), f.end()};
}

// The head a method trains, rebuilt empty for loading.
std::shared_ptr<MarginHead> make_head(const MethodOptions& m, int64_t features, int64_t classes) {
  Generator gen(0);  // values are overwritten by the loaded state
  if (m.name == "arcface")
    return std::make_shared<ArcFaceHead>(features, classes, m.arcface_s, m.arcface_m, false, gen);
  if (m.name == "l2softmax")
    return std::make_shared<L2SoftmaxHead>(features, classes, m.alpha, gen);
  return std::make_shared<SoftmaxHead>(features, classes, gen);
}

// The entries of `all` whose names start with prefix, with the prefix removed.
std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& all,
                                          const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

nlohmann::json config_json(const AnomalyModel& model) {
  const MethodOptions& m = model.method->options();
  const MobileNetV2Options& b = model.method->backbone().options();
  return {{"method", m.name},
          {"width", b.width},
          {"bn_eps", b.bn_eps},
          {"padding", to_string(b.padding)},
          {"image_height", m.preprocess.height},
          {"image_width", m.preprocess.width},
          {"rgb", m.preprocess.rgb},
          {"scaling", scaling_name(m.preprocess.scaling)},
          {"alpha", m.alpha},
          {"arcface_s", m.arcface_s},
          {"arcface_m", m.arcface_m},
          {"scaler", model.scaler_name},
          {"scorer", model.scorer_name},
          {"neighbors", model.neighbors},
          {"threshold", model.threshold},
          {"class_names", model.class_names}};
}

}  // namespace

AnomalyModel::Scores AnomalyModel::score(const ImageDataset& images) const {
  KZ_CHECK(images.size() > 0, "score", "no images to score");
  // Resize once here so that images of any size become one batch-able set.
  const Tensor features = method->embed(images);
  Scores out;
  out.score = to_doubles(scorer->score(scaler->transform(features)));
  for (double s : out.score) out.flagged.push_back(s > threshold);
  if (const auto& head = method->head()) {
    NoGradGuard no_grad;
    head->eval();
    const Tensor best = argmax(head->forward(Variable(features)).data(), 1);
    for (float c : best.to_vector()) out.predicted.push_back(static_cast<int64_t>(c));
  }
  return out;
}

AnomalyModel train_model(const ImageDataset& normal, const ImageDataset& reference,
                         const TrainModelOptions& options, const ProgressFn& progress) {
  const std::string& name = options.method.name;
  KZ_CHECK(normal.size() >= 4, "train", "{}: need at least 4 normal images, found {}",
           normal.source, normal.size());
  KZ_CHECK(name == "frozen" || reference.size() > 0, "train",
           "--method {} learns from reference classes: pass --reference DIR (one subfolder "
           "per class), or use --method frozen",
           name);

  // Hold out a tenth of the normal images to set the threshold.
  Generator gen(options.seed);
  const std::vector<int64_t> order = random_permutation(normal.size(), gen);
  const int64_t held = std::max<int64_t>(2, normal.size() / 10);
  const std::vector<int64_t> holdout(order.begin(), order.begin() + held);
  const std::vector<int64_t> fit(order.begin() + held, order.end());

  // The split the methods train on: reference labels 0 … R−1, normal label R.
  BenchmarkSplit split;
  std::vector<std::string> names = reference.class_names;
  names.push_back("normal");
  split.reference = reference;
  split.reference.class_names = names;
  split.normal_train = normal.subset(fit);
  split.normal_train.class_names = names;
  split.normal_train.labels.assign(fit.size(), static_cast<int64_t>(names.size()) - 1);

  AnomalyModel model;
  model.method = make_method(options.method);
  model.method->set_checkpoint(options.checkpoint);
  model.method->train(split, options.seed, progress);
  if (model.method->head()) model.class_names = name == "doc" ? reference.class_names : names;
  model.scorer_name = options.scorer.empty() ? model.method->default_scorer() : options.scorer;
  model.scaler_name = model.scorer_name == "cosine" ? "none" : "minmax";
  model.neighbors = options.neighbors;
  model.scaler = make_scaler(model.scaler_name);
  model.scorer = make_scorer(model.scorer_name, model.neighbors);
  model.scorer->fit(model.scaler->fit_transform(model.method->embed(split.normal_train)));
  const Tensor held_features = model.method->embed(normal.subset(holdout));
  model.threshold =
      quantile(to_doubles(model.scorer->score(model.scaler->transform(held_features))),
               kThresholdQuantile);
  return model;
}

void save_model(const std::string& path, const AnomalyModel& model) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [k, t] : model.method->backbone().state_dict()) tensors["backbone." + k] = t;
  if (model.method->head())
    for (const auto& [k, t] : model.method->head()->state_dict()) tensors["head." + k] = t;
  for (const auto& [k, t] : model.scaler->state_dict()) tensors["scaler." + k] = t;
  for (const auto& [k, t] : model.scorer->state_dict()) tensors["scorer." + k] = t;
  save_safetensors(path, tensors,
                   {{"format", "kizuki-model"},
                    {"format_version", "1"},
                    {"config", config_json(model).dump()}});
}

AnomalyModel load_model(const std::string& path) { return parse_model(read_file(path), path); }

AnomalyModel parse_model(const std::string& bytes, const std::string& path) {
  const Safetensors file = parse_safetensors(bytes, path);
  auto bad = [&](const std::string& what) { fail("model", path + ": " + what); };
  auto meta = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) bad("not a kizuki model (no '" + key + "' in its metadata)");
    return it->second;
  };
  if (meta("format") != "kizuki-model") bad("not a kizuki model (format '" + meta("format") + "')");
  if (meta("format_version") != "1") bad("unsupported format_version " + meta("format_version"));

  AnomalyModel model;
  MethodOptions m;
  MobileNetV2Options b;
  try {
    const nlohmann::json c = nlohmann::json::parse(meta("config"));
    m.name = c.at("method").get<std::string>();
    b.width = m.width = c.at("width").get<double>();
    b.bn_eps = c.at("bn_eps").get<float>();
    b.padding = parse_padding_mode(c.at("padding").get<std::string>(), path);
    b.num_classes = 0;
    m.preprocess.height = c.at("image_height").get<int64_t>();
    m.preprocess.width = c.at("image_width").get<int64_t>();
    m.preprocess.rgb = c.at("rgb").get<bool>();
    m.preprocess.scaling = parse_scaling(c.at("scaling").get<std::string>());
    m.alpha = c.at("alpha").get<float>();
    m.arcface_s = c.at("arcface_s").get<float>();
    m.arcface_m = c.at("arcface_m").get<float>();
    model.scaler_name = c.at("scaler").get<std::string>();
    model.scorer_name = c.at("scorer").get<std::string>();
    model.neighbors = c.at("neighbors").get<int64_t>();
    model.threshold = c.at("threshold").get<double>();
    model.class_names = c.at("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("its config is not valid: ") + e.what());
  } catch (const Error& e) {
    bad(e.what());
  }
  if (m.preprocess.height < 8 || m.preprocess.width < 8 || m.preprocess.height > 4096 ||
      m.preprocess.width > 4096)
    bad(fmt::format("image size {}x{} is outside 8…4096", m.preprocess.height,
                    m.preprocess.width));
  if (!(b.width > 0.0 && b.width <= 4.0)) bad(fmt::format("width {} is outside (0, 4]", b.width));

  Generator gen(0);
  auto backbone = std::make_shared<MobileNetV2>(b, gen);
  try {
    backbone->load_state_dict(with_prefix(file.tensors, "backbone."));
  } catch (const Error& e) {
    bad(std::string("its backbone does not match its config (width ") + std::to_string(b.width) +
        "): " + e.what());
  }
  std::shared_ptr<MarginHead> head;
  const auto head_state = with_prefix(file.tensors, "head.");
  if (!head_state.empty()) {
    head = make_head(m, backbone->feature_dim(), static_cast<int64_t>(model.class_names.size()));
    try {
      head->load_state_dict(head_state);
    } catch (const Error& e) {
      bad(std::string("its head does not match its classes: ") + e.what());
    }
  }
  model.method = make_method(m);
  model.method->set_networks(backbone, head);
  try {
    model.scaler = make_scaler(model.scaler_name);
    model.scaler->load_state_dict(with_prefix(file.tensors, "scaler."));
    model.scorer = make_scorer(model.scorer_name, model.neighbors);
    model.scorer->load_state_dict(with_prefix(file.tensors, "scorer."));
  } catch (const Error& e) {
    bad(e.what());
  }
  // The scorer must have been fitted on this backbone's features.
  try {
    NoGradGuard no_grad;
    model.scorer->score(Tensor::zeros({1, backbone->feature_dim()}));
  } catch (const Error& e) {
    bad(fmt::format("its scorer was not fitted on this backbone's {}-d features: {}",
                    backbone->feature_dim(), e.what()));
  }
  return model;
}

}  // namespace kz
