/// \file
/// variable.h — autograd: Variable, the graph Node, and the backward engine.
///
/// A Variable is a Tensor plus what autograd needs: its gradient, whether it requires one,
/// and — when it was computed by a differentiable op — the Node that made it. A Node holds
/// the op's inputs (the graph's edges), what its backward saved (captured by the backward
/// closure), and the backward itself. There is no global tape: the graph is the web of
/// shared_ptrs from a result back to its leaves.
///
/// backward() walks an iterative topological order (no recursion: graphs are deep),
/// accumulates gradients with +=, and frees each node's saved tensors once used.
/// Ops that are not differentiable produce results that do not require grad; calling
/// backward() on a result that does not require grad throws at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

struct Node;

/// What a Variable shares with its copies (and a Node with its inputs).
struct VariableImpl {
  Tensor data;                    ///< the value
  Tensor grad;                    ///< undefined until a backward reaches this leaf
  bool requires_grad = false;     ///< whether backward computes grad for it
  std::shared_ptr<Node> grad_fn;  ///< null for leaves
};

/// A Tensor in the autograd graph (see the file's description). Copies share one
/// VariableImpl: a copy sees the other's gradient.
class Variable {
 public:
  Variable() = default;  ///< undefined: defined() is false
  /// A leaf holding `data`.
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }  ///< false for Variable()
  const Tensor& data() const { return impl_->data; }  ///< the value
  Tensor& data() { return impl_->data; }  ///< optimizers update parameters in place
  /// The accumulated gradient; undefined until a backward reaches this variable.
  ///@{
  const Tensor& grad() const { return impl_->grad; }
  Tensor& grad() { return impl_->grad; }
  ///@}
  bool requires_grad() const { return impl_->requires_grad; }  ///< whether it gets a grad
  void set_requires_grad(bool r);  ///< leaves only
  bool is_leaf() const { return impl_->grad_fn == nullptr; }  ///< not made by a tracked op
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }  ///< null for leaves
  const std::shared_ptr<VariableImpl>& impl() const { return impl_; }  ///< the shared state

  const Shape& shape() const { return impl_->data.shape(); }      ///< data().shape()
  int64_t dim() const { return impl_->data.dim(); }                ///< data().dim()
  int64_t size(int64_t d) const { return impl_->data.size(d); }    ///< data().size(d)
  int64_t numel() const { return impl_->data.numel(); }            ///< data().numel()
  float item() const { return impl_->data.item(); }                ///< data().item()

  Variable detach() const;  ///< same data, no graph, no grad
  void zero_grad() { impl_->grad = Tensor(); }  ///< PyTorch's set_to_none

  /// Backpropagate from this variable. A 1-element result needs no grad_output (it is 1);
  /// otherwise pass one of this shape. retain_graph keeps saved tensors for a second pass.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;

 private:
  std::shared_ptr<VariableImpl> impl_;
};

/// backward(dout) returns one gradient per input, each of that input's shape, or an
/// undefined Tensor where the input needs none. dout is the engine's own: when nothing else
/// holds its storage (use_count() == 1) a backward may compute a gradient over it in place.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& dout)>;

/// One op in the graph: made by make_result, run by Variable::backward.
struct Node {
  std::string name;  ///< the op, e.g. "conv2d"; used in errors and by the profiler
  std::vector<std::shared_ptr<VariableImpl>> inputs;  ///< the graph's edges, in op order
  BackwardFn backward;  ///< released after use unless retain_graph
  std::vector<Shape> input_shapes;  ///< each input's shape when the node was made ({} if undefined)
  int32_t scope = 0;  ///< current_scope() when the node was made: the layer that built it

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  ///< releases long chains iteratively: no recursion, however deep the graph
};

/// Wraps an op's result: when gradients are enabled and some input requires grad, the
/// result gets a Node with `backward`; otherwise it is a plain constant.
Variable make_result(Tensor out, const char* name, const std::vector<Variable>& inputs,
                     BackwardFn backward);

/// True when a result of these inputs would need a graph node (an op can then skip saving).
bool needs_grad(const std::vector<Variable>& inputs);

/// Gradient mode is per thread: NoGradGuard turns it off in its scope (inference).
bool grad_enabled();
/// Turns gradient mode off for its lifetime (this thread), then restores the previous mode.
class NoGradGuard {
 public:
  NoGradGuard();   ///< gradients off
  ~NoGradGuard();  ///< the previous mode back
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Called around every node's backward when set (the profiler). Not set = no cost.
struct BackwardObserver {
  virtual ~BackwardObserver() = default;
  virtual void begin(const Node& node) = 0;  ///< before node.backward runs
  virtual void end(const Node& node) = 0;    ///< after it returned
};
void set_backward_observer(BackwardObserver* observer);  ///< per thread; nullptr = off

/// Told during a backward when a leaf's gradient is final: every node of the graph that
/// could add to it has run (its grad() may still be undefined when no gradient reached it).
/// Leaves come in the order backward finishes them, the same for the same graph. Data-parallel
/// training starts sending a gradient then (dist/grad_sync.h), as PyTorch DDP's hooks.
struct GradReadyObserver {
  virtual ~GradReadyObserver() = default;
  virtual void ready(VariableImpl& leaf) = 0;  ///< leaf.grad is final
};
void set_grad_ready_observer(GradReadyObserver* observer);  ///< per thread; nullptr = off

/// The profiler's "what is running now" (a layer), as a number only it interprets; 0 = none.
/// make_result stamps it on every Node, so backward time is attributed to the layer whose
/// forward built the node. Per thread; costs one store per op.
int32_t current_scope();
void set_current_scope(int32_t scope);  ///< sets current_scope() for this thread

}  // namespace kz
