// adam.cpp — Adam's update (the rule is written out in adam.h). p, grad and the moment
// buffers are flat arrays of one layout (Optimizer::step guarantees it); n is their count.
#include "optim/adam.h"

#include <algorithm>
#include <cmath>

namespace kz {

namespace {

const AdamOptions& checked(const AdamOptions& o) {
  KZ_CHECK(o.lr >= 0.0, "Adam", "invalid learning rate {} (must be >= 0)", o.lr);
  KZ_CHECK(o.eps >= 0.0, "Adam", "invalid eps {} (must be >= 0)", o.eps);
  KZ_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0, "Adam", "invalid beta1 {} (must be in [0, 1))",
           o.beta1);
  KZ_CHECK(o.beta2 >= 0.0 && o.beta2 < 1.0, "Adam", "invalid beta2 {} (must be in [0, 1))",
           o.beta2);
  KZ_CHECK(o.weight_decay >= 0.0, "Adam", "invalid weight_decay {} (must be >= 0)",
           o.weight_decay);
  return o;
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Optimizer(std::move(groups), checked(options).lr, "Adam"), options_(options) {}

Adam::Adam(std::vector<Variable> params, const AdamOptions& options)
    : Adam(one_group(std::move(params)), options) {}

std::vector<std::string> Adam::buffer_names() const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::update(const ParamGroup& group, Tensor& p, const Tensor& grad, ParamState& state) {
  const AdamOptions& o = options_;
  for (const std::string& name : buffer_names())
    if (!state.buffers.count(name)) state.buffers.emplace(name, zeros_like_param(p));
  float* m = state.buffers.at("exp_avg").data();
  float* v = state.buffers.at("exp_avg_sq").data();
  float* v_max = o.amsgrad ? state.buffers.at("max_exp_avg_sq").data() : nullptr;

  // In double, as PyTorch computes them in Python.
  const double t = static_cast<double>(state.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
  const double step_size = *group.lr / bias_correction1;

  // Cast to float for the element-wise kernels, as PyTorch does.
  const float weight_decay = static_cast<float>(o.weight_decay);
  const float beta1 = static_cast<float>(o.beta1);
  const float one_minus_beta1 = static_cast<float>(1.0 - o.beta1);
  const float beta2 = static_cast<float>(o.beta2);
  const float one_minus_beta2 = static_cast<float>(1.0 - o.beta2);
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float eps = static_cast<float>(o.eps);
  const float neg_step_size = static_cast<float>(-step_size);

  float* pd = p.data();
  const float* gd = grad.data();
  const int64_t n = p.numel();
  for (int64_t i = 0; i < n; ++i) {
    float g = gd[i];
    if (o.weight_decay != 0.0) g = std::fma(pd[i], weight_decay, g);
    m[i] = std::fma(g, one_minus_beta1, m[i] * beta1);
    v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
    float second = v[i];
    if (v_max) {
      v_max[i] = std::max(v_max[i], v[i]);
      second = v_max[i];
    }
    const float denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    pd[i] = pd[i] + neg_step_size * m[i] / denom;
  }
}

}  // namespace kz
