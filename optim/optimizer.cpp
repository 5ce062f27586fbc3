// optimizer.cpp — the Optimizer base: groups, freezing, step(), and the state_dict.
#include "optim/optimizer.h"

#include <cmath>
#include <set>

namespace kz {

std::vector<ParamGroup> one_group(std::vector<Variable> params) {
  std::vector<ParamGroup> groups(1);
  groups[0].params = std::move(params);
  return groups;
}

Tensor encode_f64(double value) {
  const float hi = static_cast<float>(value);
  const double rest = value - static_cast<double>(hi);
  const float mid = static_cast<float>(rest);
  const float lo = static_cast<float>(rest - static_cast<double>(mid));
  return Tensor::from_vector({hi, mid, lo}, {3});
}

double decode_f64(const Tensor& t, const std::string& key) {
  KZ_CHECK(t.shape() == Shape{3}, "load_state_dict", "{}: expected a (3,) scalar triple, got {}",
           key, shape_str(t.shape()));
  const std::vector<float> v = t.to_vector();
  const double value = static_cast<double>(v[0]) + static_cast<double>(v[1]) +
                       static_cast<double>(v[2]);
  KZ_CHECK(std::isfinite(value), "load_state_dict", "{}: value is not finite", key);
  return value;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, double default_lr, const char* op)
    : groups_(std::move(groups)), op_(op) {
  KZ_CHECK(!groups_.empty(), op_, "got no parameter groups");
  KZ_CHECK(default_lr >= 0.0, op_, "invalid learning rate {} (must be >= 0)", default_lr);
  std::set<const VariableImpl*> seen;
  size_t total = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& group = groups_[g];
    if (!group.lr) group.lr = default_lr;
    KZ_CHECK(*group.lr >= 0.0, op_, "group {}: invalid learning rate {} (must be >= 0)", g,
             *group.lr);
    group.initial_lr = *group.lr;
    for (size_t i = 0; i < group.params.size(); ++i) {
      const Variable& p = group.params[i];
      KZ_CHECK(p.defined(), op_, "group {} parameter {} is undefined", g, i);
      KZ_CHECK(p.is_leaf(), op_, "group {} parameter {} is not a leaf (it was computed by {})",
               g, i, p.grad_fn()->name);
      KZ_CHECK(seen.insert(p.impl().get()).second, op_,
               "group {} parameter {} appears more than once in the parameter groups", g, i);
    }
    total += group.params.size();
    state_.emplace_back(group.params.size());
  }
  KZ_CHECK(total > 0, op_, "got an empty parameter list");
  for (size_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].frozen) set_frozen(g, true);
}

void Optimizer::step() {
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    if (group.frozen) continue;
    for (size_t i = 0; i < group.params.size(); ++i) {
      Variable p = group.params[i];
      if (!p.grad().defined()) continue;
      Tensor& data = p.data();
      Tensor grad = p.grad();
      KZ_CHECK(grad.shape() == data.shape(), op_ + ".step",
               "group {} parameter {}: gradient {} does not match the parameter {}", g, i,
               shape_str(grad.shape()), shape_str(data.shape()));
      // The update walks p, grad and the state buffers as flat arrays: same layout for all.
      if (data.is_contiguous()) {
        grad = grad.contiguous();
      } else if (data.is_channels_last()) {
        grad = grad.to_channels_last();
      } else {
        fail(op_ + ".step", fmt::format("group {} parameter {} {} is neither contiguous nor "
                                        "channels-last", g, i, shape_str(data.shape())));
      }
      ParamState& state = state_[g][i];
      state.step += 1;
      update(group, data, grad, state);
    }
  }
  steps_ += 1;
}

void Optimizer::zero_grad() {
  for (ParamGroup& group : groups_)
    for (Variable& p : group.params) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  KZ_CHECK(lr >= 0.0, op_ + ".set_lr", "invalid learning rate {} (must be >= 0)", lr);
  for (ParamGroup& group : groups_) group.lr = lr;
}

void Optimizer::set_frozen(size_t g, bool frozen) {
  KZ_CHECK(g < groups_.size(), op_ + ".set_frozen", "group {} out of range ({} groups)", g,
           groups_.size());
  groups_[g].frozen = frozen;
  for (Variable& p : groups_[g].params) {
    p.set_requires_grad(!frozen);
    if (frozen) p.zero_grad();
  }
}

Tensor Optimizer::zeros_like_param(const Tensor& p) {
  if (p.is_contiguous()) return Tensor::zeros(p.shape());
  Tensor z = Tensor::empty_channels_last(p.shape());
  z.zero_();
  return z;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  out["step"] = encode_f64(static_cast<double>(steps_));
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string group_key = fmt::format("param_groups.{}.", g);
    out[group_key + "lr"] = encode_f64(*groups_[g].lr);
    out[group_key + "num_params"] = encode_f64(static_cast<double>(groups_[g].params.size()));
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& s = state_[g][i];
      if (s.step == 0) continue;
      const std::string key = fmt::format("state.{}.{}.", g, i);
      out[key + "step"] = encode_f64(static_cast<double>(s.step));
      for (const auto& [name, t] : s.buffers) out[key + name] = t.clone();
    }
  }
  return out;
}

