// conv_cost.cpp — chapters 3 and 4 of docs/walkthrough.md: what convolutions cost in
// MobileNetV2, counted by kizuki's own cost model (profile/profiler.h: count_costs walks the
// shapes through the module tree without running anything; a multiply-add is one MAC).
//
// Shapes: activations (N,C,H,W) with N = 1 and a 224×224 RGB input; weights OIHW.
// For a k×k convolution from C to O channels on an output of OH×OW:
//   standard              MACs = OH·OW·O·C·k²            params = O·C·k²
//   depthwise + pointwise MACs = OH·OW·C·k² + OH·OW·O·C  params = C·k² + O·C
// so the separable one costs 1/O + 1/k² of the standard one (about 1/8 for 3×3).
//
// Writes two Markdown tables (scripts/make_figures.sh splices them into the walkthrough):
//   conv_cost.md         each block's depthwise 3×3 + 1×1 projection against one standard
//                        3×3 convolution with the same input, output and stride;
//   mobilenet_blocks.md  every layer group of MobileNetV2: shapes, expansion, residual, cost.
#include <map>

#include "examples/example.h"
#include "layers/mobilenet_v2.h"
#include "profile/profiler.h"

namespace kz::example {
namespace {

std::string chw(const Shape& s) {  // (1,C,H,W) -> "C×H×W"; (1,F) -> "F"
  return s.size() == 4 ? fmt::format("{}×{}×{}", s[1], s[2], s[3]) : fmt::format("{}", s[1]);
}
std::string millions(double v) { return fmt::format("{:.2f} M", v / 1e6); }
int64_t params_of(const Module& m) {
  int64_t n = 0;
  for (const Variable& p : m.parameters()) n += p.numel();
  return n;
}

int run(const Args& args) {
  Generator gen(0);
  MobileNetV2 net(MobileNetV2Options{}, gen);  // width 1.0, 1000 classes: the paper's network
  const int64_t size = args.tiny ? 96 : 224;
  const std::vector<CostEntry> costs = count_costs(net, {1, 3, size, size});

  // Group the layers: "features.3.conv.1.0" -> "features.3", "classifier.1" -> "classifier".
  std::vector<std::string> groups;
  std::map<std::string, std::vector<const CostEntry*>> layers;
  for (const CostEntry& e : costs) {
    if (e.name.empty()) continue;  // the model's own ops (layout, pooling): no MACs
    const bool feature = e.name.rfind("features.", 0) == 0;
    const std::string group = e.name.substr(0, e.name.find('.', feature ? 9 : 0));
    if (!layers.count(group)) groups.push_back(group);
    layers[group].push_back(&e);
  }

  std::string separable = fmt::format(
      "| block | 3×3 conv, input → output | standard: MACs | params | depthwise + pointwise: "
      "MACs | params | ratio |\n|---|---|--:|--:|--:|--:|--:|\n");
  std::string blocks =
      "| layers | what | input | expanded | output | residual | MACs | "
      "params |\n|---|---|---|--:|---|---|--:|--:|\n";
  double total_std = 0, total_sep = 0, total_macs = 0;
  int64_t total_std_params = 0, total_sep_params = 0;
  for (const std::string& g : groups) {
    const std::vector<const CostEntry*>& rows = layers[g];
    double macs = 0;
    const CostEntry *dw = nullptr, *last_conv = nullptr;
    int64_t expanded = 0;
    for (const CostEntry* e : rows) {
      macs += e->cost.macs;
      if (e->type.rfind("Conv2d dw", 0) == 0) dw = e;
      if (e->type.rfind("Conv2d", 0) == 0) last_conv = e;
    }
    total_macs += macs;
    Module& module = g.rfind("features.", 0) == 0 ? *net.features().at(std::stoll(g.substr(9)))
                                                  : *net.classifier();
    auto* block = dynamic_cast<InvertedResidual*>(&module);
    if (dw) expanded = dw->x[1];
    std::string what;
    for (const CostEntry* e : rows) what += (what.empty() ? "" : ", ") + e->type;
    if (block) what = fmt::format("inverted residual, t = {}", expanded / rows.front()->x[1]);
    blocks += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} | {} |\n", g, what,
                          chw(rows.front()->x), block ? std::to_string(expanded) : "",
                          chw(rows.back()->y), block && block->uses_residual() ? "yes" : "",
                          millions(macs), params_of(module));
    if (!block) continue;

    // The same job done by one standard 3×3 convolution: dw's input to the projection's output.
    const int64_t c = dw->x[1], o = last_conv->y[1];
    Conv2dOptions opt;
    opt.stride = dw->x[2] / dw->y[2];
    opt.padding = 1;
    opt.bias = false;
    Conv2d standard(c, o, 3, opt, gen);
    const double std_macs = layer_cost(standard, dw->x, last_conv->y, true).macs;
    const double sep_macs = dw->cost.macs + last_conv->cost.macs;
    const int64_t std_params = params_of(standard), sep_params = c * 9 + o * c;
    total_std += std_macs, total_sep += sep_macs;
    total_std_params += std_params, total_sep_params += sep_params;
    separable += fmt::format("| `{}` | {} → {} | {} | {} | {} | {} | {:.3f} |\n", g, chw(dw->x),
                             chw(last_conv->y), millions(std_macs), std_params, millions(sep_macs),
                             sep_params, sep_macs / std_macs);
  }
  separable += fmt::format("| all 17 | | **{}** | **{}** | **{}** | **{}** | **{:.3f}** |\n",
                           millions(total_std), total_std_params, millions(total_sep),
                           total_sep_params, total_sep / total_std);
  blocks += fmt::format("| all | {}×{} RGB input | | | | | **{}** | **{}** |\n", size, size,
                        millions(total_macs), params_of(net));
  std::printf("%s\n%s\n", separable.c_str(), blocks.c_str());
  save_text(args.path("conv_cost.md"), separable);
  save_text(args.path("mobilenet_blocks.md"), blocks);
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "conv_cost", kz::example::run);
}
