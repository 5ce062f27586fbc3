// sgd.cpp — SGD's update (the rule is written out in sgd.h). p, grad and the momentum buffer
// are flat arrays of one layout (Optimizer::step guarantees it); n is their element count.
#include "optim/sgd.h"

#include <cmath>

namespace kz {

namespace {

const SgdOptions& checked(const SgdOptions& o) {
  KZ_CHECK(o.lr >= 0.0, "SGD", "invalid learning rate {} (must be >= 0)", o.lr);
  KZ_CHECK(o.momentum >= 0.0, "SGD", "invalid momentum {} (must be >= 0)", o.momentum);
  KZ_CHECK(o.weight_decay >= 0.0, "SGD", "invalid weight_decay {} (must be >= 0)",
           o.weight_decay);
  KZ_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0), "SGD",
           "Nesterov momentum needs momentum > 0 and dampening = 0 (got momentum {}, "
           "dampening {})", o.momentum, o.dampening);
  return o;
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, const SgdOptions& options)
    : Optimizer(std::move(groups), checked(options).lr, "SGD"), options_(options) {}

SGD::SGD(std::vector<Variable> params, const SgdOptions& options)
    : SGD(one_group(std::move(params)), options) {}

std::vector<std::string> SGD::buffer_names() const {
  if (options_.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

void SGD::update(const ParamGroup& group, Tensor& p, const Tensor& grad, ParamState& state) {
  const SgdOptions& o = options_;
  // PyTorch casts each Python-float hyper-parameter to float for the tensor kernels; the
  // add-with-alpha kernel is a fused multiply-add, hence std::fma where torch calls add_.
  const float weight_decay = static_cast<float>(o.weight_decay);
  const float momentum = static_cast<float>(o.momentum);
  const float keep = static_cast<float>(1.0 - o.dampening);
  const float neg_lr = static_cast<float>(-*group.lr);

  float* buf = nullptr;
  bool first = false;
  if (o.momentum != 0.0) {
    auto it = state.buffers.find("momentum_buffer");
    if (it == state.buffers.end()) {
      it = state.buffers.emplace("momentum_buffer", zeros_like_param(p)).first;
      first = true;
    }
    buf = it->second.data();
  }

  float* pd = p.data();
  const float* gd = grad.data();
  const int64_t n = p.numel();
  for (int64_t i = 0; i < n; ++i) {
    float d = gd[i];
    if (o.weight_decay != 0.0) d = std::fma(pd[i], weight_decay, d);
    if (buf) {
      buf[i] = first ? d : std::fma(d, keep, buf[i] * momentum);
      d = o.nesterov ? std::fma(buf[i], momentum, d) : buf[i];
    }
    pd[i] = std::fma(d, neg_lr, pd[i]);
  }
}

}  // namespace kz
