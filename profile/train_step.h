/// \file
/// train_step.h — the MobileNetV2 training step and inference pass that `kizuki profile`
/// (apps/cmd_profile.cpp) and the training benchmark (bench/bench_train.cpp) time: one
/// definition, so the two measure the same work. Header-only.
///
/// The step: zero_grad, forward (x is (B,3,N,N), normal noise; labels uniform over
/// `classes`), cross-entropy, backward, SGD (momentum 0.9, weight decay 4e-5, lr 0.01), the
/// same batch every step (data loading is not measured). Inference: the network in eval
/// mode under NoGradGuard, logits (B,classes). With a Profiler, the step is bracketed as one
/// profiled step and zero_grad, the loss and the optimizer are timed as regions of their own.
#pragma once

#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "autograd/functions.h"
#include "layers/mobilenet_v2.h"
#include "profile/profiler.h"
#include "optim/sgd.h"

namespace kz::profiling {

/// What is timed: MobileNetV2 of this width on a batch of random images of this size.
struct TrainConfig {
  double width = 1.0;                                   ///< MobileNetV2's width multiplier
  /// N (images are N×N), B images per batch, and the logits per image
  ///@{
  int64_t image_size = 32, batch = 128, classes = 10;
  ///@}
  uint64_t seed = 0;                                    ///< weights, images and labels
};

/// The network, its optimizer and the one batch every step trains on.
struct TrainSetup {
  std::unique_ptr<MobileNetV2> net;  ///< in train mode
  std::unique_ptr<SGD> optimizer;    ///< momentum 0.9, weight decay 4e-5, lr 0.01
  Tensor x;                          ///< (B,3,N,N), normal noise
  std::vector<int64_t> labels;       ///< B labels in [0, classes)
  /// Costs of the two regions outside the network (profiler.h's conventions). Cross-entropy
  /// on (B,K) logits: log-softmax and the gather, ≈ 5 FLOPs and 3 passes per logit forward,
  /// softmax − one-hot backward. SGD with momentum and weight decay: 6 FLOPs per parameter,
  /// reading p, g, b and writing p, b.
  ///@{
  LayerCost loss_cost, sgd_cost;
  ///@}
};

/// The network, optimizer, batch and region costs of configuration `c`.
inline TrainSetup make_train_setup(const TrainConfig& c) {
  Generator gen(c.seed);
  MobileNetV2Options o;
  o.width = c.width;
  o.num_classes = c.classes;
  TrainSetup s;
  s.net = std::make_unique<MobileNetV2>(o, gen);
  s.net->train();
  s.optimizer = std::make_unique<SGD>(
      s.net->parameters(), SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 4e-5});
  s.x = Tensor::normal({c.batch, 3, c.image_size, c.image_size}, 0.0f, 1.0f, gen);
  s.labels.resize(static_cast<size_t>(c.batch));
  for (int64_t& t : s.labels) t = static_cast<int64_t>(gen.below(static_cast<uint64_t>(c.classes)));
  const double params = parameter_values(*s.net);
  const double logits = static_cast<double>(c.batch * c.classes);
  s.loss_cost.forward = {5 * logits, 12 * logits};
  s.loss_cost.backward = {3 * logits, 12 * logits};
  s.sgd_cost.forward = {6 * params, 20 * params};
  return s;
}

/// One training step (the network must be in train mode); returns the loss. Throws when the
/// loss is not finite.
inline float train_step(TrainSetup& s, Profiler* profiler = nullptr) {
  return profiled_training_step(*s.optimizer, profiler, "SGD momentum", s.sgd_cost, "train_step",
                                [&] {
                                  const Variable y = profiler ? profiler->forward(Variable(s.x))
                                                              : s.net->forward(Variable(s.x));
                                  std::optional<Profiler::Region> region;
                                  if (profiler)
                                    region.emplace(*profiler, "loss", "cross_entropy", "forward",
                                                   s.loss_cost);
                                  return cross_entropy(y, s.labels);
                                });
}

/// One inference pass (call s.net->eval() first): logits (B,classes).
inline Tensor inference_step(TrainSetup& s) {
  NoGradGuard no_grad;
  return s.net->forward(Variable(s.x)).data();
}

/// FLOPs of one training step (forward and backward of every layer, the loss and the SGD
/// update) or, in eval mode, of one inference pass; profiler.h's count.
inline double step_flops(TrainSetup& s, bool training) {
  double flops = 0;
  for (const CostEntry& e : count_costs(*s.net, s.x.shape()))
    flops += e.cost.forward.flops + (training ? e.cost.backward.flops : 0.0);
  if (training)
    flops += s.loss_cost.forward.flops + s.loss_cost.backward.flops + s.sgd_cost.forward.flops;
  return flops;
}

}  // namespace kz::profiling
