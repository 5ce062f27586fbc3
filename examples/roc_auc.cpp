// roc_auc.cpp — chapter 7 of docs/walkthrough.md: from anomaly scores to a ROC curve and its
// area, on the 2-D toy set of lof_2d (examples/example.h).
//
// Shapes: N training points (normal only), M test points, x (N,2) and (M,2); scores (M,),
// higher = more anomalous; labels (M,), 1 = anomaly.
//   A threshold τ flags every test point with score ≥ τ. Of the P anomalies it catches
//   TPR(τ) = TP/P, of the Q normals it wrongly flags FPR(τ) = FP/Q. Sweeping τ from +∞ down
//   traces the ROC curve from (0,0) to (1,1) (anomaly/roc.h: roc_curve).
//   AUC = the area under it = the probability that a random anomaly scores above a random
//   normal point (ties count half): no threshold needs choosing.
// Two scorers of the same points: LOF (k = 5) and the plain distance to the 5th nearest
// training point (anomaly/scorers.h: KnnScorer). The AUC is computed twice, by roc_auc and
// by counting all P·Q pairs (exit 1 if they differ). Writes roc_auc.svg.
#include <cmath>

#include "anomaly/lof.h"
#include "anomaly/roc.h"
#include "anomaly/scorers.h"
#include "examples/example.h"

namespace kz::example {
namespace {

// The definition: P(anomaly score > normal score) + ½ P(equal), over all pairs.
double auc_by_pairs(const std::vector<double>& s, const std::vector<int>& labels) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (labels[i] == 1 && labels[j] == 0) {
        wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        pairs += 1;
      }
  return wins / pairs;
}

int run(const Args& args) {
  Generator gen(11);
  const int64_t n = args.tiny ? 40 : 150;
  const Tensor train = two_clusters(n, n, 0, gen);
  const Tensor test = cat({two_clusters(n / 2, n / 2, 0, gen), two_clusters(0, 0, n / 5, gen)}, 0);
  std::vector<int> labels(static_cast<size_t>(test.size(0)), 0);
  for (int64_t i = n; i < test.size(0); ++i) labels[i] = 1;

  Lof lof(5);
  KnnScorer knn(5);
  lof.fit(train);
  knn.fit(train);
  const std::vector<std::pair<std::string, std::vector<double>>> scorers = {
      {"LOF", lof.lof(test)}, {"5-NN distance", [&] {
                                 const std::vector<float> f = knn.score(test).to_vector();
                                 return std::vector<double>(f.begin(), f.end());
                               }()}};

  Svg svg(800, 425);
  // Left: LOF scores of the test points, one row per class; a threshold τ.
  const std::vector<double>& s = scorers[0].second;
  double top = 1;
  for (double v : s) top = std::max(top, v);
  const Panel a = panel(svg, 50, 40, 300, 300, 0.5, std::min(top, 6.0), -0.5, 1.5,
                        "LOF scores of the test points");
  const double tau = 1.5;
  int64_t tp = 0, fp = 0, positives = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    positives += labels[i];
    tp += labels[i] && s[i] >= tau, fp += !labels[i] && s[i] >= tau;
    const double jitter = 0.5 * (gen.uniform() - 0.5);
    if (s[i] <= a.ax.hi)
      svg.circle(a.x(s[i]), a.y(labels[i] + jitter), 2.5,
                 "fill=\"" + palette_colour(labels[i] ? 3 : 0) + "\" fill-opacity=\"0.6\"");
  }
  svg.line(a.x(tau), a.y(a.ay.lo), a.x(tau), a.y(a.ay.hi),
           R"(stroke="#000" stroke-dasharray="4,3")");
  const double tpr = double(tp) / positives, fpr = double(fp) / (s.size() - positives);
  svg.text(a.x(tau) + 5, a.y(0.65), fmt::format("τ = {}: TPR {:.2f}, FPR {:.2f}", tau, tpr, fpr),
           R"(font-size="12")");
  svg.text(a.x(a.ax.hi) - 6, a.y(1.4), "anomalies (label 1)",
           "text-anchor=\"end\" font-size=\"12\" fill=\"" + palette_colour(3) + "\"");
  svg.text(a.x(a.ax.hi) - 6, a.y(0.4), "normal points (label 0)",
           "text-anchor=\"end\" font-size=\"12\" fill=\"" + palette_colour(0) + "\"");
  svg.text(200, 375, "LOF score (higher = more anomalous)",
           R"(text-anchor="middle" font-size="12")");
  svg.text(60, 396, "each dot one test point, spread up and down to be seen",
           R"(font-size="11" fill="#555")");

  // Right: both ROC curves, the chance diagonal, the threshold's point.
  const Panel b = panel(svg, 450, 40, 300, 300, 0, 1, 0, 1, "ROC curves");
  svg.line(b.x(0), b.y(0), b.x(1), b.y(1), R"(stroke="#999" stroke-dasharray="4,3")");
  for (size_t m = 0; m < scorers.size(); ++m) {
    const RocCurve roc = roc_curve(scorers[m].second, labels);
    const double auc = roc_auc(scorers[m].second, labels);
    const double pairs = auc_by_pairs(scorers[m].second, labels);
    std::printf("%-14s AUC %.4f (roc_auc), %.4f (counting pairs), %zu ROC points\n",
                scorers[m].first.c_str(), auc, pairs, roc.fpr.size());
    if (std::fabs(auc - pairs) > 1e-12) return 1;
    std::vector<std::pair<double, double>> pts;
    for (size_t i = 0; i < roc.fpr.size(); ++i) pts.push_back({b.x(roc.fpr[i]), b.y(roc.tpr[i])});
    svg.polyline(pts, "stroke=\"" + palette_colour(m ? 2 : 1) + "\" stroke-width=\"2\"");
    svg.text(b.x(0.35), b.y(0.12 + 0.08 * m), fmt::format("{}: AUC {:.3f}", scorers[m].first, auc),
             "font-size=\"12\" fill=\"" + palette_colour(m ? 2 : 1) + "\"");
  }
  svg.circle(b.x(fpr), b.y(tpr), 4.5, R"(fill="none" stroke="#000" stroke-width="1.5")");
  svg.text(600, 375, "false positive rate (normals flagged)",
           R"(text-anchor="middle" font-size="12")");
  svg.text(460, 396, "y: true positive rate (anomalies caught)", R"(font-size="11" fill="#555")");
  svg.text(460, 412, "circle: LOF at the threshold τ of the left panel",
           R"(font-size="11" fill="#555")");
  save_text(args.path("roc_auc.svg"), svg.document());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "roc_auc", kz::example::run);
}
