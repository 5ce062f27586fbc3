// method.cpp — what every method shares: its settings as JSON, the defaults of the
// interface, and its networks' state as one dictionary (see method.h).
#include "anomaly/method.h"

#include <set>

namespace kz {

const char* to_string(MethodKind kind) {
  return kind == MethodKind::embedding ? "embedding" : "scoring";
}

nlohmann::json method_options_json(const MethodOptions& m) {
  nlohmann::json j = {{"name", m.name},
          {"width", m.width},
          {"pretrained", m.pretrained},
          {"latent_dim", m.latent_dim},
          {"image_size", m.preprocess.height},
          {"rgb", m.preprocess.rgb},
          {"scaling", scaling_name(m.preprocess.scaling)},
          {"horizontal_flip", m.augment.horizontal_flip},
          {"crop_padding", m.augment.crop_padding},
          {"epochs", m.epochs},
          {"batch_size", m.batch_size},
          {"optimizer", m.optimizer},
          {"lr", m.lr},
          {"weight_decay", m.weight_decay},
          {"amsgrad", m.amsgrad},
          {"momentum", m.momentum},
          {"alpha", m.alpha},
          {"arcface_s", m.arcface_s},
          {"arcface_m", m.arcface_m},
          {"doc_lambda", m.doc_lambda},
          {"doc_alternate", m.doc_alternate},
          {"freeze_blocks", m.freeze_blocks},
          {"vae_samples", m.vae_samples},
          {"iforest_trees", m.iforest_trees},
          {"iforest_samples", m.iforest_samples},
          {"mlp_widths", m.mlp_widths}};
  // Absent at their defaults, so that the records of earlier runs still resume and merge.
  const MethodOptions d;
  if (m.max_grad_norm != d.max_grad_norm) j["max_grad_norm"] = m.max_grad_norm;
  if (m.panda_lambda != d.panda_lambda) j["panda_lambda"] = m.panda_lambda;
  if (m.panda_fisher != d.panda_fisher) j["panda_fisher"] = m.panda_fisher;
  if (m.msc_tau != d.msc_tau) j["msc_tau"] = m.msc_tau;
  if (m.with_reference != d.with_reference) j["with_reference"] = m.with_reference;
  if (m.goad_maps != d.goad_maps) j["goad_maps"] = m.goad_maps;
  if (m.goad_dims != d.goad_dims) j["goad_dims"] = m.goad_dims;
  if (m.anogan_steps != d.anogan_steps) j["anogan_steps"] = m.anogan_steps;
  if (m.anogan_lambda != d.anogan_lambda) j["anogan_lambda"] = m.anogan_lambda;
  return j;
}

MethodOptions method_options_from_json(const nlohmann::json& j) {
  MethodOptions m;
  auto read = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      field = j.at(key).get<std::remove_reference_t<decltype(field)>>();
    } catch (const nlohmann::json::exception&) {
      fail("method", fmt::format("setting '{}' has the wrong type: {}", key, j.at(key).dump()));
    }
  };
  KZ_CHECK(j.is_object(), "method", "the method settings are not a JSON object: {}", j.dump());
  read("name", m.name);
  read("width", m.width);
  read("pretrained", m.pretrained);
  read("latent_dim", m.latent_dim);
  read("image_size", m.preprocess.height);
  m.preprocess.width = m.preprocess.height;
  read("rgb", m.preprocess.rgb);
  std::string scaling = scaling_name(m.preprocess.scaling);
  read("scaling", scaling);
  m.preprocess.scaling = parse_scaling(scaling);
  read("horizontal_flip", m.augment.horizontal_flip);
  read("crop_padding", m.augment.crop_padding);
  read("epochs", m.epochs);
  read("batch_size", m.batch_size);
  read("optimizer", m.optimizer);
  read("lr", m.lr);
  read("weight_decay", m.weight_decay);
  read("amsgrad", m.amsgrad);
  read("momentum", m.momentum);
  read("alpha", m.alpha);
  read("arcface_s", m.arcface_s);
  read("arcface_m", m.arcface_m);
  read("doc_lambda", m.doc_lambda);
  read("doc_alternate", m.doc_alternate);
  read("freeze_blocks", m.freeze_blocks);
  read("vae_samples", m.vae_samples);
  read("iforest_trees", m.iforest_trees);
  read("iforest_samples", m.iforest_samples);
  read("mlp_widths", m.mlp_widths);
  read("max_grad_norm", m.max_grad_norm);
  read("panda_lambda", m.panda_lambda);
  read("panda_fisher", m.panda_fisher);
  read("msc_tau", m.msc_tau);
  read("with_reference", m.with_reference);
  read("goad_maps", m.goad_maps);
  read("goad_dims", m.goad_dims);
  read("anogan_steps", m.anogan_steps);
  read("anogan_lambda", m.anogan_lambda);
  return m;
}

