// training.cpp — the training machinery every method shares (see training.h).
#include "anomaly/training.h"

#include <omp.h>

#include <cmath>
#include <filesystem>

#include "anomaly/checkpoint.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/sgd.h"

namespace kz {

namespace {

// True when every value of t is finite (one flat pass when t is dense).
bool all_finite(const Tensor& t) {
  if (t.is_dense()) {
    const float* p = t.data();
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  }
  for (float v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const MethodOptions& o, std::vector<Variable> params) {
  if (o.optimizer == "adam") {
    AdamOptions a;
    a.lr = o.lr;
    a.weight_decay = o.weight_decay;
    a.amsgrad = o.amsgrad;
    return std::make_unique<Adam>(std::move(params), a);
  }
  if (o.optimizer == "sgd") {
    SgdOptions s;
    s.lr = o.lr;
    s.momentum = o.momentum;
    s.weight_decay = o.weight_decay;
    return std::make_unique<SGD>(std::move(params), s);
  }
  fail("method", fmt::format("unknown optimizer '{}' (adam or sgd)", o.optimizer));
}

LoaderOptions loader_options(const MethodOptions& o, uint64_t seed, uint64_t stream) {
  LoaderOptions l;
  l.prefetch = stream == 0 && omp_get_max_threads() > 1;
  l.batch_size = o.batch_size;
  l.shuffle = true;
  l.seed = derive_seed(seed, 100 + stream, 0);
  l.augment = o.augment;
  l.channels_last = true;
  return l;
}

void Guard::stop(const std::string& what, int64_t epoch, int64_t batch,
                 const Optimizer& opt) const {
  std::string cause =
      opt.step_count() == 0
          ? "It happened before any update: the input images or the initial weights hold "
            "NaN/Inf (check the data and --pretrained)"
          : fmt::format("The learning rate ({:g}) is probably too high; try a smaller --lr",
                        options.lr);
  std::string kept = checkpoint.path.empty() || saved_epochs == 0
                         ? std::string()
                         : fmt::format(". The last good checkpoint ({}, after epoch {}) is kept",
                                       checkpoint.path, saved_epochs);
  fail("train", fmt::format("{} at epoch {}, batch {}: training diverged. {}{}", what,
                            epoch + 1, batch + 1, cause, kept));
}

void Guard::loss(double value, int64_t epoch, int64_t batch, const Optimizer& opt) const {
  if (!std::isfinite(value))
    stop(fmt::format("the loss became {}", std::isnan(value) ? "NaN" : "infinite"), epoch,
         batch, opt);
}

void Guard::parameters(const std::vector<NamedNetwork>& networks, bool gradients,
                       int64_t epoch, int64_t batch, const Optimizer& opt) const {
  for (const auto& [network, m] : networks)
    for (const auto& [name, p] : m->named_parameters()) {
      const Tensor& t = gradients ? p.grad() : p.data();
      if (t.defined() && !all_finite(t))
        stop(fmt::format("the {} of {}.{} became NaN or infinite",
                         gradients ? "gradient" : "value", network, name),
             epoch, batch, opt);
    }
}

void optimizer_step(Optimizer& opt, const Variable& loss, const Guard& guard,
                    const std::vector<NamedNetwork>& networks, int64_t epoch, int64_t batch,
                    double max_grad_norm) {
  opt.zero_grad();
  loss.backward();
  guard.parameters(networks, true, epoch, batch, opt);
  if (max_grad_norm > 0.0) {
    std::vector<Variable> params;
    for (const ParamGroup& g : opt.param_groups())
      params.insert(params.end(), g.params.begin(), g.params.end());
    clip_grad_norm(params, max_grad_norm);
  }
  opt.step();
}

namespace detail {

void call_epoch_hook(const EpochHook& hook, int64_t epochs_done,
                     const std::vector<NamedNetwork>& networks) {
  std::vector<bool> training;
  for (const NamedNetwork& n : networks) training.push_back(n.second->is_training());
  hook(epochs_done);
  for (size_t i = 0; i < networks.size(); ++i) networks[i].second->train(training[i]);
}

void EpochMeter::begin_epoch() {
  epoch_start = std::chrono::steady_clock::now();
  images = 0;
  loss_sum = 0.0;
  batches = 0;
}

TrainProgress EpochMeter::add(double loss, int64_t n, int64_t epoch, int64_t epochs, int64_t b,
                              int64_t nb) {
  loss_sum += loss;
  images += n;
  ++batches;
  const double epoch_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
  TrainProgress p;
  p.epoch = epoch;
  p.epochs = epochs;
  p.batch = b;
  p.batches = nb;
  p.loss = loss_sum / static_cast<double>(batches);
  p.images_per_second = static_cast<double>(images) / std::max(epoch_seconds, 1e-9);
  p.seconds = seconds();
  p.epoch_end = b + 1 == nb;
  return p;
}

double EpochMeter::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace detail

nlohmann::json TrainedMethod::fingerprint(uint64_t seed, const BenchmarkSplit& split) const {
  return {{"method", method_options_json(options_)},
          {"seed", std::to_string(seed)},  // exact as text
          {"reference_images", split.reference.size()},
          {"reference_classes", split.reference.num_classes()},
          {"normal_images", split.normal_train.size()}};
}

int64_t TrainedMethod::resume(Optimizer& opt, DataLoader& loader,
                              const std::vector<uint64_t>& seeds, const nlohmann::json& fp) {
  resumed_epochs_ = 0;
  resumed_seconds_ = 0.0;
  const std::string& path = checkpoint_.path;
  if (path.empty() || !checkpoint_.resume || !std::filesystem::exists(path)) return 0;
  const TrainingCheckpoint c = load_checkpoint(path);
  check_fingerprint(path, c.fingerprint, fp);
  KZ_CHECK(c.loader_seeds == seeds, "checkpoint", "{}: its random state belongs to another run",
           path);
  KZ_CHECK(c.epochs_done <= options_.epochs, "checkpoint",
           "{}: {} epochs done, more than the {} of this run", path, c.epochs_done,
           options_.epochs);
  try {
    load_state_dict(c.networks);
    opt.load_state_dict(c.optimizer);
  } catch (const Error& e) {
    fail("checkpoint", path + ": " + e.what());
  }
  loader.set_epoch(c.epochs_done);
  KZ_CHECK(loader.order() == c.next_order, "checkpoint",
           "{}: the data differ from the run that wrote it (the order of epoch {} does not "
           "match)", path, c.epochs_done + 1);
  resumed_epochs_ = c.epochs_done;
  resumed_seconds_ = c.train_seconds;
  return c.epochs_done;
}

void TrainedMethod::save_epoch(int64_t epochs_done, const Optimizer& opt,
                               const DataLoader& loader, const std::vector<uint64_t>& seeds,
                               const nlohmann::json& fp, double seconds) const {
  if (checkpoint_.path.empty()) return;
  TrainingCheckpoint c;
  c.epochs_done = epochs_done;
  c.train_seconds = seconds;
  c.loader_seeds = seeds;
  c.next_order = loader.order();
  c.fingerprint = fp;
  c.networks = state_dict();
  c.optimizer = opt.state_dict();
  save_checkpoint(checkpoint_.path, c);
}

}  // namespace kz
