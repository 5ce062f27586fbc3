// autograd_basics.cpp — chapter 2 of docs/walkthrough.md: one neuron's squared error,
// differentiated three ways (by hand, by kizuki's autograd, by finite differences), and the
// graph autograd built for it, drawn.
//
//   data x = (1, 2), target t = 1; parameters w = (0.5, −1), b = 0.5
//   u = w ⊙ x        s = Σ u        z = s + b        e = z − t        L = e²
// The chain rule, from the end back: dL/de = 2e, dL/dz = dL/ds = dL/db = dL/de,
// dL/du_i = dL/ds, dL/dw_i = dL/du_i · x_i.
//
// The graph (autograd/variable.h): each computed Variable holds the Node of the op that made
// it, and the Node holds the op's input Variables. Walking those pointers from L reaches every
// variable; this program lays them out in columns by depth and writes
// autograd_graph.svg (and the same graph as Graphviz text, autograd_graph.dot).
#include <map>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "examples/example.h"

namespace kz::example {
namespace {

struct Neuron {
  Variable u, s, z, e, loss;
};

Neuron neuron(const Variable& w, const Variable& x, const Variable& b, float t) {
  Neuron n;
  n.u = mul(w, x);          // (2,)  u_i = w_i·x_i
  n.s = sum(n.u);           // ()    s = u_1 + u_2
  n.z = add(n.s, b);        // ()    z = s + b
  n.e = add(n.z, -t);       // ()    e = z − t
  n.loss = pow(n.e, 2.0f);  // ()    L = e²
  return n;
}

std::string values(const Tensor& t) {  // "(0.5, -1)" or "4"
  const std::vector<float> v = t.to_vector();
  if (t.dim() == 0) return fmt::format("{:g}", v[0]);
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:g}", i ? ", " : "", v[i]);
  return s + ")";
}

// Every variable reachable from `root`, with its depth (longest path back to root).
std::map<VariableImpl*, int> depths(VariableImpl* root) {
  std::map<VariableImpl*, int> depth{{root, 0}};
  std::vector<VariableImpl*> stack{root};
  while (!stack.empty()) {
    VariableImpl* v = stack.back();
    stack.pop_back();
    if (!v->grad_fn) continue;
    for (const auto& in : v->grad_fn->inputs) {
      auto [it, fresh] = depth.try_emplace(in.get(), depth[v] + 1);
      if (fresh || it->second < depth[v] + 1) {
        it->second = depth[v] + 1;
        stack.push_back(in.get());
      }
    }
  }
  return depth;
}

int run(const Args& args) {
  const float t = 1.0f;
  Variable x(Tensor::from_vector({1, 2}, {2}));            // data: no gradient
  Variable w(Tensor::from_vector({0.5f, -1}, {2}), true);  // parameters
  Variable b(Tensor::scalar(0.5f), true);
  const Neuron n = neuron(w, x, b, t);
  n.loss.backward();

  // By hand, from the chain rule above.
  const float de = 2 * n.e.item();
  const Tensor dw = mul(x.data(), de), db = Tensor::scalar(de);
  std::printf("L = %g;  autograd: dL/dw = %s, dL/db = %s;  by hand: %s, %s\n", n.loss.item(),
              values(w.grad()).c_str(), values(b.grad()).c_str(), values(dw).c_str(),
              values(db).c_str());
  // Central differences of L in float64 (autograd/gradcheck.h).
  const GradcheckResult fd =
      gradcheck([&](const std::vector<Variable>& in) { return neuron(in[0], x, in[1], t).loss; },
                {w.data(), b.data()});
  std::printf("finite differences agree with autograd: %s %s\n", fd.ok ? "yes" : "NO",
              fd.message.c_str());
  if (!fd.ok || max_abs_diff(w.grad(), dw) > 1e-6f || max_abs_diff(b.grad(), db) > 1e-6f) return 1;

  // The graph: one box per variable, columns by depth (the loss on the right), rows in the
  // order listed, so the chain from w to L is the top row.
  const std::vector<std::pair<VariableImpl*, std::string>> boxes{
      {w.impl().get(), "w"},           {n.u.impl().get(), "u = w ⊙ x"},
      {n.s.impl().get(), "s = Σ u"},   {n.z.impl().get(), "z = s + b"},
      {n.e.impl().get(), "e = z − t"}, {n.loss.impl().get(), "L = e²"},
      {x.impl().get(), "x (data)"},    {b.impl().get(), "b"}};
  const std::map<VariableImpl*, std::string> names(boxes.begin(), boxes.end());
  const std::map<VariableImpl*, int> depth = depths(n.loss.impl().get());
  KZ_CHECK(depth.size() == boxes.size(), "autograd_basics", "the graph has {} variables",
           depth.size());
  int max_depth = 0;
  for (const auto& [v, d] : depth) max_depth = std::max(max_depth, d);
  const double bw = 150, bh = 58, colw = 190, rowh = 86;
  std::map<VariableImpl*, std::pair<double, double>> at;  // top-left of each box
  std::map<int, int> used;                                // boxes so far per column
  for (const auto& [v, name] : boxes) {
    const int d = depth.at(v);
    at[v] = {20 + (max_depth - d) * colw, 40 + used[d]++ * rowh};
  }
  Svg svg(40 + max_depth * colw + bw, 50 + 2 * rowh);
  svg.raw(R"(<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" )"
          R"(markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" )"
          R"(fill="#555"/></marker></defs>)"
          "\n");
  std::string dot = "digraph autograd {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& [v, name] : boxes) {
    if (!v->grad_fn) continue;
    for (const auto& in : v->grad_fn->inputs) {
      const auto [x0, y0] = at[in.get()];
      const auto [x1, y1] = at[v];
      svg.line(x0 + bw, y0 + bh / 2, x1, y1 + bh / 2,
               R"svg(stroke="#555" stroke-width="1.3" marker-end="url(#arrow)")svg");
      dot += fmt::format("  \"{}\" -> \"{}\" [label=\"{}\"];\n", names.at(in.get()), names.at(v),
                         v->grad_fn->name);
    }
  }
  for (const auto& [v, name] : boxes) {
    const auto [left, top] = at[v];
    const bool leaf = !v->grad_fn;
    const std::string second = "value " + values(v->data);
    const std::string third = leaf ? (v->requires_grad ? "grad " + values(v->grad) : "constant")
                                   : "made by " + v->grad_fn->name;
    svg.rect(left, top, bw, bh,
             leaf ? R"(rx="6" fill="#fdf1d6" stroke="#b8860b")"
                  : R"(rx="6" fill="#e3eef9" stroke="#1f77b4")");
    svg.text(left + bw / 2, top + 17, name, R"(text-anchor="middle" font-size="13")");
    svg.text(left + bw / 2, top + 34, second, R"(text-anchor="middle" font-size="11")");
    svg.text(left + bw / 2, top + 50, third, R"(text-anchor="middle" font-size="11" fill="#555")");
    dot += fmt::format("  \"{}\" [label=\"{}\\n{}\\n{}\"];\n", name, name, second, third);
  }
  svg.text(20, 22,
           "yellow: leaves (backward() fills their grad); blue: results of ops. Forward runs "
           "left to right; backward() walks the arrows right to left",
           R"(font-size="12" fill="#555")");
  dot += "}\n";
  std::printf("\n%s\n", dot.c_str());
  save_text(args.path("autograd_graph.dot"), dot);
  save_text(args.path("autograd_graph.svg"), svg.document());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "autograd_basics", kz::example::run);
}
