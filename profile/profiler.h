/// \file
/// profiler.h — where the time of a training step goes: per-layer forward and backward
/// milliseconds, FLOP and byte counts, the oneDNN implementations that ran, and a Chrome
/// trace (Trace Event JSON, opens in Perfetto or chrome://tracing).
///
/// Shapes: x is a layer's input, y its output; activations are (N,C,H,W), conv weights
/// OIHW (O, C/groups, k, k), Linear x (N,in) and weight (out,in).
///
/// How it works (no sampling, no instrumented kernels):
///   * Sequential calls a ForwardObserver around each child's forward (layers/module.h).
///     The profiler opens a frame per call and sets autograd's current scope
///     (autograd/variable.h) to that layer's row, so every Node remembers the layer that
///     built it.
///   * The autograd engine calls a BackwardObserver around each node's backward; the
///     profiler charges that time to the layer that built the node.
///   * Time is exclusive ("self"): a container's frame holds only what its children did not
///     (a residual add, a pooling, or nothing but dispatch).
///   * Implementations: the profiler clears oneDNN's plan cache when it starts, so each
///     primitive is made — and its implementation noted (tensor/dnnl.h) — inside the layer
///     that uses it. Layers that find an identical plan already made (same type and shapes)
///     share that layer's implementation names.
/// Fused layers: where MobileNetV2 runs several layers as one op (BN + ReLU6 always; in
/// training the expansions' conv + BN + ReLU6, conv1x1_bn_relu6; in inference the convs with
/// BN folded in), the op's time goes to the row of the first layer it covers; the others are
/// shown calls of no time that keep their FLOP and byte counts ("-" GFLOP/s).
/// A layer's own time includes what its op does around the kernel: the output allocation,
/// layout reorders, the graph node. What no layer owns — the autograd engine's walk and its
/// gradient sums where a residual branch joins, containers' dispatch, zero_grad — is the
/// "outside kernels" row of the report. With no profiler running, the hooks cost one
/// null-pointer test per layer and one store per graph node.
///
/// The FLOP/byte model (per call; a multiply-add is 2 FLOPs; float32 = 4 bytes; "bytes"
/// counts each tensor once per pass a kernel makes over it, with no cache reuse between
/// passes — the traffic if nothing stayed in cache):
///   Conv2d       MACs = N·O·OH·OW·(C/groups)·k²; forward 2·MACs, reads x, weight, writes y;
///                backward-data 2·MACs (dy, weight → dx) when x needs a gradient, backward-
///                weights 2·MACs (dy, x → dweight); a bias adds N·O·OH·OW each way.
///   BatchNorm2d  training forward 5 FLOPs/element (Σx, Σx², x·a + b), two passes over x and
///                one write of y: 12 bytes/element; backward 9 FLOPs/element, two passes
///                over x and dy, one write of dx: 20 bytes/element. Eval forward 2 FLOPs,
///                8 bytes per element.
///   ReLU, ReLU6  forward 1 (ReLU) or 2 (ReLU6) FLOPs/element, 8 bytes; backward the same
///                FLOPs, 12 bytes (x, dy → dx).
///   Dropout      (training) 1 FLOP/element and 8 bytes each way; nothing in eval mode.
///   Linear       MACs = N·in·out, as Conv2d with x (N,in), y (N,out).
///   ConvTranspose2d  MACs = N·C·H·W·(O/groups)·k² with x (N,C,H,W): those of the Conv2d
///                it is the adjoint of (from y to x); the three passes as Conv2d's.
///   Upsample     bandwidth-bound: forward reads x, writes y (bilinear 7 FLOPs per output);
///                backward zeroes dx and adds dy into it (1, bilinear 8 FLOPs per dy element).
///   LeakyReLU    as ReLU6; Sigmoid, Tanh ≈ 4 FLOPs/element forward, 3 backward.
///   BatchNorm1d  as BatchNorm2d over (N,C).
///   ConvAutoencoder, ConvVAE  their own ops: the output sigmoid; the VAE's sampling and the
///                mean/log-variance heads (profiler.cpp).
///   GlobalAvgPool2d   one add per input element each way; reads x, writes y (or the reverse).
///   InvertedResidual  its own op: the residual add, 1 FLOP and 12 bytes per output element;
///                     its backward passes dy through (the engine sums the two branches).
///   MobileNetV2  its own ops: the input's copy to channels-last (8 bytes/element) and the
///                global average pooling of the features.
#pragma once

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/module.h"
#include "optim/optimizer.h"

