// mobilenet_features.cpp — chapter 4 of docs/walkthrough.md: what a pretrained MobileNetV2
// makes of Fashion-MNIST images it was never trained on.
//
// Shapes: N images, x (N,3,96,96) — 28×28 grey replicated to RGB, resized bilinearly, scaled
// to [−1, 1] as the TF-origin weights expect — and features f (N,1280), the mean over H and W
// of the last 1×1 convolution's output (layers/mobilenet_v2.h: forward_features).
// With g = f − mean over the N images (centred) and ĝ = g/‖g‖ per row, the similarity of
// images i and j is the cosine (ĝ·ĝᵀ)_ij: 1 alike, 0 unrelated, −1 opposite. (Uncentred, the
// cosine of two ReLU feature vectors is large for any two images: they share a big mean.)
//
// Three descriptions of the same 200 test images (20 of each class): the raw pixels, the features
// of MobileNetV2 with random weights, and those of the ImageNet-pretrained network
// (../shared/data/weights/, width 1.0). For each: the mean similarity of every pair of
// classes, and leave-one-out 1-nearest-neighbour accuracy by cosine.
// Skips (exit 0, with a message) when the weights or Fashion-MNIST are not there.
// Writes mobilenet_features.svg: the three class-by-class similarity matrices.
#include <filesystem>

#include "data/loader.h"
#include "examples/example.h"
#include "layers/mobilenet_v2.h"

#ifndef KZ_SHARED_DATA
#define KZ_SHARED_DATA "../shared/data"
#endif

namespace kz::example {
namespace {

const std::vector<int64_t> kClasses = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};  // all ten

// f (N,F) -> sim (C,C): mean cosine similarity between images of class a and class b (i ≠ j),
// and the leave-one-out 1-NN accuracy.
std::pair<std::vector<double>, double> similarity(const Tensor& f,
                                                  const std::vector<int64_t>& labels) {
  // Centred: what all these images share (most of a ReLU feature vector) is taken away first.
  const Tensor g = sub(f, mean(f, {0}, true));
  const Tensor unit = div(g, add(sqrt(sum(mul(g, g), {1}, true)), 1e-12f));
  const std::vector<float> s = matmul(unit, unit.transpose(0, 1)).to_vector();  // (N,N)
  const size_t n = labels.size(), c = kClasses.size();
  std::vector<double> sim(c * c), count(c * c);
  double correct = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t best = i == 0 ? 1 : 0;
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      sim[labels[i] * c + labels[j]] += s[i * n + j];
      count[labels[i] * c + labels[j]] += 1;
      if (s[i * n + j] > s[i * n + best]) best = j;
    }
    correct += labels[best] == labels[i];
  }
  for (size_t k = 0; k < c * c; ++k) sim[k] /= count[k];
  std::printf("features %s; mean centred cosine similarity by class:\n",
              shape_str(f.shape()).c_str());
  for (size_t a = 0; a < c; ++a) {
    std::printf("  %-12s", fashion_mnist_classes()[kClasses[a]].c_str());
    for (size_t b = 0; b < c; ++b) std::printf(" %6.3f", sim[a * c + b]);
    std::printf("\n");
  }
  std::printf("  1-NN accuracy (leave one out): %.1f %%\n", 100 * correct / n);
  return {sim, correct / n};
}

int run(const Args& args) {
  const std::string weights = KZ_SHARED_DATA "/weights/mobilenet_v2_1.0_imagenet.safetensors";
  if (!std::filesystem::exists(weights)) {
    std::printf("mobilenet_features: skipped: no pretrained weights at %s\n", weights.c_str());
    return 0;
  }
  if (!have_fashion_mnist("mobilenet_features")) return 0;
  const TrainTest data = load_fashion_mnist();
  Generator gen(0);
  std::vector<int64_t> pick, labels;
  for (size_t c = 0; c < kClasses.size(); ++c) {
    const std::vector<int64_t> all = data.test.indices_of_class(kClasses[c]);
    for (int64_t i = 0; i < (args.tiny ? 2 : 20); ++i) pick.push_back(all[i]), labels.push_back(c);
  }
  Preprocess pre;
  pre.height = pre.width = args.tiny ? 32 : 96;
  pre.scaling = Scaling::symmetric;
  const Tensor x = preprocess(data.test.subset(pick), pre);
  std::printf("input %s, pixels in [%.0f, %.0f]\n", shape_str(x.shape()).c_str(), min_all(x),
              max_all(x));

  auto features = [&x](MobileNetV2& net) {  // (N,1280), eval mode, no graph
    net.eval();
    NoGradGuard no_grad;
    return net.forward_features(Variable(x)).data();
  };
  std::vector<std::string> titles = {"pixels", "random weights", "ImageNet-pretrained"};
  std::vector<std::pair<std::vector<double>, double>> results;
  std::printf("\nthe pixels themselves (28×28 = 784 values):\n");
  results.push_back(similarity(data.test.subset(pick).to_tensor().flatten(1), labels));
  auto pretrained = load_mobilenet_v2(weights, 1.0, gen);
  MobileNetV2 random(pretrained->options(), gen);
  std::printf("\nMobileNetV2 with random weights:\n");
  results.push_back(similarity(features(random), labels));
  std::printf("\nImageNet-pretrained MobileNetV2 (width 1.0):\n");
  results.push_back(similarity(features(*pretrained), labels));

  const size_t c = kClasses.size();
  const double cell = 33, width = 80 + c * cell;
  Svg svg(3 * width + 30, c * cell + 130);
  for (size_t m = 0; m < 3; ++m) {
    const std::vector<double>& sim = results[m].first;
    const double left = 90 + m * width, top = 50;
    svg.text(left + c * cell / 2, 28,
             fmt::format("{}: 1-NN {:.0f} %", titles[m], 100 * results[m].second),
             R"(text-anchor="middle" font-size="13")");
    for (size_t a = 0; a < c; ++a) {
      const std::string name = fashion_mnist_classes()[kClasses[a]];
      if (m == 0)
        svg.text(left - 6, top + a * cell + cell / 2 + 4, name,
                 R"(text-anchor="end" font-size="11")");
      const double lx = left + a * cell + cell / 2 + 3, ly = top + c * cell + 8;
      svg.text(
          lx, ly, name,
          fmt::format(R"svg(text-anchor="end" font-size="10" transform="rotate(-50 {} {})")svg",
                      svg_num(lx), svg_num(ly)));
      for (size_t b = 0; b < c; ++b) {
        const double v = std::round(sim[a * c + b] * 100) / 100 + 0.0;  // no "-0.00"
        // blue (1) .. white (0) .. red (−1)
        svg.rect(left + b * cell, top + a * cell, cell, cell,
                 "fill=\"" + (v > 0 ? tint(v, 31, 119, 180) : tint(-v, 214, 39, 40)) +
                     "\" stroke=\"#fff\"");
        svg.text(left + b * cell + cell / 2, top + a * cell + cell / 2 + 3,
                 fmt::format("{:.2f}", v),
                 fmt::format(R"(text-anchor="middle" font-size="9" fill="{}")",
                             std::fabs(v) > 0.6 ? "#fff" : "#000"));
      }
    }
  }
  svg.text(20, c * cell + 122,
           "cell (a, b): mean cosine similarity of the centred vectors (pixels or "
           "features) of a class-a and a class-b test image",
           R"(font-size="11" fill="#555")");
  save_text(args.path("mobilenet_features.svg"), svg.document());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "mobilenet_features", kz::example::run);
}
