// model_file.cpp — training, saving, loading and applying a detector (see model_file.h).
#include "anomaly/model_file.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include <fmt/ranges.h>

#include "anomaly/gradcam.h"
#include "anomaly/occlusion.h"
#include "autograd/functions.h"
#include "data/loader.h"
#include "tensor/build_info.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

namespace kz {

namespace {

constexpr double kThresholdQuantile = 0.95;
// The format this build writes and the newest it reads. Every file also records the kizuki
// version that wrote it (metadata "kizuki_version"; older files lack it), which the refusal
// of a newer format names.
constexpr int kModelFormat = 2;

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

// The entries of `all` whose names start with prefix, with the prefix removed.
std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& all,
                                          const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

bool embeds(const AnomalyModel& model) { return model.method->kind() == MethodKind::embedding; }

// The model's score of each image (higher = more anomalous).
std::vector<double> model_scores(const AnomalyModel& model, const ImageDataset& images) {
  if (embeds(model))
    return to_doubles(
        model.scorer->score(model.scaler->transform(embed_features(*model.method, images, model.tta))));
  const std::vector<std::string> names = model.method->score_names();
  const auto it = std::find(names.begin(), names.end(), model.scorer_name);
  KZ_CHECK(it != names.end(), "model", "{} gives no score '{}' ({})", model.method->name(),
           model.scorer_name, fmt::join(names, ", "));
  return to_doubles(model.method->score(images)[static_cast<size_t>(it - names.begin())]);
}

// A version-1 file's config (MobileNetV2 methods only) as version 2's method settings and
// architecture.
void upgrade_v1_config(nlohmann::json& c, bool has_head) {
  MethodOptions m;
  m.name = c.at("method").get<std::string>();
  m.width = c.at("width").get<double>();
  m.preprocess.height = c.at("image_height").get<int64_t>();
  m.preprocess.width = c.at("image_width").get<int64_t>();
  m.preprocess.rgb = c.at("rgb").get<bool>();
  m.preprocess.scaling = parse_scaling(c.at("scaling").get<std::string>());
  m.alpha = c.at("alpha").get<double>();
  m.arcface_s = c.at("arcface_s").get<double>();
  m.arcface_m = c.at("arcface_m").get<double>();
  KZ_CHECK(m.preprocess.height == m.preprocess.width, "model", "image size {}x{} is not square",
           m.preprocess.height, m.preprocess.width);
  c["architecture"] = {{"width", m.width},
                       {"bn_eps", c.at("bn_eps")},
                       {"padding", c.at("padding")},
                       {"head_classes", has_head ? c.at("class_names").size() : 0}};
  c["method"] = method_options_json(m);
}

nlohmann::json config_json(const AnomalyModel& model) {
  nlohmann::json c = {{"method", method_options_json(model.method->options())},
                      {"architecture", model.method->architecture()},
                      {"scaler", model.scaler_name},
                      {"scorer", model.scorer_name},
                      {"neighbors", model.neighbors},
                      {"threshold", model.threshold},
                      {"class_names", model.class_names}};
  if (model.tta != "none") c["tta"] = model.tta;  // absent: older readers' files unchanged
  if (model.inpainter) c["inpainter"] = model.inpainter->architecture();
  if (!model.table.features.empty())
    c["table"] = {{"columns", model.table.features},
                  {"label", model.table.label},
                  {"drop", model.table.drop},
                  {"mean", model.table.scaling.mean},
                  {"scale", model.table.scaling.scale}};
  return c;
}

// A table model's raw rows standardised as it trained; images as they are.
ImageDataset model_input(const AnomalyModel& model, const ImageDataset& images) {
  if (model.table.features.empty()) {
    KZ_CHECK(!images.table, "score", "{}: a table, but the model was trained on images",
             images.source);
    return images;
  }
  KZ_CHECK(images.table, "score", "{}: images, but the model was trained on a table",
           images.source);
  ImageDataset rows = images;
  apply_table_scaling(rows, model.table.scaling);
  return rows;
}

}  // namespace

AnomalyModel::Scores AnomalyModel::score(const ImageDataset& input) const {
  KZ_CHECK(input.size() > 0, "score", "no images to score");
  const ImageDataset images = model_input(*this, input);
  Scores out;
  if (embeds(*this)) {
    const Tensor features = embed_features(*method, images, tta);
    out.score = to_doubles(scorer->score(scaler->transform(features)));
    if (const Tensor logits = method->class_logits(features); logits.defined())
      for (float c : argmax(logits, 1).to_vector()) out.predicted.push_back(static_cast<int64_t>(c));
  } else {
    out.score = model_scores(*this, images);
  }
  for (double s : out.score) out.flagged.push_back(s > threshold);
  return out;
}

ThresholdHoldout threshold_holdout(int64_t n, uint64_t seed) {
  Generator gen(seed);
  const std::vector<int64_t> order = random_permutation(n, gen);
  const int64_t held = std::min(n, std::max<int64_t>(2, n / 10));
  return {std::vector<int64_t>(order.begin() + held, order.end()),
          std::vector<int64_t>(order.begin(), order.begin() + held)};
}

AnomalyModel train_model(const ImageDataset& normal_rows, const ImageDataset& reference_rows,
                         const TrainModelOptions& options, const ProgressFn& progress) {
  const MethodInfo& info = method_info(options.method.name);
  KZ_CHECK(normal_rows.size() >= 4, "train", "{}: need at least 4 normal {}, found {}",
           normal_rows.source, normal_rows.table ? "rows" : "images", normal_rows.size());
  KZ_CHECK(!normal_rows.table ||
               static_cast<int64_t>(options.table.features.size()) == normal_rows.channels,
           "train", "{}: {} feature columns named for rows of {} features", normal_rows.source,
           options.table.features.size(), normal_rows.channels);
  KZ_CHECK(normal_rows.table || options.table.features.empty(), "train",
           "{}: table columns given for images", normal_rows.source);
  KZ_CHECK(!info.uses_reference || reference_rows.size() > 0, "train",
           "--method {} learns from reference classes: pass --reference DIR (one subfolder "
           "per class), or use a method that learns from normal images alone (such as frozen)",
           info.name);

  // Hold out a tenth of the normal images to set the threshold.
  const ThresholdHoldout parts = threshold_holdout(normal_rows.size(), options.seed);
  const std::vector<int64_t>& holdout = parts.held;
  const std::vector<int64_t>& fit = parts.fit;
  // A table is standardised with the statistics of the rows the method trains on.
  TableColumns table = options.table;
  ImageDataset normal = normal_rows, reference = reference_rows;
  if (normal.table) {
    table.scaling = table_scaling(normal_rows.subset(fit));
    apply_table_scaling(normal, table.scaling);
    apply_table_scaling(reference, table.scaling);
  }

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
  model.method = info.make(options.method);
  // The scoring settings are checked before hours of training.
  if (!options.scorer.empty() && !embeds(model)) {
    const std::vector<std::string> names = model.method->score_names();
    KZ_CHECK(std::find(names.begin(), names.end(), options.scorer) != names.end(), "train",
             "--method {} gives the scores {}, not '{}'", info.name, fmt::join(names, ", "),
             options.scorer);
  }
  if (embeds(model)) {
    const std::string own = model.method->default_scorer();
    KZ_CHECK(info.name != own || options.scorer.empty() || options.scorer == own, "train",
             "--method {} is the rows scored by {}; for --scorer {} on the rows use --method "
             "identity", info.name, own, options.scorer);
    model.scorer_name = options.scorer.empty() ? own : options.scorer;
    model.scaler_name = scaler_for(model.scorer_name, options.center);
    model.scorer = make_scorer(model.scorer_name, options.neighbors);  // unknown names fail
  } else {
    model.scorer_name = options.scorer.empty() ? model.method->score_names().front() : options.scorer;
    model.scaler_name = "none";
  }
  KZ_CHECK(options.neighbors >= 1, "train", "--knn-k must be at least 1, got {}",
           options.neighbors);
  KZ_CHECK(!options.center || model.scorer_name == "cosine", "train",
           "--center changes only the cosine scorer (the scorer here is '{}': Euclidean "
           "distances do not change when every feature is shifted)", model.scorer_name);
  check_tta(options.tta, "--tta");
  KZ_CHECK(options.tta == "none" || embeds(model), "train",
           "--tta {} averages features, but --method {} is a scoring method", options.tta,
           info.name);
  model.tta = options.tta;
  model.neighbors = options.neighbors;
  model.table = table;
  model.method->set_checkpoint(options.checkpoint);
  model.method->set_data_parallel(options.parallel);
  model.method->train(split, options.seed, progress);
  model.class_names = model.method->head_classes(split);
  if (embeds(model)) {
    model.scaler = make_scaler(model.scaler_name);
    model.scorer->fit(
        model.scaler->fit_transform(embed_features(*model.method, split.normal_train, model.tta)));
  }
  model.threshold = quantile(model_scores(model, normal.subset(holdout)), kThresholdQuantile);
  if (!normal.table) {
    const Preprocess& pre = model.method->options().preprocess;
    model.mean_image = mean_image(resize_images(split.normal_train,
                                                pre.height > 0 ? pre.height : normal.height,
                                                pre.width > 0 ? pre.width : normal.width));
    if (gives_gradcam(*model.method) && gradcam_needs_normal_features(*model.method))
      model.normal_features = model.method->embed(split.normal_train);
    if (options.occlusion.inpaint == "unet") {
      InpainterOptions io = options.occlusion.unet;
      io.mask_size = options.occlusion.size;
      Generator gen(derive_seed(options.seed, 7, 0));
      model.inpainter = Inpainter::train(
          resize_images(split.normal_train, model.mean_image.size(1), model.mean_image.size(2)),
          io, gen);
    }
  }
  return model;
}

void save_model(const std::string& path, const AnomalyModel& model) {
  std::map<std::string, Tensor> tensors = model.method->state_dict();
  if (embeds(model)) {
    for (const auto& [k, t] : model.scaler->state_dict()) tensors["scaler." + k] = t;
    for (const auto& [k, t] : model.scorer->state_dict()) tensors["scorer." + k] = t;
  }
  if (model.normal_features.defined()) tensors["maps.normal_features"] = model.normal_features;
  if (model.mean_image.defined()) tensors["maps.mean_image"] = model.mean_image;
  if (model.inpainter)
    for (const auto& [k, t] : model.inpainter->state_dict()) tensors["maps.inpainter." + k] = t;
  save_safetensors(path, tensors,
                   {{"format", "kizuki-model"},
                    {"format_version", std::to_string(kModelFormat)},
                    {"kizuki_version", kizuki_version()},
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
  const auto written_by = file.metadata.find("kizuki_version");
  const int version = check_format_version(
      "model", path, meta("format_version"), kModelFormat,
      written_by == file.metadata.end() ? "" : written_by->second);

  AnomalyModel model;
  MethodOptions m;
  nlohmann::json architecture;
  try {
    nlohmann::json c = nlohmann::json::parse(meta("config"));
    if (version == 1) upgrade_v1_config(c, !with_prefix(file.tensors, "head.").empty());
    m = method_options_from_json(c.at("method"));
    architecture = c.at("architecture");
    model.scaler_name = c.at("scaler").get<std::string>();
    model.scorer_name = c.at("scorer").get<std::string>();
    model.neighbors = c.at("neighbors").get<int64_t>();
    model.threshold = c.at("threshold").get<double>();
    model.class_names = c.at("class_names").get<std::vector<std::string>>();
    model.tta = c.value("tta", std::string("none"));
    check_tta(model.tta, "tta");
    if (c.contains("table")) {
      const nlohmann::json& t = c.at("table");
      model.table.features = t.at("columns").get<std::vector<std::string>>();
      model.table.label = t.at("label").get<std::string>();
      model.table.drop = t.at("drop").get<std::vector<std::string>>();
      model.table.scaling.mean = t.at("mean").get<std::vector<double>>();
      model.table.scaling.scale = t.at("scale").get<std::vector<double>>();
    }
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("its config is not valid: ") + e.what());
  } catch (const Error& e) {
    bad(e.what());
  }
  const bool table = !model.table.features.empty();
  if (table) {
    const size_t f = model.table.features.size();
    if (model.table.scaling.mean.size() != f || model.table.scaling.scale.size() != f)
      bad(fmt::format("its table has {} columns but {} means and {} scales", f,
                      model.table.scaling.mean.size(), model.table.scaling.scale.size()));
    for (size_t j = 0; j < f; ++j)
      if (!std::isfinite(model.table.scaling.mean[j]) ||
          !(model.table.scaling.scale[j] > 0.0 && std::isfinite(model.table.scaling.scale[j])))
        bad(fmt::format("its table's column '{}' has mean {} and scale {} (finite, scale > 0 "
                        "needed)", model.table.features[j], model.table.scaling.mean[j],
                        model.table.scaling.scale[j]));
  } else if (m.preprocess.height < 8 || m.preprocess.height > 4096) {
    bad(fmt::format("image size {}x{} is outside 8…4096", m.preprocess.height,
                    m.preprocess.width));
  }
  // An embedding method's head has one class per name (which bounds its size by the file's);
  // geom's and goad's heads name transformations, not classes.
  bool classifies = true;
  try {
    classifies = method_info(m.name).kind == MethodKind::embedding;
  } catch (const Error& e) {
    bad(e.what());
  }
  if (classifies && architecture.contains("head_classes") &&
      architecture["head_classes"] != nlohmann::json(model.class_names.size()))
    bad(fmt::format("its architecture has {} head classes but it names {}",
                    architecture["head_classes"].dump(), model.class_names.size()));
  m.pretrained.clear();  // the trained weights are in this file
  try {
    model.method = make_method(m);
    model.method->build_untrained(architecture);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("its architecture is not valid: ") + e.what());
  } catch (const Error& e) {
    bad(e.what());
  }
  StateDict networks = file.tensors;
  for (auto it = networks.begin(); it != networks.end();)
    it = it->first.rfind("scaler.", 0) == 0 || it->first.rfind("scorer.", 0) == 0 ||
                 it->first.rfind("maps.", 0) == 0
             ? networks.erase(it)
             : std::next(it);
  try {
    model.method->load_state_dict(networks);
  } catch (const Error& e) {
    bad(std::string("its networks do not match its config: ") + e.what());
  }
  if (auto it = file.tensors.find("maps.mean_image"); it != file.tensors.end()) {
    const Tensor& t = it->second;
    if (t.dim() != 3 || t.size(1) != m.preprocess.height || t.size(2) != m.preprocess.width ||
        t.size(0) < 1 || t.size(0) > 4)
      bad(fmt::format("maps.mean_image is {}, not (C, {}, {})", shape_str(t.shape()),
                      m.preprocess.height, m.preprocess.width));
    model.mean_image = t;
  }
  if (auto it = file.tensors.find("maps.normal_features"); it != file.tensors.end()) {
    const Tensor& t = it->second;
    if (!gives_gradcam(*model.method) || !gradcam_needs_normal_features(*model.method) || t.dim() != 2 || t.size(0) < 1 ||
        t.size(1) != model.method->feature_dim())
      bad(fmt::format("maps.normal_features is {}, not (M, the {} method's features)",
                      shape_str(t.shape()), m.name));
    model.normal_features = t;
  }
  const StateDict inpainter = with_prefix(file.tensors, "maps.inpainter.");
  nlohmann::json inpainter_architecture;
  try {
    inpainter_architecture = nlohmann::json::parse(meta("config")).value("inpainter", nlohmann::json());
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("its config is not valid: ") + e.what());
  }
  if (!inpainter_architecture.is_null() || !inpainter.empty()) {
    if (inpainter_architecture.is_null() || inpainter.empty() || !model.mean_image.defined())
      bad("it holds part of an inpainter (its architecture, its weights and the mean image "
          "are needed together)");
    std::shared_ptr<Inpainter> in;
    try {
      in = Inpainter::from_architecture(inpainter_architecture, "model");
      in->load_state_dict(inpainter);
    } catch (const Error& e) {
      bad(std::string("its inpainter is not valid: ") + e.what());
    }
    if (in->channels() != model.mean_image.size(0) || in->height() != model.mean_image.size(1) ||
        in->width() != model.mean_image.size(2))
      bad(fmt::format("its inpainter takes {}×{}×{} images, its mean image is {}",
                      in->channels(), in->height(), in->width(),
                      shape_str(model.mean_image.shape())));
    model.inpainter = in;
  }
  if (!embeds(model)) {
    if (model.tta != "none") bad(fmt::format("tta '{}' for the scoring method {}", model.tta, m.name));
    const std::vector<std::string> names = model.method->score_names();
    if (std::find(names.begin(), names.end(), model.scorer_name) == names.end())
      bad(fmt::format("{} gives no score '{}' ({})", m.name, model.scorer_name,
                      fmt::join(names, ", ")));
    return model;
  }
  try {
    model.scaler = make_scaler(model.scaler_name);
    model.scaler->load_state_dict(with_prefix(file.tensors, "scaler."));
    model.scorer = make_scorer(model.scorer_name, model.neighbors);
    model.scorer->load_state_dict(with_prefix(file.tensors, "scorer."));
  } catch (const Error& e) {
    bad(e.what());
  }
  // The scorer must have been fitted on these features: score one zero feature vector of
  // the dimension the method gives.
  const int64_t dim = model.method->feature_dim();
  try {
    NoGradGuard no_grad;
    model.scorer->score(Tensor::zeros({1, dim}));
  } catch (const Error& e) {
    bad(fmt::format("its scorer was not fitted on this method's {}-d features: {}", dim,
                    e.what()));
  }
  return model;
}

}  // namespace kz
