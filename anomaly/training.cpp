// training.cpp — the training machinery every method shares (see training.h).
#include "anomaly/training.h"

#include <omp.h>

#include <cmath>
#include <filesystem>

#include "anomaly/checkpoint.h"
#include "layers/batch_norm.h"
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

// The tensor's elements in memory order (made contiguous in place when it is not dense).
std::span<float> dense_span(Tensor& t) {
  if (!t.is_dense()) t = t.contiguous();
  return {t.data(), static_cast<size_t>(t.numel())};
}

// f(module) for m and every module below it.
template <class F>
void for_each_module(Module& m, F&& f) {
  f(m);
  for (auto& child : m.named_children()) for_each_module(*child.second, f);
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

LoaderOptions loader_options(const MethodOptions& o, const ImageDataset& data, uint64_t seed,
                             uint64_t stream) {
  LoaderOptions l = loader_options(o, seed, stream);
  if (data.size() > 1 && data.size() % l.batch_size == 1) l.drop_last = true;
  return l;
}

int64_t square_side(const MethodOptions& o, const ImageDataset& data, const std::string& method) {
  KZ_CHECK(o.preprocess.width == o.preprocess.height, "method",
           "{} needs square images, the preprocessing gives {}×{}", method, o.preprocess.height,
           o.preprocess.width);
  return o.preprocess.height > 0 ? o.preprocess.height : data.height;
}

std::unique_ptr<Adam> TrainedMethod::two_network_adam(std::vector<Variable> generator,
                                                      std::vector<Variable> discriminator,
                                                      double beta1) const {
  KZ_CHECK(!parallel(), "method", "{} trains in one process (two alternating optimisers): "
           "run it without --dist", name());
  KZ_CHECK(options_.optimizer == "adam", "method", "{} trains with Adam (the paper's), not "
           "'{}'", name(), options_.optimizer);
  AdamOptions a;
  a.lr = options_.lr;
  a.beta1 = beta1;
  a.weight_decay = options_.weight_decay;
  a.amsgrad = options_.amsgrad;
  std::vector<ParamGroup> groups(2);
  groups[0].params = std::move(generator);
  groups[0].name = "generator";
  groups[1].params = std::move(discriminator);
  groups[1].name = "discriminator";
  return std::make_unique<Adam>(std::move(groups), a);
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
  nlohmann::json fp = {{"method", method_options_json(options_)},
                       {"seed", std::to_string(seed)},  // exact as text
                       {"reference_images", split.reference.size()},
                       {"reference_classes", split.reference.num_classes()},
                       {"normal_images", split.normal_train.size()}};
  // Absent without them, so that earlier checkpoints still resume.
  if (split.known_anomalies.size() > 0) fp["known_anomalies"] = split.known_anomalies.size();
  return fp;
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
  if (checkpoint_.path.empty() || (parallel() && parallel_.comm->rank() != 0)) return;
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

void TrainedMethod::start_parallel(const std::vector<Variable>& params) {
  grad_sync_.reset();
  sync_timing_ = GradSyncTiming{};
  if (!parallel()) return;
  Communicator& comm = *parallel_.comm;
  for (const NamedNetwork& n : networks()) {
    for (auto& [name, p] : n.second->named_parameters()) comm.broadcast(dense_span(p.data()), 0);
    for (auto& [name, b] : n.second->named_buffers()) comm.broadcast(dense_span(*b), 0);
    if (parallel_.sync_bn)
      for_each_module(*n.second, [&comm](Module& m) {
        if (auto* bn = dynamic_cast<BatchNorm2d*>(&m))
          bn->set_stat_sum([&comm](std::span<float> v) { comm.allreduce_sum(v); });
      });
  }
  KZ_CHECK(parallel_.bucket_mb >= 0, "train", "--bucket-mb {} must not be negative",
           parallel_.bucket_mb);
  grad_sync_ = std::make_unique<GradSync>(
      comm, params, static_cast<size_t>(parallel_.bucket_mb * 1024.0 * 1024.0));
}

LoaderOptions TrainedMethod::shard(LoaderOptions o) const {
  if (!parallel()) return o;
  o.shard = parallel_.comm->rank();
  o.shards = parallel_.comm->size();
  return o;
}

void TrainedMethod::step(Optimizer& opt, const Variable& loss, const Batch& batch,
                         const Guard& guard, const std::vector<NamedNetwork>& networks,
                         int64_t epoch, int64_t batch_index) {
  if (!grad_sync_) {
    optimizer_step(opt, loss, guard, networks, epoch, batch_index);
    return;
  }
  opt.zero_grad();
  const int64_t global = batch.global_size > 0 ? batch.global_size : batch.images.size(0);
  grad_sync_->backward(loss, static_cast<float>(batch.images.size(0)) /
                                 static_cast<float>(global));
  guard.parameters(networks, true, epoch, batch_index, opt);
  opt.step();
}

void TrainedMethod::finish_parallel() {
  if (!grad_sync_) return;
  sync_timing_ = grad_sync_->timing();
  grad_sync_.reset();
  Communicator& comm = *parallel_.comm;
  for (const NamedNetwork& n : networks()) {
    if (!parallel_.sync_bn)
      for (auto& [name, b] : n.second->named_buffers()) comm.broadcast(dense_span(*b), 0);
    for_each_module(*n.second, [](Module& m) {  // the networks go on alone (scoring, saving)
      if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) bn->set_stat_sum(nullptr);
    });
  }
}

}  // namespace kz