namespace {

// "state.3.12.exp_avg" -> {"state", "3", "12", "exp_avg"}.
std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == '.') parts.emplace_back();
    else parts.back() += c;
  }
  return parts;
}

// A non-negative decimal index below `limit`, or -1.
int64_t parse_index(const std::string& s, size_t limit) {
  if (s.empty() || s.size() > 9) return -1;
  for (char c : s)
    if (c < '0' || c > '9') return -1;
  const int64_t v = std::stoll(s);
  return v < static_cast<int64_t>(limit) ? v : -1;
}

// A count stored with encode_f64: a non-negative integer.
int64_t decode_count(const Tensor& t, const std::string& key, const std::string& op) {
  const double v = decode_f64(t, key);
  KZ_CHECK(v >= 0 && v == std::floor(v) && v < 9.0e15, op, "{}: expected a count, got {}", key,
           v);
  return static_cast<int64_t>(v);
}

}  // namespace

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::string op = op_ + ".load_state_dict";
  const std::vector<std::string> buffers = buffer_names();
  const std::set<std::string> buffer_set(buffers.begin(), buffers.end());

  // Read everything into new objects first; assign only once all of it is valid.
  int64_t steps = -1;
  std::vector<double> lrs(groups_.size(), -1.0);
  std::vector<int64_t> sizes(groups_.size(), -1);
  std::vector<std::vector<ParamState>> new_state(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) new_state[g].resize(groups_[g].params.size());

  for (const auto& [key, t] : state) {
    const std::vector<std::string> parts = split_dots(key);
    if (parts.size() == 1 && key == "step") {
      steps = decode_count(t, key, op);
    } else if (parts.size() == 3 && parts[0] == "param_groups") {
      const int64_t g = parse_index(parts[1], groups_.size());
      KZ_CHECK(g >= 0, op, "{}: no such group (this optimizer has {})", key, groups_.size());
      if (parts[2] == "lr") {
        lrs[g] = decode_f64(t, key);
        KZ_CHECK(lrs[g] >= 0, op, "{}: negative learning rate {}", key, lrs[g]);
      } else if (parts[2] == "num_params") {
        sizes[g] = decode_count(t, key, op);
      } else {
        fail(op, fmt::format("unexpected key {}", key));
      }
    } else if (parts.size() == 4 && parts[0] == "state") {
      const int64_t g = parse_index(parts[1], groups_.size());
      KZ_CHECK(g >= 0, op, "{}: no such group (this optimizer has {})", key, groups_.size());
      const int64_t i = parse_index(parts[2], groups_[g].params.size());
      KZ_CHECK(i >= 0, op, "{}: no such parameter (group {} has {})", key, g,
               groups_[g].params.size());
      ParamState& s = new_state[g][i];
      if (parts[3] == "step") {
        s.step = decode_count(t, key, op);
        KZ_CHECK(s.step > 0, op, "{}: a stored state must have step >= 1", key);
      } else {
        KZ_CHECK(buffer_set.count(parts[3]), op,
                 "unexpected key {} ({} with these options keeps no '{}'; saved by another "
                 "optimizer or other options?)", key, op_, parts[3]);
        const Tensor& p = groups_[g].params[i].data();
        KZ_CHECK(t.shape() == p.shape(), op, "{}: expected {}, got {}", key,
                 shape_str(p.shape()), shape_str(t.shape()));
        Tensor b = zeros_like_param(p);
        b.copy_(t);
        s.buffers[parts[3]] = b;
      }
    } else {
      fail(op, fmt::format("unexpected key {}", key));
    }
  }

  KZ_CHECK(steps >= 0, op, "missing key 'step'");
  for (size_t g = 0; g < groups_.size(); ++g) {
    KZ_CHECK(lrs[g] >= 0, op, "missing key param_groups.{}.lr", g);
    KZ_CHECK(sizes[g] >= 0, op, "missing key param_groups.{}.num_params", g);
    KZ_CHECK(sizes[g] == static_cast<int64_t>(groups_[g].params.size()), op,
             "group {} was saved with {} parameters, this optimizer's has {} (another model?)",
             g, sizes[g], groups_[g].params.size());
    for (size_t i = 0; i < new_state[g].size(); ++i) {
      const ParamState& s = new_state[g][i];
      if (s.step == 0) {
        KZ_CHECK(s.buffers.empty(), op, "state.{}.{}: buffers without a 'step'", g, i);
        continue;
      }
      for (const std::string& name : buffers)
        KZ_CHECK(s.buffers.count(name), op,
                 "missing key state.{}.{}.{} (saved by another optimizer or other options?)",
                 g, i, name);
    }
  }

  steps_ = steps;
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = lrs[g];
  state_ = std::move(new_state);
}

}  // namespace kz
