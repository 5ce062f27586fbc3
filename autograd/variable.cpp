// variable.cpp — Variable, graph construction and the backward engine (see variable.h).
#include "autograd/variable.h"

#include <unordered_map>
#include <unordered_set>

#include "tensor/ops.h"

namespace kz {

namespace {
thread_local bool g_grad_enabled = true;
thread_local BackwardObserver* g_observer = nullptr;
thread_local GradReadyObserver* g_ready = nullptr;
thread_local int32_t g_scope = 0;
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }
void set_backward_observer(BackwardObserver* observer) { g_observer = observer; }
void set_grad_ready_observer(GradReadyObserver* observer) { g_ready = observer; }
int32_t current_scope() { return g_scope; }
void set_current_scope(int32_t scope) { g_scope = scope; }

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

void Variable::set_requires_grad(bool r) {
  KZ_CHECK(is_leaf(), "requires_grad", "can only be set on leaves, not on the result of {}",
           impl_->grad_fn->name);
  impl_->requires_grad = r;
}

Variable Variable::detach() const { return Variable(impl_->data, false); }

Node::~Node() {
  // Destroying a result would otherwise destroy its node, whose inputs' nodes, ... one
  // stack frame per op. Instead, inputs this node holds the last reference to hand their
  // own inputs over to a local stack before they die.
  std::vector<std::shared_ptr<VariableImpl>> stack = std::move(inputs);
  while (!stack.empty()) {
    std::shared_ptr<VariableImpl> v = std::move(stack.back());
    stack.pop_back();
    if (v && v.use_count() == 1 && v->grad_fn && v->grad_fn.use_count() == 1) {
      for (auto& in : v->grad_fn->inputs) stack.push_back(std::move(in));
      v->grad_fn->inputs.clear();
    }
  }
}

bool needs_grad(const std::vector<Variable>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Variable& v : inputs)
    if (v.defined() && v.requires_grad()) return true;
  return false;
}

Variable make_result(Tensor out, const char* name, const std::vector<Variable>& inputs,
                     BackwardFn backward) {
  Variable result(std::move(out), false);
  if (!needs_grad(inputs)) return result;
  KZ_ASSERT(backward != nullptr);
  auto node = std::make_shared<Node>();
  node->name = name;
  node->scope = g_scope;
  node->backward = std::move(backward);
  for (const Variable& v : inputs) {
    node->inputs.push_back(v.defined() ? v.impl() : nullptr);
    node->input_shapes.push_back(v.defined() ? v.shape() : Shape{});
  }
  result.impl()->requires_grad = true;
  result.impl()->grad_fn = std::move(node);
  return result;
}

void Variable::backward(const Tensor& grad_output, bool retain_graph) const {
  KZ_CHECK(defined(), "backward", "called on an undefined Variable");
  KZ_CHECK(requires_grad(), "backward",
           "this result does not require grad: no input requires grad, it was computed under "
           "NoGradGuard, or its op is not differentiable");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    KZ_CHECK(numel() == 1, "backward", "a grad_output is needed for a non-scalar result of "
             "shape {}", shape_str(shape()));
    seed = Tensor::ones(shape());
  }
  KZ_CHECK(seed.shape() == shape(), "backward", "grad_output shape {} differs from result {}",
           shape_str(seed.shape()), shape_str(shape()));

  // Post-order of an iterative depth-first search: every variable comes after all its
  // inputs. Walked in reverse, each variable is reached after all its consumers, so its
  // gradient is complete when its node's backward runs.
  std::vector<VariableImpl*> order;
  std::unordered_set<VariableImpl*> visited;
  std::vector<std::pair<VariableImpl*, size_t>> stack{{impl_.get(), 0}};
  visited.insert(impl_.get());
  while (!stack.empty()) {
    auto& [v, next] = stack.back();
    const Node* node = v->grad_fn.get();
    if (node && next < node->inputs.size()) {
      VariableImpl* in = node->inputs[next++].get();
      if (in && in->requires_grad && in->grad_fn && visited.insert(in).second)
        stack.push_back({in, 0});
      continue;
    }
    order.push_back(v);
    stack.pop_back();
  }

  // With a GradReadyObserver: how many edges of the walked nodes still lead to each leaf
  // that wants a gradient; at 0 its gradient is final and the observer is told.
  std::unordered_map<VariableImpl*, int> leaf_edges;
  GradReadyObserver* ready = g_ready;
  if (ready)
    for (VariableImpl* v : order)
      if (v->grad_fn)
        for (const auto& in : v->grad_fn->inputs)
          if (in && in->requires_grad && !in->grad_fn) ++leaf_edges[in.get()];
  auto release_leaves = [&](const Node& node) {
    if (!ready) return;
    for (const auto& in : node.inputs)
      if (in && in->requires_grad && !in->grad_fn && --leaf_edges[in.get()] == 0)
        ready->ready(*in);
  };

  std::unordered_map<VariableImpl*, Tensor> grads;
  grads[impl_.get()] = seed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    VariableImpl* v = *it;
    Node& node = *v->grad_fn;
    auto g = grads.find(v);
    if (g == grads.end()) {  // no gradient flowed here
      release_leaves(node);
      continue;
    }
    const Tensor dout = std::move(g->second);
    grads.erase(g);
    KZ_CHECK(node.backward != nullptr, "backward",
             "the graph through {} was already freed; pass retain_graph=true to backward "
             "twice", node.name);
    if (g_observer) g_observer->begin(node);
    std::vector<Tensor> dinputs = node.backward(dout);
    if (g_observer) g_observer->end(node);
    KZ_ASSERT(dinputs.size() == node.inputs.size());
    if (!retain_graph) node.backward = nullptr;  // frees what the op saved
    for (size_t i = 0; i < dinputs.size(); ++i) {
      VariableImpl* in = node.inputs[i].get();
      Tensor& d = dinputs[i];
      if (!in || !in->requires_grad || !d.defined()) continue;
      KZ_CHECK(d.shape() == in->data.shape(), "backward",
               "{} returned a gradient of shape {} for an input of shape {}", node.name,
               shape_str(d.shape()), shape_str(in->data.shape()));
      Tensor& slot = in->grad_fn ? grads[in] : in->grad;
      if (!slot.defined()) {
        // Leaves own their gradient (optimizers update it in place); intermediate
        // gradients may alias a consumer's output gradient until they are accumulated.
        slot = in->grad_fn ? d : d.clone();
      } else if (in->grad_fn) {
        // The running sum held by the engine alone (and dense) is added into in place.
        if (slot.storage().use_count() == 1 && slot.is_dense())
          add_(slot, d);
        else
          slot = add(slot, d);
      } else {
        add_(slot, d);
      }
    }
    release_leaves(node);
  }
}

}  // namespace kz