namespace kz {

/// The work of a layer call: the roofline's two numbers.
struct Cost {
  double flops = 0;  ///< floating-point operations (a multiply-add is 2)
  double bytes = 0;  ///< bytes read and written (see the model above)
  /// Adds both numbers.
  Cost& operator+=(const Cost& o) {
    flops += o.flops;
    bytes += o.bytes;
    return *this;
  }
};

/// A layer call's cost, forward and backward (data and weight gradients).
struct LayerCost {
  /// The forward's, the backward's
  ///@{
  Cost forward, backward;
  ///@}
  double macs = 0;  ///< multiply-adds of the forward's convolution or matrix product
};

/// One call of `m` on input x giving y (shapes above). dx_needed: x requires a gradient
/// (false for the first layer, whose input is data), so backward-data is skipped. Modules
/// the model does not know (Sequential, user types) cost nothing of their own.
LayerCost layer_cost(Module& m, const Shape& x, const Shape& y, bool dx_needed);

/// One row of count_costs.
struct CostEntry {
  std::string name;  ///< dotted, as named_parameters ("features.1.conv.0.0"; "" = the model)
  std::string type;  ///< as describe_layer
  /// The module's input and output shapes
  ///@{
  Shape x, y;
  ///@}
  LayerCost cost;    ///< of one call
};
/// The cost of every module below `model` for an input of shape x, found by propagating
/// shapes through the module tree without running anything. Rows in forward order: leaves,
/// and InvertedResidual / MobileNetV2 / ConvAutoencoder / ConvVAE for their own ops. Knows
/// Sequential, InvertedResidual, MobileNetV2, the autoencoders (ConvEncoder, ConvDecoder,
/// ConvAutoencoder, ConvVAE, MlpAutoencoder) and the leaves above; other container types
/// throw.
std::vector<CostEntry> count_costs(Module& model, const Shape& x);

/// The ssim-ae training loss Σ (1 − SSIM(x̂, x)) (losses/ssim.h, whole map) on images of
/// shape x (N,C,H,W) with a w×w Gaussian window, r = (w−1)/2; x̂ needs a gradient, x not.
/// With P = N·C·(H+2r)·(W+2r) padded elements, V = N·C·H·(W+2r) after the first (vertical)
/// window pass and M = N·C·H·W map elements:
/// \code{.unparsed}
///   forward   FLOPs = 10·w·(V + M)   5 filtered maps (x̂, x, x̂², x², x̂·x) × 2 separable
///                                     passes of w multiply-adds per output
///                   + 3·P            the three products on the padded images
///                   + 20·M           the map's 17 element-wise ops, 1 − map (neg,
///                                     add), the sum
///             bytes = 8·(M + P)·2 + 12·3·P + 20·(P + 2V + M) + (12·17 + 8·2 + 4)·M
///   backward  FLOPs = 6·w·(V + M) + 4·P + 40·M   (the 3 filtered maps that depend on x̂;
///                                                  2 FLOPs per element-wise op)
///             bytes = 12·(P + 2V + M) + 16·3·P + 16·20·M
/// \endcode
/// SSIM is bandwidth-bound at these sizes: about w FLOPs per byte moved in its passes.
LayerCost ssim_loss_cost(const Shape& x, int64_t window);

/// A short description of a layer for tables: "Conv2d 3x3/s2 3->32", "Conv2d dw3x3 96",
/// "Conv2d 1x1 16->96", "BatchNorm2d 96", "ReLU6", "Linear 1280->10", ...
std::string describe_layer(Module& m);

// --- the report ---------------------------------------------------------------------------
/// One line of the profile: a layer, a region or an op, in one phase.
struct ProfileRow {
  std::string name;   ///< module path ("features.3.conv.1.0"), "<model>", or a region's name
  std::string type;   ///< describe_layer, or a region's description
  std::string phase;  ///< "forward", "backward" or "update"
  double ms = 0;      ///< per step, mean over the recorded steps
  double calls = 0;   ///< per step
  Cost cost;          ///< per step
  std::string impl;   ///< oneDNN implementations that ran, such as "brg:avx512_core"
  /// Shapes of the first call (empty for regions)
  ///@{
  Shape x, y;
  ///@}
};

/// How rows summarise the recorded steps. mean: rows add up exactly to the mean step, less
/// the outside-kernels row. median: each row's median over steps (and the median step) — on a
/// machine shared with other work, one step in which a layer waited for a core does not move
/// it; the rows then need not add up to the step exactly.
enum class ProfileStatistic { mean, median };

/// What Profiler::report returns: per-step rows and the step's totals.
struct ProfileReport {
  std::vector<ProfileRow> rows;  ///< forward rows in call order, then backward, then update
  int64_t steps = 0;             ///< recorded steps
  ProfileStatistic statistic = ProfileStatistic::mean;  ///< how rows summarise the steps
  double step_ms = 0;            ///< wall time of a recorded step (mean or median)
  double mean_step_ms = 0;       ///< always the mean (images/s = batch / mean step)
  /// Time outside kernels: mean: step_ms − Σ rows (engine + glue + untimed gaps); median:
  /// engine + glue (medians), and the step's remainder is reported as unattributed.
  double outside_ms = 0;
  double engine_ms = 0;  ///< autograd engine: graph walk, gradient sums, freeing saved tensors
  double glue_ms = 0;    ///< containers' own dispatch, regions without a cost (zero_grad)
  double unattributed_ms = 0;  ///< median only: step_ms − Σ rows − outside_ms
  double system_allocations = 0;  ///< per step: storage requests that reached malloc
  /// Process CPU time per step (all threads, getrusage). On a machine shared with other
  /// work, cpu_ms well below step_ms × threads means the step waited for a core.
  double cpu_ms = 0;
  double rows_ms() const;   ///< Σ rows' ms
  Cost total_cost() const;  ///< Σ rows' cost
  /// The part of outside_ms that no frame timed (gaps between frames, the profiler's own
  /// bookkeeping): outside − engine − glue; 0 for medians, where unattributed_ms holds the rest.
  double untimed_ms() const;
};

/// The table `kizuki profile` prints: one line per row, then the outside-kernels row and the
/// step, a summary by kind of layer, and last the coverage: outside kernels and untimed (for
/// medians: unattributed) as percentages of the step, next to issue 7's target (outside under
/// 5 % at batch 128, 32×32, width 1.0). `title` is printed above it.
std::string format_profile(const ProfileReport& report, const std::string& title);

// --- the profiler -------------------------------------------------------------------------
/// Times every layer's forward and backward, regions and the autograd engine, per training
/// step (`kizuki profile`; docs/performance.md). One per thread at a time.
class Profiler : private ForwardObserver, private BackwardObserver {
 public:
  /// Profiles forward calls of `model` (through forward() below) and of every module
  /// inside it. Starts at once on this thread; the destructor stops.
  explicit Profiler(Module& model);
  ~Profiler() override;  ///< stops observing
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// model.forward(x) in a frame of its own (the model's own ops: its row is "model").
  Variable forward(const Variable& x);
  /// loss.backward() in the autograd engine's frame: node backwards are charged to their
  /// layers; what is left is the engine's own time (reported in the outside-kernels row).
  void backward(const Variable& loss);

