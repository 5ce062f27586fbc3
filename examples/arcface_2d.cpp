// arcface_2d.cpp — chapter 5 of docs/walkthrough.md: softmax, L2-Softmax and ArcFace, seen
// in a 2-D feature space. The same small network (examples/example.h: 784 → 128 → 32 → 2)
// is trained three times on six Fashion-MNIST classes, once per head, from the same seed;
// the test images' 2-D features are drawn with each class's weight direction.
//
// Shapes: N images, D = 784 pixels, 2 = the feature f, C = 6 classes; head weight W (C,2).
//   softmax     logits = W·f + b                                  (losses/margin_head.h)
//   L2-Softmax  logits = W·(α·f/‖f‖) + b, α = 10                  (losses/l2_softmax.h)
//   ArcFace     logits = s·cos(θ_j + m·[j = label]), s = 10, m = 0.5 rad   (losses/arcface.h)
// Softmax is happy once classes are on the right side of each other: features spread out
// along rays. L2-Softmax only sees a feature's direction. ArcFace must beat every other
// class by an extra angle m, so each class is squeezed into a narrower wedge. (m = 0.5 is
// the paper's; the benchmark uses s = 30, m = 0.05 on 1280-D features.)
//
// Prints test accuracy and the mean angle between a test feature and its class's mean
// direction; writes arcface_2d.svg: above, the features as they are; below, only their
// directions (what the L2-Softmax and ArcFace heads see), as a rose diagram per class.
#include <algorithm>
#include <cmath>

#include "examples/example.h"
#include "losses/arcface.h"
#include "losses/l2_softmax.h"
#include "optim/adam.h"

namespace kz::example {
namespace {

const std::vector<int64_t> kClasses = {0, 1, 5, 7, 8, 9};  // T-shirt, trouser, sandal, ...

struct Result {
  Tensor features;  // (M,2) test features
  Tensor weight;    // (C,2) class weights
  double accuracy = 0, spread_degrees = 0;
};

std::shared_ptr<MarginHead> make_head(const std::string& kind, int64_t c, Generator& gen) {
  if (kind == "softmax") return std::make_shared<SoftmaxHead>(2, c, gen);
  if (kind == "L2-Softmax") return std::make_shared<L2SoftmaxHead>(2, c, 10.0f, gen);
  return std::make_shared<ArcFaceHead>(2, c, 10.0f, 0.5f, false, gen);
}

// Mean angle (degrees) between each feature and the mean direction of its class.
double spread_degrees(const Tensor& f, const std::vector<int64_t>& labels, int64_t classes) {
  const std::vector<float> v = f.to_vector();
  std::vector<double> cx(classes), cy(classes), angle(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    angle[i] = std::atan2(v[2 * i + 1], v[2 * i]);
    cx[labels[i]] += std::cos(angle[i]), cy[labels[i]] += std::sin(angle[i]);
  }
  double total = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double d = std::remainder(angle[i] - std::atan2(cy[labels[i]], cx[labels[i]]), 2 * M_PI);
    total += std::fabs(d);
  }
  return total / labels.size() * 180 / M_PI;
}

Result train(const std::string& kind, const FlatSet& train_set, const FlatSet& test, int epochs) {
  Generator gen(1);  // the same network and batches for every head
  const int64_t c = static_cast<int64_t>(kClasses.size());
  auto net = mlp_to_2d(gen);
  auto head = make_head(kind, c, gen);
  std::vector<Variable> params = net->parameters();
  for (const Variable& p : head->parameters()) params.push_back(p);
  AdamOptions options;
  options.lr = 2e-3;
  Adam adam(params, options);
  std::printf("%-10s loss per epoch:", kind.c_str());
  for (int epoch = 0; epoch < epochs; ++epoch) {
    double sum = 0;
    const auto runs = batches(train_set.x.size(0), 64, gen);
    for (const std::vector<int64_t>& idx : runs) {
      std::vector<int64_t> labels;
      for (int64_t i : idx) labels.push_back(train_set.labels[i]);
      const Variable loss =
          head->loss(net->forward(Variable(index_select0(train_set.x, idx))), labels);
      adam.zero_grad();
      loss.backward();
      adam.step();
      sum += loss.item();
    }
    std::printf(" %.3f", sum / runs.size());
  }
  std::printf("\n");
  NoGradGuard no_grad;
  Result r;
  r.features = net->forward(Variable(test.x)).data();
  const std::vector<float> pred = argmax(head->forward(Variable(r.features)).data(), 1).to_vector();
  for (size_t i = 0; i < pred.size(); ++i) r.accuracy += pred[i] == test.labels[i];
  r.accuracy /= static_cast<double>(pred.size());
  r.weight = head->state_dict().at("weight");
  r.spread_degrees = spread_degrees(r.features, test.labels, c);
  return r;
}

int run(const Args& args) {
  if (!have_fashion_mnist("arcface_2d")) return 0;
  const TrainTest data = load_fashion_mnist();
  Generator gen(0);
  const FlatSet train_set = flat_subset(data.train, kClasses, args.tiny ? 60 : 600, gen);
  const FlatSet test = flat_subset(data.test, kClasses, args.tiny ? 30 : 150, gen);
  const int epochs = args.tiny ? 2 : 12;

  Svg svg(1080, 760);
  const std::vector<std::string> kinds = {"softmax", "L2-Softmax", "ArcFace"};
  for (size_t k = 0; k < kinds.size(); ++k) {
    const Result r = train(kinds[k], train_set, test, epochs);
    std::printf("%-10s test accuracy %.1f %%, mean angle to class direction %.1f°\n",
                kinds[k].c_str(), 100 * r.accuracy, r.spread_degrees);
    std::vector<float> radius;  // scale each panel to its features' 98th percentile
    for (float f : r.features.to_vector()) radius.push_back(std::fabs(f));
    std::sort(radius.begin(), radius.end());
    const double lim = 1.1 * radius[radius.size() * 98 / 100];
    const Panel p = panel(svg, 50 + 355.0 * k, 40, 290, 290, -lim, lim, -lim, lim,
                          fmt::format("{}: accuracy {:.0f} %, spread {:.0f}°", kinds[k],
                                      100 * r.accuracy, r.spread_degrees));
    const std::vector<float> w = r.weight.to_vector();
    for (size_t j = 0; j < kClasses.size(); ++j) {  // each class's weight direction
      const double norm = std::hypot(w[2 * j], w[2 * j + 1]);
      svg.line(
          p.x(0), p.y(0), p.x(p.ax.hi * w[2 * j] / norm), p.y(p.ax.hi * w[2 * j + 1] / norm),
          "stroke=\"" + palette_colour(j) + "\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"");
    }
    scatter(svg, p, r.features, test.labels, 2.0);
    rose(svg, 195 + 355.0 * k, 555, 140, r.features, test.labels, r.weight);
  }
  svg.text(540, 385, "below: how many test features point in each direction (5° bins), per class",
           R"(text-anchor="middle" font-size="13" fill="#555")");
  std::vector<std::string> names;
  for (int64_t c : kClasses) names.push_back(fashion_mnist_classes()[c]);
  legend(svg, 60, 745, names, 170);
  save_text(args.path("arcface_2d.svg"), svg.document());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "arcface_2d", kz::example::run);
}