void Method::not_given(const std::string& what) const {
  fail("method", fmt::format("{} is {} {} method: it has no {}", name(),
                             kind() == MethodKind::embedding ? "an" : "a", to_string(kind()),
                             what));
}

Tensor Method::embed(const ImageDataset&) const { not_given("features (embed)"); }
int64_t Method::feature_dim() const { not_given("features (embed)"); }
std::string Method::default_scorer() const { not_given("scorer"); }
std::vector<std::string> Method::score_names() const { not_given("scores of its own"); }
std::vector<Tensor> Method::score(const ImageDataset&) const { not_given("scores of its own"); }
AnomalyMaps Method::maps(const ImageDataset&) const { not_given("anomaly maps"); }
std::vector<std::string> Method::head_classes(const BenchmarkSplit&) const { return {}; }
Tensor Method::class_logits(const Tensor&) const { return {}; }

StateDict Method::state_dict() const {
  StateDict all;
  for (const auto& [network, m] : networks())
    for (const auto& [k, t] : m->state_dict()) all[network + "." + k] = t;
  return all;
}

void Method::load_state_dict(const StateDict& state) {
  const std::vector<NamedNetwork> nets = networks();
  // A method without networks (identity) loads the empty state; others must be built first.
  KZ_CHECK(!nets.empty() || state.empty(), "method",
           "{}: no networks to load into (build them first)", name());
  std::set<std::string> used;
  for (const auto& [network, m] : nets) {
    const std::string prefix = network + ".";
    StateDict mine;
    for (const auto& [k, t] : state)
      if (k.rfind(prefix, 0) == 0) {
        mine[k.substr(prefix.size())] = t;
        used.insert(k);
      }
    try {
      m->load_state_dict(mine);
    } catch (const Error& e) {
      fail("method", fmt::format("{}'s {}: {}", name(), network, e.what()));
    }
  }
  for (const auto& [k, t] : state)
    KZ_CHECK(used.count(k) == 1, "method", "{}: '{}' belongs to no network of this method", name(),
             k);
}

void check_tta(const std::string& tta, const std::string& where) {
  KZ_CHECK(tta == "none" || tta == "flip", "tta", "{}: unknown test-time augmentation '{}' "
           "(none or flip)", where, tta);
}

Tensor embed_features(const Method& method, const ImageDataset& data, const std::string& tta) {
  check_tta(tta, "tta");
  KZ_CHECK(tta == "none" || method.kind() == MethodKind::embedding, "tta",
           "test-time augmentation '{}' averages features, but {} is a scoring method",
           tta, method.name());
  const Tensor features = method.embed(data).contiguous();
  if (tta == "none") return features;
  const Tensor mirrored = method.embed(flip_horizontal(data)).contiguous();
  Tensor out = Tensor::empty(features.shape());
  const float *a = features.data(), *b = mirrored.data();
  float* o = out.data();
  for (int64_t i = 0; i < out.numel(); ++i) o[i] = 0.5f * (a[i] + b[i]);
  return out;
}

}  // namespace kz