  /// A named stretch of work outside the model — the loss, the backward call, the optimizer
  /// step, zero_grad — timed as its own row. Nodes made inside it are charged to it in
  /// backward (cost.backward). A region with no forward cost counts as glue (outside
  /// kernels): give kernels a cost. phase: "forward" or "update".
  class Region {
   public:
    /// Starts timing: `type` is the row's description, cost its forward's cost.
    Region(Profiler& profiler, const std::string& name, const std::string& type,
           const std::string& phase, LayerCost cost = {});
    ~Region();  ///< stops timing
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

   private:
    Profiler& profiler_;
    int row_;
  };

  /// Brackets one training step. Only times inside steps are reported (per step means).
  ///@{
  void begin_step();
  void end_step();
  ///@}
  /// Forgets the times and events so far (the warm-up); keeps rows and implementations.
  void reset();

  /// The recorded steps, summarised by `statistic`.
  ProfileReport report(ProfileStatistic statistic = ProfileStatistic::mean) const;
  /// Chrome Trace Event JSON: one complete ("X") event per layer call (cat "forward"),
  /// per node backward (cat "backward", named after the layer or region that made the
  /// node), per region and engine call (cat "region") and per step (cat "step", "step k").
  /// Times in µs from the profiler's creation; args: op, flops, bytes, x (input shape).
  nlohmann::json trace() const;
  void write_trace(const std::string& path) const;  ///< atomic write; errors name the file

