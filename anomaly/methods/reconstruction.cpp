// reconstruction.cpp — training, scoring and mapping shared by ae, vae and ssim-ae (see
// reconstruction.h).
#include "anomaly/methods/reconstruction.h"

#include "tensor/ops.h"

namespace kz {

template <class F>
void ReconstructionMethod::for_chunks(const ImageDataset& data, F&& f) const {
  KZ_CHECK(net_ != nullptr, "method", "the method '{}' has not been trained", name());
  KZ_CHECK(data.size() > 0, "method", "{}: no images", data.source);
  KZ_CHECK(data.table == (table_ != nullptr), "score", "{} was trained on {}; {} holds {}",
           name(), table_ ? "a table" : "images", data.source, data.table ? "a table" : "images");
  NoGradGuard no_grad;
  net_->eval();
  constexpr int64_t kChunk = 256;
  for (int64_t start = 0; start < data.size(); start += kChunk) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(data.size(), start + kChunk); ++i) idx.push_back(i);
    f(preprocess(data.subset(idx), options_.preprocess).to_channels_last(), start);
  }
}

void ReconstructionMethod::train(const BenchmarkSplit& split, uint64_t seed,
                                 const ProgressFn& progress) {
  const ImageDataset& normal = split.normal_train;
  table_ = nullptr;
  Generator init(derive_seed(seed, 1, 0));
  if (normal.table) {
    KZ_CHECK(takes_tables(), "method",
             "{} reconstructs images; a table has none (ae takes tables, with an MLP "
             "autoencoder)", name());
    MlpAutoencoderOptions t;
    t.in_features = normal.channels;
    t.widths = options_.mlp_widths;
    table_ = std::make_shared<MlpAutoencoder>(t, init);
    net_ = table_;
  } else {
    const int64_t size = square_side(options_, normal, name());
    net_options_ = ConvAutoencoderOptions{};
    net_options_.channels = options_.preprocess.rgb ? 3 : normal.channels;
    net_options_.image_size = size;
    net_options_.latent_dim = options_.latent_dim;
    net_options_.widths = default_widths(size);
    net_ = make_network(net_options_, init);
  }

  auto opt = make_optimizer(options_, net_->parameters());
  start_parallel(net_->parameters());
  const LoaderOptions lo = shard(loader_options(options_, normal, seed, 0));
  DataLoader loader(normal, options_.preprocess, lo);
  const std::vector<uint64_t> seeds{lo.seed};
  const nlohmann::json fp = fingerprint(seed, split);
  Guard guard{options_, checkpoint_};
  guard.saved_epochs = resume(*opt, loader, seeds, fp);
  const std::vector<NamedNetwork> nets = networks();
  net_->train();
  auto train_batch = [&](int64_t e, int64_t b) -> std::optional<BatchResult> {
    const std::optional<Batch> batch = loader.next();
    if (!batch) return std::nullopt;
    Generator gen(derive_seed(derive_seed(seed, 3, static_cast<uint64_t>(e)),
                              static_cast<uint64_t>(b), 0));
    const Variable loss = batch_loss(batch->images, gen);
    const double value = loss.item();
    guard.loss(value, e, b, *opt);
    step(*opt, loss, *batch, guard, nets, e, b);
    return BatchResult{value, batch->images.size(0)};
  };
  run_epochs(guard, *opt, loader, seeds, fp, progress, train_batch);
}

std::vector<Tensor> ReconstructionMethod::score(const ImageDataset& data) const {
  std::vector<std::vector<Tensor>> parts(score_names().size());
  for_chunks(data, [&](const Tensor& x, int64_t first) {
    std::vector<Tensor> s = batch_scores(x, first);
    for (size_t i = 0; i < parts.size(); ++i) parts[i].push_back(s[i]);
  });
  std::vector<Tensor> out;
  for (const auto& p : parts) out.push_back(cat(p, 0));
  return out;
}

