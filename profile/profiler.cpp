// profiler.cpp — the layer cost model, the shape walk, the Profiler's frames and the
// report and trace it writes (see profiler.h).
#include "profile/profiler.h"

#include <algorithm>
#include <array>
#include <map>

#include <sys/resource.h>

#include <fmt/format.h>

#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/conv_autoencoder.h"
#include "layers/conv_transpose.h"
#include "layers/conv_vae.h"
#include "layers/linear.h"
#include "layers/mlp_autoencoder.h"
#include "layers/mobilenet_v2.h"
#include "layers/sequential.h"
#include "layers/simple.h"
#include "tensor/dnnl.h"
#include "tensor/file_io.h"
#include "tensor/storage.h"

namespace kz {

namespace {

constexpr double kFloat = 4.0;  // bytes per element

double count(const Shape& s) { return static_cast<double>(numel_of(s)); }

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

bool has_children(const Module& m) { return !m.named_children().empty(); }

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  return (upper + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// The output shape of a leaf layer for input x.
Shape leaf_output_shape(Module& m, const Shape& x) {
  if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
    KZ_CHECK(x.size() == 4, "count_costs", "Conv2d expects (N,C,H,W), got {}", shape_str(x));
    return conv2d_output_shape(x, conv->weight().shape(), conv->params_for(x[2], x[3]));
  }
  if (auto* fc = dynamic_cast<Linear*>(&m)) return {x[0], fc->out_features()};
  if (dynamic_cast<GlobalAvgPool2d*>(&m)) return {x[0], x[1]};
  if (auto* deconv = dynamic_cast<ConvTranspose2d*>(&m)) {
    KZ_CHECK(x.size() == 4, "count_costs", "ConvTranspose2d expects (N,C,H,W), got {}",
             shape_str(x));
    return conv_transpose2d_output_shape(x, deconv->weight().shape(), deconv->params());
  }
  if (auto* up = dynamic_cast<Upsample*>(&m)) {
    KZ_CHECK(x.size() == 4, "count_costs", "Upsample expects (N,C,H,W), got {}", shape_str(x));
    const auto size = up->output_size(x[2], x[3]);
    return {x[0], x[1], size.first, size.second};
  }
  return x;  // BatchNorm2d, activations, Dropout
}

bool any_param_requires_grad(const Module& m) {
  for (const auto& [name, p] : m.named_parameters())
    if (p.requires_grad()) return true;
  return false;
}

Module& child_of(Module& m, const std::string& name) {
  for (auto& [child_name, child] : m.named_children())
    if (child_name == name) return *child;
  fail("count_costs", fmt::format("{} has no child '{}'", m.type_name(), name));
}

// Propagates x through m, appending the cost of every leaf and own-op module to *out
// (when not null). `grad`: x requires a gradient on entry; y does on exit.
Shape walk(Module& m, const std::string& name, const Shape& x, bool& grad,
           std::vector<CostEntry>* out) {
  const bool grad_in = grad;
  auto add_entry = [&](const Shape& y) {
    if (out) out->push_back({name, describe_layer(m), x, y, layer_cost(m, x, y, grad_in)});
  };
  if (auto* net = dynamic_cast<MobileNetV2*>(&m)) {
    const size_t own = out ? out->size() : 0;
    const Shape f = walk(net->features(), join_name(name, "features"), x, grad, out);
    Shape y = {f[0], f[1]};
    if (net->classifier()) y = walk(*net->classifier(), join_name(name, "classifier"), y, grad, out);
    if (out)  // its own ops come first (to channels-last) and after the features (pooling)
      out->insert(out->begin() + static_cast<std::ptrdiff_t>(own),
                  {name, describe_layer(m), x, y, layer_cost(m, x, y, grad_in)});
    return y;
  }
  if (auto* block = dynamic_cast<InvertedResidual*>(&m)) {
    Shape y = x;
    for (auto& [child_name, child] : block->named_children())
      y = walk(*child, join_name(name, child_name), y, grad, out);
    if (block->uses_residual()) add_entry(y);
    return y;
  }
  // The autoencoders (layers/conv_autoencoder.h, conv_vae.h, mlp_autoencoder.h): their
  // children in call order; the reshapes between them are views of no cost.
  if (dynamic_cast<ConvEncoder*>(&m)) {
    Shape h = walk(child_of(m, "features"), join_name(name, "features"), x, grad, out);
    h = {h[0], static_cast<int64_t>(count(h)) / h[0]};
    return walk(child_of(m, "fc"), join_name(name, "fc"), h, grad, out);
  }
  if (auto* decoder = dynamic_cast<ConvDecoder*>(&m)) {
    Shape h = walk(child_of(m, "fc"), join_name(name, "fc"), x, grad, out);
    h = {h[0], decoder->first_channels(), decoder->first_size(), decoder->first_size()};
    return walk(child_of(m, "features"), join_name(name, "features"), h, grad, out);
  }
  if (dynamic_cast<ConvAutoencoder*>(&m) || dynamic_cast<ConvVAE*>(&m)) {
    auto* vae = dynamic_cast<ConvVAE*>(&m);
    Shape h = walk(child_of(m, "encoder"), join_name(name, "encoder"), x, grad, out);
    if (vae) h[1] /= 2;  // the decoder takes z, half of the encoder's (μ, log σ²)
    Shape y = walk(child_of(m, "decoder"), join_name(name, "decoder"), h, grad, out);
    if (vae) y[1] /= 2;  // the mean, half of the decoder's (m, log v)
    add_entry(y);  // the output sigmoid; the VAE's sampling and heads
    return y;
  }
  if (dynamic_cast<MlpAutoencoder*>(&m)) {
    const Shape rows = {x[0], x[1]};
    const Shape z = walk(child_of(m, "encoder"), join_name(name, "encoder"), rows, grad, out);
    walk(child_of(m, "decoder"), join_name(name, "decoder"), z, grad, out);
    return x;
  }
  if (dynamic_cast<Sequential*>(&m)) {
    Shape h = x;
    for (auto& [child_name, child] : m.named_children())
      h = walk(*child, join_name(name, child_name), h, grad, out);
    return h;
  }
  KZ_CHECK(!has_children(m), "count_costs", "cannot propagate shapes through {} '{}'",
           m.type_name(), name);
  const Shape y = leaf_output_shape(m, x);
  add_entry(y);
  grad = grad || any_param_requires_grad(m);
  return y;
}

// Cost of a convolution or matrix product without its bias: `macs` multiply-adds over x,
// w and y elements. Backward-data reads dy, w and writes dx; backward-weights reads dy, x
// and writes dw.
LayerCost product_cost(double macs, double x, double w, double y, bool dx_needed,
                       bool dw_needed) {
  LayerCost c;
  c.macs = macs;
  c.forward = {2 * macs, kFloat * (x + w + y)};
  if (dx_needed) c.backward += {2 * macs, kFloat * (y + w + x)};
  if (dw_needed) c.backward += {2 * macs, kFloat * (y + x + w)};
  return c;
}

// Per-element FLOPs and bytes each way for element-wise layers.
LayerCost elementwise_cost(double n, double fwd_flops, double fwd_bytes, double bwd_flops,
                           double bwd_bytes) {
  LayerCost c;
  c.forward = {fwd_flops * n, fwd_bytes * n};
  c.backward = {bwd_flops * n, bwd_bytes * n};
  return c;
}

}  // namespace

LayerCost layer_cost(Module& m, const Shape& x, const Shape& y, bool dx_needed) {
  const double nx = count(x), ny = count(y);
  if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
    const Shape& w = conv->weight().shape();
    const double macs = ny * static_cast<double>(w[1] * w[2] * w[3]);
    LayerCost c = product_cost(macs, nx, count(w), ny, dx_needed, conv->weight().requires_grad());
    if (conv->bias().defined()) {
      c.forward += {ny, kFloat * ny};
      if (conv->bias().requires_grad()) c.backward += {ny, kFloat * ny};
    }
    return c;
  }
  if (auto* fc = dynamic_cast<Linear*>(&m)) {
    const double in = static_cast<double>(fc->in_features());
    const double outf = static_cast<double>(fc->out_features());
    LayerCost c = product_cost(nx * outf, nx, in * outf, ny, dx_needed,
                               fc->weight().requires_grad());
    if (fc->bias().defined()) {
      c.forward += {ny, kFloat * ny};
      if (fc->bias().requires_grad()) c.backward += {ny, kFloat * ny};
    }
    return c;
  }
  if (auto* deconv = dynamic_cast<ConvTranspose2d*>(&m)) {
    // The adjoint of the Conv2d from y to x: each of x's elements meets (O/groups)·k² weights,
    // MACs = N·C·H·W·(O/groups)·k², as that convolution's N·C·H·W outputs times its
    // (O/groups)·k² inputs each. Backward-data is that convolution's forward.
    const Shape& w = deconv->weight().shape();  // (C, O/groups, k, k)
    const double macs = nx * static_cast<double>(w[1] * w[2] * w[3]);
    LayerCost c =
        product_cost(macs, nx, count(w), ny, dx_needed, deconv->weight().requires_grad());
    if (deconv->bias().defined()) {
      c.forward += {ny, kFloat * ny};
      if (deconv->bias().requires_grad()) c.backward += {ny, kFloat * ny};
    }
    return c;
  }
  if (auto* up = dynamic_cast<Upsample*>(&m)) {
    // Bandwidth-bound: reads x, writes y; the backward zeroes dx, then adds each dy into it.
    // Nearest copies (the backward: one add per dy element); bilinear blends 4 sources
    // (4 multiplies, 3 adds) and its backward scatters 4 products (8 FLOPs per dy element).
    const bool bilinear = up->mode() == UpsampleMode::bilinear;
    LayerCost c;
    c.forward = {bilinear ? 7 * ny : 0.0, kFloat * (nx + ny)};
    c.backward = {bilinear ? 8 * ny : ny, kFloat * (ny + 2 * nx)};
    return c;
  }
  if (dynamic_cast<LeakyReLU*>(&m)) return elementwise_cost(nx, 2, 2 * kFloat, 2, 3 * kFloat);
  // sigmoid and tanh: ≈ 4 FLOPs forward (an exp counted as one), 3 backward (from y)
  if (dynamic_cast<Sigmoid*>(&m) || dynamic_cast<Tanh*>(&m))
    return elementwise_cost(nx, 4, 2 * kFloat, 3, 3 * kFloat);
  if (dynamic_cast<ConvAutoencoder*>(&m)) return elementwise_cost(ny, 4, 2 * kFloat, 3, 3 * kFloat);
  if (auto* vae = dynamic_cast<ConvVAE*>(&m)) {
    // Its own ops around the encoder and decoder: z = μ + exp(½ log σ²)·ε on the N·d latents
    // (4 FLOPs; reads μ, log σ², ε, writes z), then per output pixel the mean's sigmoid and
    // log v = −6 + softplus(raw + 6) (≈ 4 + 6 FLOPs; each of the 4 element-wise ops reads
    // and writes once). Backward ≈ the same FLOPs, one more read per op (dy).
    const double latents = static_cast<double>(x[0] * vae->options().latent_dim);
    LayerCost c = elementwise_cost(ny, 10, 8 * kFloat, 10, 12 * kFloat);
    c.forward += {4 * latents, 4 * kFloat * latents};
    c.backward += {4 * latents, 5 * kFloat * latents};
    return c;
  }
  if (dynamic_cast<BatchNorm2d*>(&m))
    return m.is_training() ? elementwise_cost(nx, 5, 3 * kFloat, 9, 5 * kFloat)
                           : elementwise_cost(nx, 2, 2 * kFloat, 2, 3 * kFloat);
  if (dynamic_cast<ReLU6*>(&m)) return elementwise_cost(nx, 2, 2 * kFloat, 2, 3 * kFloat);
  if (dynamic_cast<ReLU*>(&m)) return elementwise_cost(nx, 1, 2 * kFloat, 1, 3 * kFloat);
  if (auto* drop = dynamic_cast<Dropout*>(&m))
    return drop->is_training() && drop->p() > 0
               ? elementwise_cost(nx, 1, 2 * kFloat, 1, 2 * kFloat)
               : LayerCost{};
  if (dynamic_cast<GlobalAvgPool2d*>(&m)) {
    LayerCost c;
    c.forward = c.backward = {nx, kFloat * (nx + ny)};
    return c;
  }
  if (auto* block = dynamic_cast<InvertedResidual*>(&m)) {
    LayerCost c;
    if (block->uses_residual()) c.forward = {ny, 3 * kFloat * ny};
    return c;
  }
  if (auto* net = dynamic_cast<MobileNetV2*>(&m)) {
    bool grad = dx_needed;
    const Shape f = walk(net->features(), "features", x, grad, nullptr);
    const double nf = count(f), pooled = static_cast<double>(f[0] * f[1]);
    LayerCost c;
    c.forward = {nf, kFloat * (nf + pooled)};
    if (x.size() == 4 && x[1] > 1 && x[2] * x[3] > 1) c.forward.bytes += 2 * kFloat * nx;
    c.backward = {nf, kFloat * (nf + pooled)};
    return c;
  }
  return {};
}

