// doc_2d.cpp — chapter 5 of docs/walkthrough.md: DOC's compactness loss pulling the normal
// class together, in a 2-D feature space.
//
// The benchmark's roles on Fashion-MNIST: normal = sneaker, anomaly = ankle boot (never seen
// in training), reference = the eight other classes. The small network of
// examples/example.h (784 → 128 → 32 → 2) with a softmax head over the 8 reference classes
// is trained twice from the same seed:
//   without: descriptiveness only, l_D = cross-entropy of a reference batch;
//   with:    l_D + λ·l_C, l_C the compactness of a batch of normal features (losses/doc.h):
//            l_C = 1/(n·k) Σ_i n²/(n−1)²·‖f_i − mean‖²,  f (n,k) with k = 2 here, λ = 1.
// (The benchmark takes l_C of the head's outputs, k = 8, with λ = 0.1; in 2-D the features
// themselves are what the picture shows.)
//
// Prints l_C of the test sneakers and the AUC of LOF (k = 5, fitted on the training
// sneakers' features) for sneaker vs ankle boot; writes doc_2d.svg, the test features of
// the three roles (reference classes in grey).
#include <algorithm>

#include "anomaly/lof.h"
#include "anomaly/roc.h"
#include "examples/example.h"
#include "losses/doc.h"
#include "losses/margin_head.h"
#include "optim/adam.h"

namespace kz::example {
namespace {

struct Sets {
  FlatSet reference, normal, test;  // test labels: 0 = sneaker, 1 = ankle boot
  FlatSet reference_test;           // test images of the reference classes, for the picture
};

struct Features {
  Tensor normal, test, reference_test;  // (N,2) each
};

// Trains with compactness weight lambda (0 = without); returns the features of the sets.
Features train(const Sets& s, float lambda, int epochs) {
  Generator gen(3);
  auto net = mlp_to_2d(gen);
  auto head = std::make_shared<SoftmaxHead>(2, 8, gen);
  std::vector<Variable> params = net->parameters();
  for (const Variable& p : head->parameters()) params.push_back(p);
  AdamOptions options;
  options.lr = 2e-3;
  Adam adam(params, options);
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const auto ref_batches = batches(s.reference.x.size(0), 64, gen);
    const auto normal_batches = batches(s.normal.x.size(0), 32, gen);
    double sum_d = 0, sum_c = 0;
    for (size_t b = 0; b < ref_batches.size(); ++b) {  // one normal batch per reference batch
      std::vector<int64_t> labels;
      for (int64_t i : ref_batches[b]) labels.push_back(s.reference.labels[i]);
      const Variable ref = net->forward(Variable(index_select0(s.reference.x, ref_batches[b])));
      const Variable normal = net->forward(
          Variable(index_select0(s.normal.x, normal_batches[b % normal_batches.size()])));
      const DocLoss loss = doc_loss(head->forward(ref), labels, normal, lambda);
      adam.zero_grad();
      loss.total.backward();
      adam.step();
      sum_d += loss.descriptiveness.item(), sum_c += loss.compactness.item();
    }
    if (epoch % 3 == 0 || epoch == epochs - 1)
      std::printf("λ = %g, epoch %2d:  l_D %.4f  l_C %.4f\n", lambda, epoch,
                  sum_d / ref_batches.size(), sum_c / ref_batches.size());
  }
  NoGradGuard no_grad;
  return {net->forward(Variable(s.normal.x)).data(), net->forward(Variable(s.test.x)).data(),
          net->forward(Variable(s.reference_test.x)).data()};
}

int run(const Args& args) {
  if (!have_fashion_mnist("doc_2d")) return 0;
  const TrainTest data = load_fashion_mnist();
  Generator gen(0);
  const int64_t n = args.tiny ? 40 : 400;
  const std::vector<int64_t> reference = {0, 1, 2, 3, 4, 5, 6, 8};
  Sets s{flat_subset(data.train, reference, n, gen), flat_subset(data.train, {7}, n, gen),
         flat_subset(data.test, {7, 9}, n / 2, gen), flat_subset(data.test, reference, n / 8, gen)};
  std::vector<int64_t> sneakers;
  for (size_t i = 0; i < s.test.labels.size(); ++i)
    if (s.test.labels[i] == 0) sneakers.push_back(static_cast<int64_t>(i));
  std::vector<int> is_anomaly(s.test.labels.begin(), s.test.labels.end());

  Svg svg(760, 420);
  const std::vector<float> lambdas = {0.0f, 1.0f};
  for (size_t k = 0; k < lambdas.size(); ++k) {
    const auto [normal, test, reference_test] = train(s, lambdas[k], args.tiny ? 2 : 10);
    const double compactness = doc_compactness_loss(Variable(index_select0(test, sneakers))).item();
    Lof lof(5);
    lof.fit(normal);
    const double auc = roc_auc(lof.lof(test), is_anomaly);
    std::printf("%s compactness: l_C of test sneakers %.4f, LOF AUC sneaker vs ankle boot %.3f\n",
                k ? "with" : "without", compactness, auc);
    // Framed by the 2nd to 98th percentile of every plotted point, on both axes.
    std::vector<float> xs, ys;
    for (const Tensor& f : {test, reference_test})
      for (int64_t i = 0; i < f.size(0); ++i)
        xs.push_back(f.at({i, 0})), ys.push_back(f.at({i, 1}));
    std::sort(xs.begin(), xs.end());
    std::sort(ys.begin(), ys.end());
    const size_t lo = xs.size() / 50, hi = xs.size() - 1 - lo;
    const double cx = (xs[lo] + xs[hi]) / 2.0, cy = (ys[lo] + ys[hi]) / 2.0;
    const double half = 0.55 * std::max(xs[hi] - xs[lo], ys[hi] - ys[lo]);
    const Panel p =
        panel(svg, 50 + 380.0 * k, 40, 290, 290, cx - half, cx + half, cy - half, cy + half,
              fmt::format("{} compactness (λ = {:g}): AUC {:.3f}", k ? "with" : "without",
                          lambdas[k], auc));
    scatter(svg, p, reference_test, std::vector<int64_t>(reference_test.size(0), 7), 1.8,
            R"(fill-opacity="0.35")");  // palette_colour(7) is grey
    for (int64_t role : {1, 0}) {       // anomalies first, the normal class on top
      std::vector<int64_t> rows;
      for (size_t i = 0; i < s.test.labels.size(); ++i)
        if (s.test.labels[i] == role) rows.push_back(static_cast<int64_t>(i));
      scatter(svg, p, index_select0(test, rows), std::vector<int64_t>(rows.size(), role), 2.2);
    }
  }
  legend(svg, 60, 395, {"test sneakers (normal)", "test ankle boots (anomalies)"}, 230);
  svg.circle(525, 391, 5, "fill=\"" + palette_colour(7) + "\"");
  svg.text(535, 395, "the 8 reference classes", R"(font-size="12")");
  save_text(args.path("doc_2d.svg"), svg.document());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "doc_2d", kz::example::run);
}
