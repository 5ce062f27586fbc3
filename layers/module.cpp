// module.cpp — Module: registration, dotted names, train/eval, state_dict load and save
// (see module.h). Names are built by walking children in registration order, prefixing
// each child's names with "<child name>.".
#include "layers/module.h"

#include <set>

#include "tensor/safetensors.h"

namespace kz {

namespace {

bool is_valid_name(const std::string& name) {
  return !name.empty() && name.find('.') == std::string::npos;
}

bool is_skipped_key(const std::string& key) {
  const std::string counter = "num_batches_tracked";
  return key.size() >= counter.size() &&
         key.compare(key.size() - counter.size(), counter.size(), counter) == 0;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The first few, then how many more: a wrong width mismatches hundreds of shapes.
std::string join_some(const std::vector<std::string>& items, size_t shown = 8) {
  if (items.size() <= shown) return join(items);
  return join({items.begin(), items.begin() + static_cast<std::ptrdiff_t>(shown)}) +
         fmt::format(", ... ({} more)", items.size() - shown);
}

}  // namespace

namespace {
thread_local ForwardObserver* g_forward_observer = nullptr;
}  // namespace

void set_forward_observer(ForwardObserver* observer) { g_forward_observer = observer; }
ForwardObserver* forward_observer() { return g_forward_observer; }

Variable observed_forward(Module& m, const Variable& x) {
  ForwardObserver* observer = g_forward_observer;
  if (observer) observer->begin(m, x);
  Variable y = m.forward(x);
  if (observer) observer->end(m, y);
  return y;
}

Variable Module::forward(const Variable&) {
  fail("forward", type_name() + " has no one-input forward");
}

Variable& Module::register_parameter(const std::string& name, Tensor init) {
  KZ_CHECK(is_valid_name(name), "register_parameter", "invalid name '{}'", name);
  for (const auto& [n, p] : parameters_)
    KZ_CHECK(n != name, "register_parameter", "'{}' is already registered", name);
  parameters_.emplace_back(name, Variable(std::move(init), /*requires_grad=*/true));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor init) {
  KZ_CHECK(is_valid_name(name), "register_buffer", "invalid name '{}'", name);
  for (const auto& [n, b] : buffers_)
    KZ_CHECK(n != name, "register_buffer", "'{}' is already registered", name);
  buffers_.emplace_back(name, std::make_unique<Tensor>(std::move(init)));
  return *buffers_.back().second;
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out(parameters_.begin(), parameters_.end());
  for (const auto& [child_name, child] : children_)
    for (auto& [name, p] : child->named_parameters()) out.emplace_back(child_name + "." + name, p);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [name, b] : buffers_) out.emplace_back(name, b.get());
  for (auto& [child_name, child] : children_)
    for (auto& [name, b] : child->named_buffers()) out.emplace_back(child_name + "." + name, b);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, p] : named_parameters()) p.zero_grad();
}

StateDict Module::state_dict() const {
  StateDict out;
  for (const auto& [name, p] : parameters_) out[name] = p.data().clone();
  for (const auto& [name, b] : buffers_) out[name] = b->clone();
  for (const auto& [child_name, child] : children_)
    for (auto& [name, t] : child->state_dict()) out[child_name + "." + name] = std::move(t);
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  // Every destination tensor by its dotted name.
  std::vector<std::pair<std::string, Tensor*>> targets;
  for (auto& [name, p] : named_parameters()) targets.emplace_back(name, &p.data());
  for (auto& [name, b] : named_buffers()) targets.emplace_back(name, b);

  LoadResult result;
  std::vector<std::string> bad_shapes;
  std::set<std::string> known;
  for (const auto& [name, dst] : targets) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      result.missing_keys.push_back(name);
    } else if (it->second.shape() != dst->shape()) {
      bad_shapes.push_back(fmt::format("{}: expected {}, got {}", name, shape_str(dst->shape()),
                                       shape_str(it->second.shape())));
    }
  }
  for (const auto& [name, t] : state)
    if (!known.count(name) && !is_skipped_key(name)) result.unexpected_keys.push_back(name);

  KZ_CHECK(bad_shapes.empty(), "load_state_dict", "{} shape mismatch{}: {}", bad_shapes.size(),
           bad_shapes.size() == 1 ? "" : "es", join_some(bad_shapes));
  if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
    std::string message;
    if (!result.missing_keys.empty())
      message += fmt::format("{} missing key{}: {}", result.missing_keys.size(),
                             result.missing_keys.size() == 1 ? "" : "s",
                             join(result.missing_keys));
    if (!result.unexpected_keys.empty())
      message += fmt::format("{}{} unexpected key{}: {}", message.empty() ? "" : "; ",
                             result.unexpected_keys.size(),
                             result.unexpected_keys.size() == 1 ? "" : "s",
                             join(result.unexpected_keys));
    fail("load_state_dict", message + " (strict; pass strict=false to load the rest)");
  }
  for (const auto& [name, dst] : targets) {
    auto it = state.find(name);
    if (it != state.end()) dst->copy_(it->second);  // in place: Variables keep their storage
  }
  return result;
}

void save_state_dict(const Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

LoadResult load_state_dict(Module& module, const std::string& path, bool strict) {
  const Safetensors file = load_safetensors(path);
  try {
    return module.load_state_dict(file.tensors, strict);
  } catch (const Error& e) {
    const std::string prefix = "[load_state_dict] ";
    std::string message = e.what();
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    fail("load_state_dict", path + ": " + message);
  }
}

}  // namespace kz