LayerCost ssim_loss_cost(const Shape& x, int64_t window) {
  KZ_CHECK(x.size() == 4 && window >= 1 && window % 2 == 1, "ssim_loss_cost",
           "expected (N,C,H,W) images and an odd window, got {} and {}", shape_str(x), window);
  const double r = static_cast<double>((window - 1) / 2), w = static_cast<double>(window);
  const double nc = static_cast<double>(x[0] * x[1]), h = static_cast<double>(x[2]),
               wd = static_cast<double>(x[3]);
  const double P = nc * (h + 2 * r) * (wd + 2 * r), V = nc * h * (wd + 2 * r), M = nc * h * wd;
  LayerCost c;
  c.forward = {10 * w * (V + M) + 3 * P + 20 * M,
               8 * (M + P) * 2 + 12 * 3 * P + 20 * (P + 2 * V + M) + (12 * 17 + 8 * 2 + 4) * M};
  c.backward = {6 * w * (V + M) + 4 * P + 40 * M, 12 * (P + 2 * V + M) + 16 * 3 * P + 16 * 20 * M};
  return c;
}

std::vector<CostEntry> count_costs(Module& model, const Shape& x) {
  std::vector<CostEntry> out;
  bool grad = false;
  walk(model, "", x, grad, &out);
  return out;
}