AnomalyMaps ReconstructionMethod::maps(const ImageDataset& data) const {
  KZ_CHECK(!table_, "method", "{} on a table gives no maps (a row has no pixels)", name());
  std::vector<Tensor> maps, reconstructions;
  for_chunks(data, [&](const Tensor& x, int64_t) {
    AnomalyMaps m = batch_maps(x);
    maps.push_back(m.maps.contiguous());
    reconstructions.push_back(m.reconstruction.contiguous());
  });
  return {cat(maps, 0), cat(reconstructions, 0)};
}

std::vector<NamedNetwork> ReconstructionMethod::networks() const {
  if (!net_) return {};
  return {{"autoencoder", net_.get()}};
}

nlohmann::json ReconstructionMethod::architecture() const {
  if (table_)
    return {{"network", "mlp_autoencoder"},
            {"in_features", table_->options().in_features},
            {"widths", table_->options().widths},
            {"bn_eps", table_->options().bn_eps}};
  return {{"channels", net_options_.channels},
          {"image_size", net_options_.image_size},
          {"latent_dim", net_options_.latent_dim},
          {"widths", net_options_.widths}};
}

void ReconstructionMethod::build_untrained(const nlohmann::json& a) {
  table_ = nullptr;
  if (a.value("network", std::string()) == "mlp_autoencoder") {
    KZ_CHECK(takes_tables(), "method", "{} has no table form (architecture {})", name(),
             a.dump());
    MlpAutoencoderOptions t;
    t.in_features = a.at("in_features").get<int64_t>();
    t.widths = a.at("widths").get<std::vector<int64_t>>();
    t.bn_eps = a.at("bn_eps").get<float>();
    // Bounds that keep a damaged file from asking for gigabytes before its weights are read.
    KZ_CHECK(t.in_features >= 1 && t.in_features <= (int64_t{1} << 20) && !t.widths.empty() &&
                 t.widths.size() <= 64,
             "method", "MLP autoencoder architecture {} is out of range", a.dump());
    for (const int64_t w : t.widths)
      KZ_CHECK(w >= 1 && w <= 65536, "method", "MLP autoencoder width {} is out of range", w);
    Generator gen(0);  // the values are overwritten by the loaded state
    table_ = std::make_shared<MlpAutoencoder>(t, gen);
    net_ = table_;
    return;
  }
  ConvAutoencoderOptions o;
  o.channels = a.at("channels").get<int64_t>();
  o.image_size = a.at("image_size").get<int64_t>();
  o.latent_dim = a.at("latent_dim").get<int64_t>();
  o.widths = a.at("widths").get<std::vector<int64_t>>();
  // Bounds that keep a damaged file from asking for gigabytes before its weights are read.
  KZ_CHECK(o.channels >= 1 && o.channels <= 4 && o.image_size >= 8 && o.image_size <= 1024 &&
               o.latent_dim >= 1 && o.latent_dim <= 65536 && !o.widths.empty() &&
               o.widths.size() <= 8,
           "method", "architecture {} is out of range", a.dump());
  for (int64_t w : o.widths)
    KZ_CHECK(w >= 1 && w <= 4096, "method", "stage width {} is out of range", w);
  // The two Linear layers dominate: w_S·s_S² × d each way (at most 2·d + 2 outputs wide).
  const int64_t last = o.image_size >> o.widths.size();
  const double linear = 2.0 * static_cast<double>(o.widths.back() * last * last) *
                        static_cast<double>(2 * o.latent_dim + 2);
  KZ_CHECK(linear <= 5e7, "method", "architecture {} asks for {:.3g} parameters", a.dump(), linear);
  KZ_CHECK(o.image_size == options_.preprocess.height, "method",
           "the network takes {} px images but the preprocessing gives {} px", o.image_size,
           options_.preprocess.height);
  Generator gen(0);  // the values are overwritten by the loaded state
  net_options_ = o;
  net_ = make_network(o, gen);
}

}  // namespace kz
