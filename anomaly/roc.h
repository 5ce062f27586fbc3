/// \file
/// roc.h — ROC curve and ROC-AUC of anomaly scores, as scikit-learn 1.2's roc_curve and
/// roc_auc_score (binary). Arithmetic in double.
///
/// Shape letters: M = scored samples. scores is (M,), higher = more anomalous; labels is
/// (M,) with 1 = anomaly (positive) and 0 = normal. Both classes must be present.
///
/// \code{.unparsed}
///   AUC = P(score of a random anomaly > score of a random normal) + 1/2 P(equal)
///       = (Mann-Whitney U of the anomalies) / (P * N),
/// \endcode
/// ties counted half; equal to the trapezoidal area under the ROC curve, hence to
/// roc_auc_score. Computed from one sort: O(M log M).
///
/// roc_curve: one point per distinct score, from the highest down: the threshold t and the
/// rates fpr = #{normal with score >= t} / N, tpr = #{anomaly with score >= t} / P. The curve
/// starts at (0, 0) with threshold +infinity (scikit-learn 1.2 wrote max score + 1 there;
/// 1.3 and later write +inf). drop_intermediate removes points collinear with their
/// neighbours on a horizontal or vertical run (scikit-learn's rule), which keeps the area.
///
/// Errors start with "[auc]": lengths differ, empty input, a label not 0/1, a non-finite
/// score, only one class present.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// A ROC curve's points, from threshold +infinity down.
struct RocCurve {
  /// Same length; thresholds decreasing
  ///@{
  std::vector<double> fpr, tpr, thresholds;
  ///@}
};

/// The ROC-AUC of scores (M,) against labels (M,) (see the file's description).
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels);
/// The ROC curve of scores (M,) against labels (M,) (see the file's description).
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels,
                   bool drop_intermediate = true);

/// The same from tensors: scores and labels are (M,) (labels 0.0 or 1.0).
///@{
double roc_auc(const Tensor& scores, const Tensor& labels);
RocCurve roc_curve(const Tensor& scores, const Tensor& labels, bool drop_intermediate = true);
///@}

/// Trapezoidal area under a curve's (fpr, tpr) points.
double trapezoid_area(const RocCurve& curve);

/// Pixel-level ROC-AUC of anomaly maps (N,H,W) against defect masks (N,H,W): every pixel of
/// every image is one sample, its map value the score, mask > 0.5 the label (defect). Shapes
/// that differ, a non-finite map value, or masks without both defect and normal pixels throw.
double pixel_auroc(const Tensor& maps, const Tensor& masks);

}  // namespace kz