std::string describe_layer(Module& m) {
  if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
    const Conv2dOptions& o = conv->options();
    const int64_t k = conv->kernel(), c = conv->in_channels(), n = conv->out_channels();
    const std::string stride = o.stride == 1 ? "" : fmt::format("/s{}", o.stride);
    if (o.groups == c && c == n && c > 1) return fmt::format("Conv2d dw{}x{}{} {}", k, k, stride, c);
    return fmt::format("Conv2d {}x{}{} {}->{}{}", k, k, stride, c, n,
                       o.groups == 1 ? "" : fmt::format(" g{}", o.groups));
  }
  if (auto* deconv = dynamic_cast<ConvTranspose2d*>(&m)) {
    const ConvTranspose2dOptions& o = deconv->options();
    const int64_t k = deconv->kernel();
    return fmt::format("ConvTranspose2d {}x{}{} {}->{}{}", k, k,
                       o.stride == 1 ? "" : fmt::format("/s{}", o.stride),
                       deconv->in_channels(), deconv->out_channels(),
                       o.groups == 1 ? "" : fmt::format(" g{}", o.groups));
  }
  if (auto* up = dynamic_cast<Upsample*>(&m))
    return up->mode() == UpsampleMode::bilinear ? "Upsample bilinear" : "Upsample nearest";
  if (auto* bn = dynamic_cast<BatchNorm1d*>(&m)) return fmt::format("BatchNorm1d {}", bn->channels());
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) return fmt::format("BatchNorm2d {}", bn->channels());
  if (dynamic_cast<ConvAutoencoder*>(&m)) return "ConvAutoencoder sigmoid";
  if (dynamic_cast<ConvVAE*>(&m)) return "ConvVAE sampling+heads";
  if (auto* fc = dynamic_cast<Linear*>(&m))
    return fmt::format("Linear {}->{}", fc->in_features(), fc->out_features());
  if (auto* drop = dynamic_cast<Dropout*>(&m)) return fmt::format("Dropout {}", drop->p());
  if (auto* block = dynamic_cast<InvertedResidual*>(&m))
    return block->uses_residual() ? "InvertedResidual add" : "InvertedResidual";
  if (dynamic_cast<MobileNetV2*>(&m)) return "MobileNetV2 layout+pool";
  return m.type_name();
}

