// perceptron.cpp — chapter 2 of docs/walkthrough.md, continued: a two-layer perceptron
// learns what no single straight line can separate, the points inside a disc (class 0)
// from the ring around it (class 1).
//
// Shapes: N points, x is (N,2); H = 16 hidden units; logits (N,2).
//   h      = relu(x·W1ᵀ + b1)     (N,H)    Linear(2, H), then ReLU
//   logits = h·W2ᵀ + b2           (N,2)    Linear(H, 2)
//   L      = cross_entropy(logits, labels)
// One step: forward, L.backward() fills every parameter's grad, Adam moves the parameters.
// Full batch, so the loss printed is the loss on all N points. The program fails (exit 1)
// if the loss does not fall to half its start.
//
// Writes perceptron.svg: the decision regions (the network evaluated on a grid of points,
// shaded by P(ring) − P(disc)), the training points, and the loss curve.
#include <cmath>

#include "examples/example.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "layers/simple.h"
#include "optim/adam.h"

namespace kz::example {
namespace {

// n points: half in the disc r < 1.3, half in the ring 1.1 < r < 2.2 (they overlap a little,
// so the loss cannot reach 0); x (n,2), labels 0/1.
std::pair<Tensor, std::vector<int64_t>> disc_and_ring(int64_t n, Generator& gen) {
  std::vector<float> v;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % 2;
    const float r = label == 0 ? 1.3f * std::sqrt(gen.uniform()) : gen.uniform(1.1f, 2.2f);
    const float angle = gen.uniform(0.0f, 6.2831853f);
    v.insert(v.end(), {r * std::cos(angle), r * std::sin(angle)});
    labels.push_back(label);
  }
  return {Tensor::from_vector(v, {n, 2}), labels};
}

int run(const Args& args) {
  Generator gen(7);
  const auto [x, labels] = disc_and_ring(args.tiny ? 100 : 400, gen);
  auto net = std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      std::make_shared<Linear>(2, 16, true, gen), std::make_shared<ReLU>(),
      std::make_shared<Linear>(16, 2, true, gen)});
  AdamOptions options;
  options.lr = 0.02;
  Adam adam(net->parameters(), options);

  const int steps = args.tiny ? 80 : 300;
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    const Variable loss = cross_entropy(net->forward(Variable(x)), labels);
    adam.zero_grad();
    loss.backward();
    adam.step();
    losses.push_back(loss.item());
    if (step % 50 == 0 || step == steps - 1)
      std::printf("step %3d  loss %.4f\n", step, loss.item());
  }
  NoGradGuard no_grad;
  const std::vector<float> predicted = argmax(net->forward(Variable(x)).data(), 1).to_vector();
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
  std::printf("training accuracy %.1f %%\n", 100.0 * correct / labels.size());

  // Left: P(ring) on a grid, then the points. Right: the loss curve.
  Svg svg(760, 405);
  const Panel p =
      panel(svg, 50, 40, 300, 300, -2.4, 2.4, -2.4, 2.4, "decision regions after training");
  const int cells = 60;
  const Tensor grid = grid_points(p, cells, cells);
  const std::vector<float> prob = softmax(net->forward(Variable(grid)), 1).data().to_vector();
  std::vector<std::string> fill;  // P(ring) − P(disc): orange where the ring wins, else blue
  for (int k = 0; k < cells * cells; ++k) {
    const double d = 2 * prob[2 * k + 1] - 1;
    fill.push_back(d > 0 ? tint(0.45 * d, 255, 127, 14) : tint(-0.45 * d, 31, 119, 180));
  }
  shade_grid(svg, p, cells, cells, fill);
  scatter(svg, p, x, labels, 2.5, R"(stroke="#fff" stroke-width="0.5")");
  legend(svg, 60, 375, {"disc (class 0)", "ring (class 1)"});

  const Panel c = panel(svg, 450, 40, 280, 300, 0, steps, 0, losses.front() * 1.05,
                        "cross-entropy loss (full batch)");
  std::vector<std::pair<double, double>> curve;
  for (size_t s = 0; s < losses.size(); ++s) curve.push_back({c.x(s), c.y(losses[s])});
  svg.polyline(curve, R"(stroke="#1f77b4" stroke-width="2")");
  svg.text(590, 375, "Adam step", R"(text-anchor="middle" font-size="12")");
  save_text(args.path("perceptron.svg"), svg.document());
  return losses.back() < 0.5 * losses.front() ? 0 : 1;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "perceptron", kz::example::run);
}
