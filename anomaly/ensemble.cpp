// ensemble.cpp — parsing --ensemble, cross-fitted training scores, and the standardised
// average (see ensemble.h).
#include "anomaly/ensemble.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "anomaly/experiment.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace kz {

EnsembleSpec parse_ensemble(const std::string& text, const std::string& where) {
  const size_t eq = text.find('=');
  KZ_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), where,
           "'{}' is not NAME=method:score,method:score,…", text);
  EnsembleSpec spec;
  spec.name = text.substr(0, eq);
  std::set<std::pair<std::string, std::string>> seen;
  size_t start = eq + 1;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string member = text.substr(start, comma - start);
    const size_t colon = member.find(':');
    const std::string method = member.substr(0, colon);
    const std::string score = colon == std::string::npos ? "" : member.substr(colon + 1);
    KZ_CHECK(!method.empty() && (colon == std::string::npos || !score.empty()), where,
             "'{}': member '{}' is not method or method:score", text, member);
    KZ_CHECK(seen.insert({method, score}).second, where, "'{}': member '{}' is there twice", text,
             member);
    spec.members.emplace_back(method, score);
    start = comma + 1;
  }
  KZ_CHECK(spec.members.size() >= 2, where, "'{}': an ensemble needs at least two members",
           text);
  return spec;
}

// train (N,D) -> (N): row i scored by a scorer fitted on the folds without it.
Tensor cross_fitted_scores(const std::string& scorer, const Tensor& train, int64_t neighbors,
                           bool center) {
  constexpr int64_t kFolds = 5;
  const int64_t N = train.size(0);
  KZ_CHECK(N >= 2 * kFolds, "ensemble", "cross-fitting needs at least {} normal training images, "
           "got {}", 2 * kFolds, N);
  std::vector<float> out(static_cast<size_t>(N));
  for (int64_t f = 0; f < kFolds; ++f) {
    const int64_t begin = N * f / kFolds, end = N * (f + 1) / kFolds;
    std::vector<Tensor> rest;
    if (begin > 0) rest.push_back(train.narrow(0, 0, begin));
    if (end < N) rest.push_back(train.narrow(0, end, N - end));
    const Tensor s =
        score_features(scorer, cat(rest, 0), train.narrow(0, begin, end - begin), neighbors, center)
            .contiguous();
    std::copy(s.data(), s.data() + (end - begin), out.begin() + begin);
  }
  return Tensor::from_vector(out, {N});
}

std::vector<double> ensemble_scores(const std::vector<const TrialResult*>& members) {
  KZ_CHECK(!members.empty(), "ensemble", "no members");
  const size_t n = members.front()->test_scores.size();
  std::vector<double> out(n, 0.0);
  for (const TrialResult* m : members) {
    KZ_CHECK(m->test_scores.size() == n && n > 0, "ensemble",
             "member {}:{} of trial {} has {} test scores, expected {}", m->method, m->scorer,
             m->trial + 1, m->test_scores.size(), n);
    KZ_CHECK(std::isfinite(m->normal_train_std) && m->normal_train_std > 0.0, "ensemble",
             "member {}:{} of trial {} scores every normal training image alike (std {}): it "
             "cannot be standardised",
             m->method, m->scorer, m->trial + 1, m->normal_train_std);
    for (size_t i = 0; i < n; ++i)
      out[i] += (m->test_scores[i] - m->normal_train_mean) / m->normal_train_std;
  }
  for (double& v : out) v /= static_cast<double>(members.size());
  return out;
}

}  // namespace kz