// --- the report ---------------------------------------------------------------------------

double ProfileReport::rows_ms() const {
  double ms = 0;
  for (const ProfileRow& r : rows) ms += r.ms;
  return ms;
}

double ProfileReport::untimed_ms() const { return outside_ms - engine_ms - glue_ms; }

Cost ProfileReport::total_cost() const {
  Cost c;
  for (const ProfileRow& r : rows) c += r.cost;
  return c;
}

namespace {

// "Conv2d dw3x3/s2 96" -> "Conv2d dw3x3"; "Conv2d 1x1 16->96" -> "Conv2d 1x1";
// "BatchNorm2d 96" -> "BatchNorm2d"; the kinds of the summary table.
std::string kind_of(const ProfileRow& r) {
  const std::string& t = r.type;
  std::string kind = t.substr(0, t.find(' '));
  if (kind == "Conv2d") {
    std::string second = t.substr(t.find(' ') + 1);
    second = second.substr(0, second.find_first_of(" /"));
    kind += " " + second;
  }
  return kind;
}

// Rows faster than this (10 µs per step) show no rate: a layer fused into the one before it
// (the ReLU6 after BatchNorm2d in MobileNetV2's Conv-BN-ReLU6, layers/mobilenet_v2.cpp) is
// a call of no duration, its work done in that layer's row.
constexpr double kNoRateBelowMs = 1e-2;

std::string fmt_cost(double value, double scale, int width) {
  return value > 0 ? fmt::format("{:>{}.1f}", value / scale, width) : fmt::format("{:>{}}", "-", width);
}

}  // namespace

