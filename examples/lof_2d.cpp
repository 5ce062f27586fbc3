// lof_2d.cpp — chapter 6 of docs/walkthrough.md: the Local Outlier Factor on a 2-D toy set
// (examples/example.h: a dense cluster and a sparse one), with k = 5 as in the benchmark.
//
// Shapes: N training points, M query points, x (N,2). With N_k(p) the k nearest training
// points of p (anomaly/lof.h):
//   kdist(o)    = distance from o to its k-th nearest neighbour  (how crowded o's home is)
//   reach(p, o) = max(d(p, o), kdist(o))                         (never below o's kdist)
//   lrd(p)      = 1 / mean_{o in N_k(p)} reach(p, o)             (local reachability density)
//   LOF(p)      = mean_{o in N_k(p)} lrd(o) / lrd(p)             (≈ 1 inside any cluster)
//
// Recomputes LOF of two query points by these formulas from the fitted model's k-distances
// and lrds (exit 1 if it disagrees with Lof::lof), and writes lof_2d.svg: left, the two
// queries, their neighbours and the neighbours' k-distance circles; right, LOF over the plane.
#include <cmath>

#include "anomaly/lof.h"
#include "examples/example.h"

namespace kz::example {
namespace {

// White (LOF ≤ 1) to red (LOF ≥ 4), on a log scale.
std::string heat(double lof) {
  return tint(std::log(std::max(lof, 1.0)) / std::log(4.0), 192, 57, 43);
}

int run(const Args& args) {
  Generator gen(5);
  const Tensor train = two_clusters(args.tiny ? 20 : 60, args.tiny ? 20 : 60, 0, gen);
  const std::vector<float> t = train.to_vector();
  const int64_t k = 5;
  Lof lof(k);
  lof.fit(train);
  const KnnIndex index(train);

  Svg svg(800, 430);
  const Panel a = panel(svg, 50, 40, 300, 300, -5, 6, -4, 5, "k = 5 neighbours and k-distances", 7);
  const Panel b = panel(svg, 450, 40, 300, 300, -5, 6, -4, 5, "LOF of every place in the plane", 7);

  // Right: LOF of each grid cell's centre as a novelty, then the training points.
  const int nx = 80, ny = 80;
  const std::vector<double> grid_lof = lof.lof(grid_points(b, nx, ny));
  std::vector<std::string> fill;
  for (double v : grid_lof) fill.push_back(heat(v));
  shade_grid(svg, b, nx, ny, fill);
  for (size_t i = 0; i < t.size(); i += 2)
    svg.circle(b.x(t[i]), b.y(t[i + 1]), 2, R"(fill="#333")");
  for (int s = 0; s <= 3; ++s) {  // colour key
    svg.rect(470 + 60 * s, 372, 14, 14,
             "fill=\"" + heat(std::pow(4.0, s / 3.0)) + "\" stroke=\"#999\"");
    svg.text(488 + 60 * s, 384, fmt::format("{}{:.1f}", s == 3 ? "≥ " : "", std::pow(4.0, s / 3.0)),
             R"(font-size="11")");
  }
  svg.text(470, 405, "about 1 inside either cluster, dense or sparse;",
           R"(font-size="11" fill="#555")");
  svg.text(470, 419, "large in the gap and around them", R"(font-size="11" fill="#555")");

  // Left: all training points, then two queries with their neighbours.
  for (size_t i = 0; i < t.size(); i += 2)
    svg.circle(a.x(t[i]), a.y(t[i + 1]), 2, R"(fill="#999")");
  const Tensor queries = Tensor::from_vector({-1.0f, -0.9f, 3.0f, -0.3f}, {2, 2});
  const Neighbors nb = index.search(queries, k);
  const std::vector<double> model = lof.lof(queries);
  const std::vector<float> q = queries.to_vector();
  for (int64_t r = 0; r < 2; ++r) {
    double reach_sum = 0, lrd_sum = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t o = nb.index[r * k + j];
      const double kd = lof.k_distance()[o];
      reach_sum += std::max(nb.distance[r * k + j], kd);
      lrd_sum += lof.lrd()[o];
      const double ox = t[2 * o], oy = t[2 * o + 1];
      svg.circle(a.x(ox), a.y(oy), a.x(kd) - a.x(0),
                 "fill=\"none\" stroke=\"" + palette_colour(r) + "\" stroke-dasharray=\"3,2\"");
      svg.line(a.x(q[2 * r]), a.y(q[2 * r + 1]), a.x(ox), a.y(oy),
               "stroke=\"" + palette_colour(r) + "\" stroke-width=\"1.2\"");
      svg.circle(a.x(ox), a.y(oy), 3, "fill=\"" + palette_colour(r) + "\"");
    }
    const double lrd = 1.0 / (reach_sum / k + 1e-10);
    const double by_hand = lrd_sum / k / lrd;
    std::printf(
        "query (%.1f, %.1f): mean reach-dist %.3f, lrd %.3f, mean lrd of neighbours "
        "%.3f, LOF %.3f (Lof::lof says %.3f)\n",
        q[2 * r], q[2 * r + 1], reach_sum / k, lrd, lrd_sum / k, by_hand, model[r]);
    if (std::fabs(by_hand - model[r]) > 1e-6 * model[r]) return 1;
    svg.rect(a.x(q[2 * r]) - 4, a.y(q[2 * r + 1]) - 4, 8, 8,
             "fill=\"" + palette_colour(r) + "\" stroke=\"#000\"");
    svg.text(a.x(q[2 * r]) + 8, a.y(q[2 * r + 1]) + (r ? -8 : 16),
             fmt::format("LOF {:.2f}", by_hand),
             R"(font-size="12" font-weight="bold" fill=")" + palette_colour(r) + "\"");
  }
  svg.text(60, 380, "■ query   — its 5 nearest training points", R"(font-size="11" fill="#555")");
  svg.text(60, 396, "dashed: each neighbour's k-distance circle;", R"(font-size="11" fill="#555")");
  svg.text(60, 412, "reach-dist = max(distance, that radius)", R"(font-size="11" fill="#555")");
  save_text(args.path("lof_2d.svg"), svg.document());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "lof_2d", kz::example::run);
}
