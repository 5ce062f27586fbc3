// doc.cpp — DOC's compactness and total loss, composed of autograd ops (their gradients
// come from the ops' own backwards). Shapes: n, k, B, C as in doc.h.
#include "losses/doc.h"

#include <cmath>

namespace kz {

// outputs (n,k) -> scalar.
Variable doc_compactness_loss(const Variable& outputs) {
  KZ_CHECK(outputs.defined() && outputs.dim() == 2, "doc_compactness_loss",
           "outputs must be (n,k), got {}",
           outputs.defined() ? shape_str(outputs.shape()) : "undefined");
  const int64_t n = outputs.size(0), k = outputs.size(1);
  KZ_CHECK(n > 0 && k > 0, "doc_compactness_loss", "empty outputs {}",
           shape_str(outputs.shape()));
  if (n == 1) return mul(sum(outputs), 0.0f);  // defined as 0 (doc.h), still in the graph

  const Variable centred = sub(outputs, mean(outputs, {0}, true));  // x_i − m
  const double nd = static_cast<double>(n);
  const double scale = nd * nd / ((nd - 1.0) * (nd - 1.0)) / (nd * static_cast<double>(k));
  return mul(sum(mul(centred, centred)), static_cast<float>(scale));
}

DocLoss doc_loss(const Variable& reference_logits, const std::vector<int64_t>& reference_labels,
                 const Variable& target_outputs, float lambda) {
  KZ_CHECK(std::isfinite(lambda) && lambda >= 0.0f, "doc_loss", "lambda must be >= 0, got {}",
           lambda);
  DocLoss out;
  out.descriptiveness = cross_entropy(reference_logits, reference_labels);
  out.compactness = doc_compactness_loss(target_outputs);
  out.total = add(out.descriptiveness, mul(out.compactness, lambda));
  return out;
}

}  // namespace kz