std::string format_profile(const ProfileReport& r, const std::string& title) {
  const double step = r.step_ms > 0 ? r.step_ms : 1;
  std::string s = title + "\n";
  s += fmt::format("{:>3} {:<24} {:<30} {:<3} {:>8} {:>6} {:>8} {:>8} {:>8} {:>6}  {}\n", "#",
                   "layer", "op", "dir", "ms", "step%", "MFLOP", "GFLOP/s", "MB", "FLOP/B",
                   "oneDNN");
  int i = 0;
  for (const ProfileRow& row : r.rows) {
    const std::string dir = row.phase == "forward" ? "fwd" : row.phase == "backward" ? "bwd" : "upd";
    const double gflops = row.ms >= kNoRateBelowMs ? row.cost.flops / (row.ms * 1e6) : 0;
    const double intensity = row.cost.bytes > 0 ? row.cost.flops / row.cost.bytes : 0;
    s += fmt::format("{:>3} {:<24} {:<30} {:<3} {:>8.3f} {:>5.1f}% {} {} {} {}  {}\n", ++i,
                     row.name, row.type, dir, row.ms, 100 * row.ms / step,
                     fmt_cost(row.cost.flops, 1e6, 8), fmt_cost(gflops, 1, 8),
                     fmt_cost(row.cost.bytes, 1e6, 8), fmt_cost(intensity, 1, 6), row.impl);
  }
  const Cost total = r.total_cost();
  const bool median = r.statistic == ProfileStatistic::median;
  s += fmt::format("    {:<58} {:>8.3f} {:>5.1f}%   (autograd engine {:.3f} ms, module glue "
                   "{:.3f} ms{})\n",
                   "outside kernels", r.outside_ms, 100 * r.outside_ms / step, r.engine_ms,
                   r.glue_ms,
                   median ? "" : fmt::format(", untimed {:.3f} ms", r.untimed_ms()));
  if (median)
    s += fmt::format("    {:<58} {:>8.3f} {:>5.1f}%   (median step − Σ medians: steps in which "
                     "some layer waited for a core)\n",
                     "unattributed", r.unattributed_ms, 100 * r.unattributed_ms / step);
  const std::string step_label =
      r.statistic == ProfileStatistic::median ? "step (median of measured)" : "step (measured)";
  s += fmt::format("    {:<58} {:>8.3f} {:>5.1f}% {} {} {} {}\n", step_label, r.step_ms,
                   100.0, fmt_cost(total.flops, 1e6, 8),
                   fmt_cost(total.flops / (step * 1e6), 1, 8), fmt_cost(total.bytes, 1e6, 8),
                   fmt_cost(total.bytes > 0 ? total.flops / total.bytes : 0, 1, 6));

  // By kind of layer: where the step goes, and how fast each kind runs.
  std::map<std::string, std::array<double, 4>> kinds;  // fwd ms, bwd ms, flops, bytes
  std::vector<std::string> order;
  for (const ProfileRow& row : r.rows) {
    const std::string k = kind_of(row);
    if (!kinds.count(k)) order.push_back(k);
    auto& v = kinds[k];
    v[row.phase == "backward" ? 1 : 0] += row.ms;
    v[2] += row.cost.flops;
    v[3] += row.cost.bytes;
  }
  s += fmt::format("\n{:<24} {:>8} {:>8} {:>6} {:>8} {:>8}\n", "by kind", "fwd ms", "bwd ms",
                   "step%", "GFLOP/s", "GB/s");
  for (const std::string& k : order) {
    const auto& v = kinds[k];
    const double ms = v[0] + v[1];
    s += fmt::format("{:<24} {:>8.3f} {:>8.3f} {:>5.1f}% {} {}\n", k, v[0], v[1],
                     100 * ms / step, fmt_cost(ms >= kNoRateBelowMs ? v[2] / (ms * 1e6) : 0, 1, 8),
                     fmt_cost(ms >= kNoRateBelowMs ? v[3] / (ms * 1e6) : 0, 1, 8));
  }
  s += fmt::format("system allocations per step: {:.1f}\n", r.system_allocations);
  s += fmt::format("CPU time per step (mean): {:.3f} ms (all threads) for {:.3f} ms of wall time\n",
                   r.cpu_ms, r.mean_step_ms);
  s += fmt::format("coverage: outside kernels {:.1f}% of the {}step (engine {:.1f}%, glue {:.1f}%{})"
                   "{}; issue 7's target at batch 128, 32x32, width 1.0: outside < 5%\n",
                   100 * r.outside_ms / step, median ? "median " : "", 100 * r.engine_ms / step,
                   100 * r.glue_ms / step,
                   median ? "" : fmt::format(", untimed {:.1f}%", 100 * r.untimed_ms() / step),
                   median ? fmt::format(", unattributed {:.1f}%", 100 * r.unattributed_ms / step)
                          : "");
  return s;
}

