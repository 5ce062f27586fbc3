// training_watch.cpp — --eval-every's curves and --early-stop proxy (see training_watch.h).
#include "anomaly/training_watch.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "anomaly/diagnostics.h"
#include "anomaly/roc.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"

namespace kz {
namespace {

constexpr const char* kBestFormat = "kizuki-early-stop-weights";

// The parameters of a method's networks (no batch-norm statistics), copied.
StateDict parameter_copy(const Method& method) {
  StateDict out;
  for (const auto& [name, t] : method.state_dict())
    if (name.find("running_") == std::string::npos) out.emplace(name, t.contiguous().clone());
  return out;
}

// Every tensor of the method's state, copied (later steps change the originals in place).
StateDict state_copy(const Method& method) {
  StateDict out;
  for (const auto& [name, t] : method.state_dict()) out.emplace(name, t.contiguous().clone());
  return out;
}

double auc_of(const Tensor& scores, const std::vector<int>& labels) {
  const std::vector<float> s = scores.to_vector();
  return roc_auc(std::vector<double>(s.begin(), s.end()), labels);
}

}  // namespace

TrainingWatch::TrainingWatch(Method& method, const BenchmarkSplit& split,
                             const ExperimentOptions& options, std::string best_path, bool writer)
    : method_(method),
      split_(split),
      options_(options),
      test_labels_(split.test.labels.begin(), split.test.labels.end()),
      proxy_labels_(split.proxy.labels.begin(), split.proxy.labels.end()),
      early_stop_(options.early_stop == "proxy"),
      best_path_(std::move(best_path)),
      writer_(writer) {
  KZ_CHECK(!early_stop_ || split.proxy.size() > 0, "benchmark",
           "--early-stop proxy: trial seed {}'s proxy set is empty (no normal-class or "
           "reference-class training images are left outside the split)",
           options.seed);
  if (!early_stop_ || best_path_.empty()) return;
  if (!options.resume || !std::filesystem::exists(best_path_)) {
    if (writer_) remove_file(best_path_);  // a stale file of an earlier run
    return;
  }
  Safetensors saved = load_safetensors(best_path_);
  const auto format = saved.metadata.find("format");
  KZ_CHECK(format != saved.metadata.end() && format->second == kBestFormat, "benchmark",
           "{}: not kizuki's early-stopping weights (metadata format is not '{}')", best_path_,
           kBestFormat);
  try {
    best_epoch_ = std::stoll(saved.metadata.at("epoch"));
    best_proxy_ = std::stod(saved.metadata.at("proxy_auc"));
  } catch (const std::exception& e) {
    fail("benchmark", fmt::format("{}: bad 'epoch' or 'proxy_auc' in its metadata ({})",
                                  best_path_, e.what()));
  }
  best_state_ = std::move(saved.tensors);
}

EpochHook TrainingWatch::hook() {
  return [this](int64_t epochs_done) { evaluate(epochs_done); };
}

void TrainingWatch::evaluate(int64_t done) {
  const int64_t every = options_.eval_every;
  if (done == 0) theta0_ = parameter_copy(method_);
  if (done % every != 0 && done != method_.options().epochs) return;
  CurvePoint p;
  p.epoch = done;
  const Tensor train_features = embed_features(method_, split_.normal_train, options_.tta);
  const FeatureDiagnostics d = feature_diagnostics(train_features);
  p.mean_cosine = d.mean_cosine;
  p.effective_rank = d.effective_rank;
  p.weight_distance = std::numeric_limits<double>::quiet_NaN();
  if (!theta0_.empty()) {
    double sq = 0.0;
    for (const auto& [name, t] : parameter_copy(method_)) {
      const Tensor diff = sub(t, theta0_.at(name));
      sq += static_cast<double>(sum(mul(diff, diff)).item());
    }
    p.weight_distance = std::sqrt(sq);
  }
  const auto test = embedding_scores(method_, train_features, split_.test, options_);
  std::vector<std::pair<std::string, Tensor>> proxy;
  if (split_.proxy.size() > 0)
    proxy = embedding_scores(method_, train_features, split_.proxy, options_);
  for (size_t s = 0; s < test.size(); ++s) {
    p.auc = auc_of(test[s].second, test_labels_);
    p.proxy_auc = proxy.empty() ? std::numeric_limits<double>::quiet_NaN()
                                : auc_of(proxy[s].second, proxy_labels_);
    curves_[test[s].first].push_back(p);
    if (s == 0 && early_stop_) keep_if_best(done, p.proxy_auc);
  }
}

void TrainingWatch::keep_if_best(int64_t epoch, double proxy_auc) {
  if (best_epoch_ >= 0 && !(proxy_auc > best_proxy_)) return;  // the earliest best stays
  best_epoch_ = epoch;
  best_proxy_ = proxy_auc;
  best_state_ = state_copy(method_);
  if (best_path_.empty() || !writer_) return;
  save_safetensors(best_path_, best_state_,
                   {{"format", kBestFormat},
                    {"epoch", std::to_string(epoch)},
                    {"proxy_auc", fmt::format("{:.17g}", proxy_auc)}});
}

void TrainingWatch::finish() {
  if (!early_stop_ || best_epoch_ < 0) return;
  method_.load_state_dict(best_state_);
}

}  // namespace kz
