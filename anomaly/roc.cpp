// roc.cpp — ROC curve and Mann–Whitney AUC (see roc.h). Shape letter: M scored samples.
#include "anomaly/roc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace kz {
namespace {

// Samples grouped by equal score, highest score first: per group the score and how many
// positives and negatives it holds.
struct ScoreGroup {
  double score;
  int64_t positives, negatives;
};

std::vector<ScoreGroup> group_by_score(const std::vector<double>& scores,
                                       const std::vector<int>& labels) {
  KZ_CHECK(scores.size() == labels.size(), "auc", "{} scores but {} labels", scores.size(),
           labels.size());
  KZ_CHECK(!scores.empty(), "auc", "no scores given");
  int64_t positives = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    KZ_CHECK(labels[i] == 0 || labels[i] == 1, "auc", "labels must be 0 or 1, got {} at index {}",
             labels[i], i);
    KZ_CHECK(std::isfinite(scores[i]), "auc", "score {} at index {} is not finite", scores[i], i);
    positives += labels[i];
  }
  const int64_t negatives = int64_t(scores.size()) - positives;
  KZ_CHECK(positives > 0 && negatives > 0, "auc",
           "needs both classes, got {} positive (1) and {} negative (0) labels", positives,
           negatives);

  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  std::vector<ScoreGroup> groups;
  for (int64_t i : order) {
    if (groups.empty() || groups.back().score != scores[i]) groups.push_back({scores[i], 0, 0});
    (labels[i] ? groups.back().positives : groups.back().negatives) += 1;
  }
  return groups;
}

std::vector<double> to_doubles(const Tensor& t, const char* what) {
  KZ_CHECK(t.defined() && t.dim() == 1, "auc", "{} must be 1-D (M,), got shape {}", what,
           shape_str(t.defined() ? t.shape() : Shape{}));
  const std::vector<float> v = t.to_vector();
  return {v.begin(), v.end()};
}

std::vector<int> to_labels(const Tensor& t) {
  std::vector<int> out;
  for (double v : to_doubles(t, "labels")) {
    KZ_CHECK(v == 0.0 || v == 1.0, "auc", "labels must be 0 or 1, got {} at index {}", v,
             out.size());
    out.push_back(int(v));
  }
  return out;
}

}  // namespace

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  // For each negative: the positives ranked above it, plus half of those tied with it.
  double u = 0;
  int64_t positives_above = 0, positives = 0, negatives = 0;
  for (const ScoreGroup& g : group_by_score(scores, labels)) {
    u += double(g.negatives) * (double(positives_above) + 0.5 * double(g.positives));
    positives_above += g.positives;
    positives += g.positives, negatives += g.negatives;
  }
  return u / (double(positives) * double(negatives));
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels,
                   bool drop_intermediate) {
  const std::vector<ScoreGroup> groups = group_by_score(scores, labels);
  std::vector<double> fps, tps, thresholds;  // cumulative counts at each distinct score
  for (const ScoreGroup& g : groups) {
    fps.push_back((fps.empty() ? 0.0 : fps.back()) + double(g.negatives));
    tps.push_back((tps.empty() ? 0.0 : tps.back()) + double(g.positives));
    thresholds.push_back(g.score);
  }
  const double negatives = fps.back(), positives = tps.back();
  RocCurve curve;
  curve.fpr.push_back(0.0), curve.tpr.push_back(0.0);
  curve.thresholds.push_back(std::numeric_limits<double>::infinity());
  const size_t n = fps.size();
  for (size_t i = 0; i < n; ++i) {
    // scikit-learn keeps the ends and every point where either count bends.
    const bool keep = !drop_intermediate || n <= 2 || i == 0 || i + 1 == n ||
                      fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0 ||
                      tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0;
    if (!keep) continue;
    curve.fpr.push_back(fps[i] / negatives);
    curve.tpr.push_back(tps[i] / positives);
    curve.thresholds.push_back(thresholds[i]);
  }
  return curve;
}

double roc_auc(const Tensor& scores, const Tensor& labels) {
  return roc_auc(to_doubles(scores, "scores"), to_labels(labels));
}

RocCurve roc_curve(const Tensor& scores, const Tensor& labels, bool drop_intermediate) {
  return roc_curve(to_doubles(scores, "scores"), to_labels(labels), drop_intermediate);
}

double trapezoid_area(const RocCurve& curve) {
  double area = 0;
  for (size_t i = 1; i < curve.fpr.size(); ++i)
    area += (curve.fpr[i] - curve.fpr[i - 1]) * (curve.tpr[i] + curve.tpr[i - 1]) / 2;
  return area;
}

double pixel_auroc(const Tensor& maps, const Tensor& masks) {
  KZ_CHECK(maps.dim() == 3 && maps.shape() == masks.shape(), "pixel_auroc",
           "maps {} and masks {}: expected both (N,H,W), of one shape", shape_str(maps.shape()),
           shape_str(masks.shape()));
  const std::vector<float> m = maps.to_vector(), k = masks.to_vector();
  std::vector<double> scores(m.size());
  std::vector<int> labels(k.size());
  int64_t defect = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    KZ_CHECK(std::isfinite(m[i]), "pixel_auroc", "map value {} at flat index {} is not finite",
             m[i], i);
    scores[i] = m[i];
    labels[i] = k[i] > 0.5f ? 1 : 0;
    defect += labels[i];
  }
  KZ_CHECK(defect > 0 && defect < static_cast<int64_t>(labels.size()), "pixel_auroc",
           "the masks hold {} defect pixels of {}: both defect and normal pixels are needed",
           defect, labels.size());
  return roc_auc(scores, labels);
}

}  // namespace kz