// --- the profiler -------------------------------------------------------------------------

Profiler::Profiler(Module& model) : model_(model), origin_(Clock::now()) {
  std::vector<std::pair<std::string, const Module*>> stack{{"", &model}};
  while (!stack.empty()) {
    auto [name, m] = stack.back();
    stack.pop_back();
    names_[m] = name.empty() ? "model" : name;
    for (const auto& [child_name, child] : m->named_children())
      stack.push_back({join_name(name, child_name), child.get()});
  }
  dnnl_cache_clear();  // each primitive is then made inside the layer that uses it
  outer_scope_ = current_scope();
  allocations_at_reset_ = storage_cache_stats().system_allocations;
  set_forward_observer(this);
  set_backward_observer(this);
}

Profiler::~Profiler() {
  set_forward_observer(nullptr);
  set_backward_observer(nullptr);
  set_current_scope(outer_scope_);
}

double Profiler::us(Clock::time_point t) const {
  return std::chrono::duration<double, std::micro>(t - origin_).count();
}

int Profiler::module_row(const Module& module) {
  if (auto it = module_rows_.find(&module); it != module_rows_.end()) return it->second;
  Row row;
  auto& m = const_cast<Module&>(module);  // describe_layer reads parameters' shapes only
  auto name = names_.find(&module);
  row.name = name != names_.end() ? name->second : module.type_name();
  row.type = describe_layer(m);
  row.phase = "forward";
  row.module = &m;
  row.container = has_children(module);
  rows_.push_back(std::move(row));
  module_rows_[&module] = static_cast<int>(rows_.size() - 1);
  return static_cast<int>(rows_.size() - 1);
}

int Profiler::named_row(const std::string& key, Kind kind, const std::string& name,
                        const std::string& type, const std::string& phase) {
  if (auto it = named_rows_.find(key); it != named_rows_.end()) return it->second;
  Row row;
  row.name = name;
  row.type = type;
  row.phase = phase;
  row.kind = kind;
  rows_.push_back(std::move(row));
  named_rows_[key] = static_cast<int>(rows_.size() - 1);
  return static_cast<int>(rows_.size() - 1);
}

int Profiler::op_row(const std::string& op) {
  return named_row("op:" + op, Kind::op, "(no layer)", op, "forward");
}

void Profiler::push(int row, bool backward) {
  stack_.push_back({row, backward, Clock::now(), 0, current_scope()});
  if (!backward) set_current_scope(row + 1);
}

double Profiler::pop(Clock::time_point now) {
  const Frame f = stack_.back();
  stack_.pop_back();
  const double dur = std::chrono::duration<double>(now - f.t0).count();
  if (!stack_.empty()) stack_.back().child_s += dur;
  set_current_scope(f.previous_scope);
  events_.push_back({f.row, f.backward ? 1 : 0, us(f.t0), dur * 1e6});
  return dur - f.child_s;
}

void Profiler::note_impls(int row, bool backward) {
  const int64_t size = dnnl_cache_size();
  if (size == cache_size_) return;
  cache_size_ = size;
  const std::vector<DnnlImpl> impls = dnnl_impls();
  if (impls.size() < impls_seen_) impls_seen_ = 0;  // someone cleared the cache
  auto& list = backward ? rows_[row].bwd_impls : rows_[row].fwd_impls;
  for (size_t i = impls_seen_; i < impls.size(); ++i) {
    const bool reorder = impls[i].what.rfind("reorder", 0) == 0;
    const std::string name = reorder ? "reorder:" + impls[i].impl : impls[i].impl;
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  }
  impls_seen_ = impls.size();
}

void Profiler::begin(const Module& module, const Variable& x) {
  const int row = module_row(module);
  pending_x_.push_back(x.shape());
  pending_x_grad_.push_back(x.requires_grad());
  push(row, false);
}