 private:
  using Clock = std::chrono::steady_clock;
  /// op: nodes made outside every frame, by op name; engine: the backward call itself.
  enum class Kind { module, region, op, engine };

  struct Row {
    std::string name, type, phase;
    Kind kind = Kind::module;
    Module* module = nullptr;
    bool container = false;  ///< has children
    LayerCost cost;          ///< per forward call (regions: forward = their cost)
    bool cost_known = false;
    Shape x, y;
    bool x_grad = false;
    double fwd_s = 0, bwd_s = 0;            ///< totals since reset()
    double fwd_mark = 0, bwd_mark = 0;      ///< the totals when the last step ended
    std::vector<double> fwd_steps, bwd_steps;  ///< per recorded step
    int64_t fwd_calls = 0, bwd_calls = 0;
    std::vector<std::string> fwd_impls, bwd_impls;
    int64_t fwd_order = -1, bwd_order = -1;  ///< first-seen sequence numbers
  };
  struct Frame {
    int row;
    bool backward;
    Clock::time_point t0;
    double child_s = 0;
    int32_t previous_scope = 0;
  };
  struct Event {
    int row;
    int phase;  ///< 0 forward, 1 backward, 2 step
    double t0_us, dur_us;
  };

  void begin(const Module& module, const Variable& x) override;
  void end(const Module& module, const Variable& y) override;
  void begin(const Node& node) override;
  void end(const Node& node) override;

  void push(int row, bool backward);
  double pop(Clock::time_point now);  ///< closes the top frame; returns its self time
  int module_row(const Module& module);
  int op_row(const std::string& op);
  int named_row(const std::string& key, Kind kind, const std::string& name,
                const std::string& type, const std::string& phase);
  void note_impls(int row, bool backward);
  double us(Clock::time_point t) const;

  Module& model_;
  std::unordered_map<const Module*, std::string> names_;
  std::unordered_map<const Module*, int> module_rows_;
  std::unordered_map<std::string, int> named_rows_;  ///< regions, ops, the engine
  std::vector<Row> rows_;
  std::vector<Frame> stack_;
  std::vector<Event> events_;
  std::vector<Shape> pending_x_;  ///< x of each open module frame
  std::vector<bool> pending_x_grad_;
  Clock::time_point origin_, step_t0_;
  double step_cpu0_ = 0;
  double steps_s_ = 0, steps_cpu_s_ = 0;
  std::vector<double> step_s_;  ///< each recorded step's wall time
  int64_t steps_ = 0;
  int64_t sequence_ = 0;
  int64_t cache_size_ = 0;
  size_t impls_seen_ = 0;
  int64_t allocations_at_reset_ = 0;
  int32_t outer_scope_ = 0;
};

/// One training step as the profiled steps (profile/train_step.h, profile/autoencoder_step.h)
/// share it, with or without a profiler: zero_grad, `forward_loss()` (the forward pass and the
/// loss; it opens their rows itself, e.g. through profiler->forward and a "loss" Region),
/// backward, and the optimizer's step, each a row of its own under a profiler (the optimizer's
/// row is described as `optimizer_type`, with `optimizer_cost`). Returns the loss; throws,
/// naming `where`, when it is not finite.
template <class ForwardLoss>
float profiled_training_step(Optimizer& optimizer, Profiler* profiler,
                             const std::string& optimizer_type, const LayerCost& optimizer_cost,
                             const char* where, ForwardLoss&& forward_loss) {
  if (profiler) profiler->begin_step();
  float value = 0;
  {
    std::optional<Profiler::Region> region;
    if (profiler) region.emplace(*profiler, "zero_grad", "", "update");
    optimizer.zero_grad();
    region.reset();
    const Variable loss = forward_loss();
    value = loss.item();
    KZ_CHECK(std::isfinite(value), where, "the loss diverged ({})", value);
    if (profiler)
      profiler->backward(loss);
    else
      loss.backward();
    if (profiler) region.emplace(*profiler, "optimizer", optimizer_type, "update", optimizer_cost);
    optimizer.step();
  }  // the graph is freed inside the step
  if (profiler) profiler->end_step();
  return value;
}

/// The number of parameter values of `model` (what an optimizer's cost is counted per).
inline double parameter_values(Module& model) {
  double n = 0;
  for (const Variable& p : model.parameters()) n += static_cast<double>(p.numel());
  return n;
}

}  // namespace kz