void Profiler::end(const Module& module, const Variable& y) {
  const Clock::time_point now = Clock::now();
  const int row = module_row(module);
  if (stack_.empty() || stack_.back().row != row || stack_.back().backward) return;  // stale
  Row& r = rows_[static_cast<size_t>(row)];
  r.fwd_s += pop(now);
  r.fwd_calls += 1;
  if (r.fwd_order < 0) r.fwd_order = sequence_++;
  const Shape x = pending_x_.back();
  const bool x_grad = pending_x_grad_.back();
  pending_x_.pop_back();
  pending_x_grad_.pop_back();
  if (!r.cost_known || r.x != x || r.y != y.shape()) {
    r.cost = layer_cost(*r.module, x, y.shape(), x_grad);
    r.x = x;
    r.y = y.shape();
    r.x_grad = x_grad;
    r.cost_known = true;
  }
  note_impls(row, false);
}

void Profiler::begin(const Node& node) {
  const bool ours = node.scope > 0 && static_cast<size_t>(node.scope) <= rows_.size();
  push(ours ? node.scope - 1 : op_row(node.name), true);
}

void Profiler::end(const Node&) {
  const Clock::time_point now = Clock::now();
  if (stack_.empty() || !stack_.back().backward) return;  // stale
  const int row = stack_.back().row;
  Row& r = rows_[static_cast<size_t>(row)];
  r.bwd_s += pop(now);
  r.bwd_calls += 1;
  if (r.bwd_order < 0) r.bwd_order = sequence_++;
  note_impls(row, true);
}

Variable Profiler::forward(const Variable& x) {
  begin(model_, x);
  Variable y = model_.forward(x);
  end(model_, y);
  return y;
}

void Profiler::backward(const Variable& loss) {
  const int row = named_row("engine", Kind::engine, "autograd engine", "", "backward");
  push(row, false);
  loss.backward();
  Row& r = rows_[static_cast<size_t>(row)];
  r.fwd_s += pop(Clock::now());
  r.fwd_calls += 1;
}

Profiler::Region::Region(Profiler& profiler, const std::string& name, const std::string& type,
                         const std::string& phase, LayerCost cost)
    : profiler_(profiler),
      row_(profiler.named_row("region:" + name, Kind::region, name, type, phase)) {
  Row& r = profiler_.rows_[static_cast<size_t>(row_)];
  r.cost = cost;
  r.cost_known = true;
  profiler_.push(row_, false);
}

Profiler::Region::~Region() {
  const Clock::time_point now = Clock::now();
  if (profiler_.stack_.empty() || profiler_.stack_.back().row != row_) return;  // stale
  Row& r = profiler_.rows_[static_cast<size_t>(row_)];
  r.fwd_s += profiler_.pop(now);
  r.fwd_calls += 1;
  if (r.fwd_order < 0) r.fwd_order = profiler_.sequence_++;
  profiler_.note_impls(row_, false);
}

void Profiler::begin_step() {
  stack_.clear();  // frames left open by an exception
  pending_x_.clear();
  pending_x_grad_.clear();
  set_current_scope(outer_scope_);
  step_cpu0_ = process_cpu_seconds();
  step_t0_ = Clock::now();
}

void Profiler::end_step() {
  const Clock::time_point now = Clock::now();
  const double dur = std::chrono::duration<double>(now - step_t0_).count();
  steps_s_ += dur;
  steps_cpu_s_ += process_cpu_seconds() - step_cpu0_;
  steps_ += 1;
  step_s_.push_back(dur);
  for (Row& r : rows_) {
    r.fwd_steps.push_back(r.fwd_s - r.fwd_mark);
    r.bwd_steps.push_back(r.bwd_s - r.bwd_mark);
    r.fwd_mark = r.fwd_s;
    r.bwd_mark = r.bwd_s;
  }
  events_.push_back({-1, 2, us(step_t0_), dur * 1e6});
}

void Profiler::reset() {
  for (Row& r : rows_) {
    r.fwd_s = r.bwd_s = r.fwd_mark = r.bwd_mark = 0;
    r.fwd_calls = r.bwd_calls = 0;
    r.fwd_steps.clear();
    r.bwd_steps.clear();
  }
  events_.clear();
  steps_ = 0;
  steps_s_ = steps_cpu_s_ = 0;
  step_s_.clear();
  allocations_at_reset_ = storage_cache_stats().system_allocations;
}

ProfileReport Profiler::report(ProfileStatistic statistic) const {
  ProfileReport rep;
  rep.steps = steps_;
  rep.statistic = statistic;
  const double steps = static_cast<double>(std::max<int64_t>(steps_, 1));
  const bool median = statistic == ProfileStatistic::median && !step_s_.empty();
  // Per step, in ms: the mean of `total` seconds, or the median of the per-step values.
  auto per_step = [&](double total, const std::vector<double>& each) {
    return 1e3 * (median ? median_of(each) : total / steps);
  };
  rep.mean_step_ms = 1e3 * steps_s_ / steps;
  rep.step_ms = per_step(steps_s_, step_s_);
  rep.cpu_ms = 1e3 * steps_cpu_s_ / steps;

  // A layer that found its plan already made runs what the first identical layer runs.
  std::map<std::string, std::pair<std::string, std::string>> impl_by_signature;
  auto signature = [](const Row& r) { return r.type + shape_str(r.x) + shape_str(r.y); };
  auto joined = [](const std::vector<std::string>& list) {
    std::string s;
    for (const std::string& i : list) s += (s.empty() ? "" : " ") + i;
    return s;
  };
  for (const Row& r : rows_) {
    auto& slot = impl_by_signature[signature(r)];
    if (slot.first.empty()) slot.first = joined(r.fwd_impls);
    if (slot.second.empty()) slot.second = joined(r.bwd_impls);
  }

  std::vector<std::pair<int64_t, ProfileRow>> rows;
  for (const Row& r : rows_) {
    const double fwd_ms = per_step(r.fwd_s, r.fwd_steps), bwd_ms = per_step(r.bwd_s, r.bwd_steps);
    const double calls = static_cast<double>(r.fwd_calls) / steps;
    const auto& impl = impl_by_signature[signature(r)];
    if (r.kind == Kind::engine) {
      rep.engine_ms += fwd_ms;
      continue;
    }
    const bool own_cost = r.cost.forward.flops > 0 || r.cost.forward.bytes > 0;
    const bool glue = (r.kind == Kind::module && r.container && !own_cost && r.bwd_calls == 0) ||
                      (r.kind == Kind::region && !own_cost);
    if (r.fwd_calls > 0) {
      if (glue) {
        rep.glue_ms += fwd_ms;
      } else {
        ProfileRow row{r.name, r.type, r.phase, fwd_ms, calls, r.cost.forward, impl.first,
                       r.x, r.y};
        row.cost.flops *= calls;
        row.cost.bytes *= calls;
        rows.emplace_back(r.fwd_order, std::move(row));
      }
    }
    if (r.bwd_calls > 0) {
      ProfileRow row{r.name, r.type, "backward", bwd_ms, static_cast<double>(r.bwd_calls) / steps,
                     r.cost.backward, impl.second, r.x, r.y};
      const double per = r.kind == Kind::op ? 0.0 : calls;
      row.cost.flops *= per;
      row.cost.bytes *= per;
      rows.emplace_back(r.bwd_order, std::move(row));
    }
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, row] : rows) rep.rows.push_back(std::move(row));
  if (median) {
    rep.outside_ms = rep.engine_ms + rep.glue_ms;
    rep.unattributed_ms = rep.step_ms - rep.rows_ms() - rep.outside_ms;
  } else {
    rep.outside_ms = rep.step_ms - rep.rows_ms();
  }
  rep.system_allocations =
      static_cast<double>(storage_cache_stats().system_allocations - allocations_at_reset_) /
      steps;
  return rep;
}

nlohmann::json Profiler::trace() const {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 1},
                    {"args", {{"name", "kizuki"}}}});
  int64_t step = 0;
  for (const Event& e : events_) {
    nlohmann::json ev = {{"ph", "X"}, {"ts", e.t0_us}, {"dur", e.dur_us}, {"pid", 1}, {"tid", 1}};
    if (e.phase == 2) {
      ev["name"] = fmt::format("step {}", step++);
      ev["cat"] = "step";
    } else {
      const Row& r = rows_[static_cast<size_t>(e.row)];
      const bool backward = e.phase == 1;
      ev["name"] = r.name;
      ev["cat"] = backward ? "backward" : r.kind == Kind::module ? "forward" : "region";
      const Cost& c = backward ? r.cost.backward : r.cost.forward;
      ev["args"] = {{"op", r.type}, {"flops", c.flops}, {"bytes", c.bytes}};
      if (!r.x.empty()) ev["args"]["x"] = shape_str(r.x);
    }
    events.push_back(std::move(ev));
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

void Profiler::write_trace(const std::string& path) const {
  write_file_atomic(path, trace().dump());
}

}  // namespace kz
