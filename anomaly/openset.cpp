// openset.cpp — classifying while detecting, and the modes of the flagged images (see
// openset.h). Shapes: N images, F features, K known classes, U unknown classes.
#include "anomaly/openset.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "anomaly/kmeans.h"
#include "anomaly/methods/backbone.h"
#include "anomaly/pca.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "anomaly/svg.h"
#include "tensor/build_info.h"
#include "tensor/file_io.h"

namespace kz {
namespace {

// Rows of x (N,F) scaled to unit length (a zero row stays zero), as doubles.
std::vector<double> unit_rows(const Tensor& x_in, int64_t& n, int64_t& f) {
  KZ_CHECK(x_in.defined() && x_in.dim() == 2, "openset", "features must be (N,F)");
  const Tensor x = x_in.contiguous();
  n = x.size(0);
  f = x.size(1);
  std::vector<double> out(static_cast<size_t>(n * f));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < f; ++j) s += static_cast<double>(x.data()[i * f + j]) * x.data()[i * f + j];
    const double inv = s > 0.0 ? 1.0 / std::sqrt(s) : 0.0;
    for (int64_t j = 0; j < f; ++j) out[static_cast<size_t>(i * f + j)] = x.data()[i * f + j] * inv;
  }
  return out;
}

double fraction(int64_t part, int64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

nlohmann::json environment() {
  const BuildInfo b = build_info();
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"kizuki", b.kizuki}, {"cpu", b.cpu}, {"onednn_isa", b.onednn_isa},
          {"omp_threads", omp_get_max_threads()}, {"date", date}};
}

}  // namespace

Tensor class_centres(const Tensor& features, const std::vector<int64_t>& labels, int64_t K) {
  int64_t n = 0, f = 0;
  const std::vector<double> u = unit_rows(features, n, f);
  KZ_CHECK(static_cast<int64_t>(labels.size()) == n, "openset", "{} labels for {} feature rows",
           labels.size(), n);
  KZ_CHECK(K >= 1, "openset", "{} classes", K);
  std::vector<double> sum(static_cast<size_t>(K * f), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(K), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = labels[static_cast<size_t>(i)];
    KZ_CHECK(c >= 0 && c < K, "openset", "label {} of row {} is not in [0, {})", c, i, K);
    ++count[static_cast<size_t>(c)];
    for (int64_t j = 0; j < f; ++j) sum[static_cast<size_t>(c * f + j)] += u[static_cast<size_t>(i * f + j)];
  }
  std::vector<float> out(static_cast<size_t>(K * f));
  for (int64_t c = 0; c < K; ++c) {
    KZ_CHECK(count[static_cast<size_t>(c)] > 0, "openset", "class {} has no training row", c);
    for (int64_t j = 0; j < f; ++j)
      out[static_cast<size_t>(c * f + j)] = static_cast<float>(
          sum[static_cast<size_t>(c * f + j)] / static_cast<double>(count[static_cast<size_t>(c)]));
  }
  return Tensor::from_vector(out, {K, f});
}

void nearest_centre(const Tensor& features, const Tensor& centres, std::vector<int64_t>& predicted,
                    std::vector<double>& max_cosine) {
  int64_t n = 0, f = 0, k = 0, fc = 0;
  const std::vector<double> u = unit_rows(features, n, f);
  const std::vector<double> c = unit_rows(centres, k, fc);
  KZ_CHECK(f == fc && k >= 1, "openset", "{} centres of {} features for rows of {} features", k,
           fc, f);
  predicted.assign(static_cast<size_t>(n), 0);
  max_cosine.assign(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double best = -2.0;
    for (int64_t m = 0; m < k; ++m) {
      double s = 0.0;
      for (int64_t j = 0; j < f; ++j) s += u[static_cast<size_t>(i * f + j)] * c[static_cast<size_t>(m * f + j)];
      if (s > best) {
        best = s;
        predicted[static_cast<size_t>(i)] = m;
      }
    }
    max_cosine[static_cast<size_t>(i)] = best;
  }
}

double known_rate_threshold(std::vector<double> scores, double rate) {
  KZ_CHECK(!scores.empty(), "openset", "no held-out scores to set the threshold on");
  KZ_CHECK(rate > 0.0 && rate <= 1.0, "openset", "true-known rate {} is not in (0, 1]", rate);
  for (double s : scores) KZ_CHECK(std::isfinite(s), "openset", "a held-out score is not finite");
  std::sort(scores.begin(), scores.end());
  const auto n = static_cast<double>(scores.size());
  auto j = static_cast<size_t>(std::floor((1.0 - rate) * n + 1e-9));
  j = std::min(j, scores.size() - 1);
  return scores[j];
}

OpenSetMetrics open_set_metrics(const std::vector<int64_t>& truth,
                                const std::vector<int64_t>& predicted,
                                const std::vector<double>& max_cosine, double threshold,
                                int64_t K) {
  const size_t n = truth.size();
  KZ_CHECK(predicted.size() == n && max_cosine.size() == n, "openset",
           "{} true labels, {} predictions, {} scores: lengths differ", n, predicted.size(),
           max_cosine.size());
  KZ_CHECK(K >= 1, "openset", "{} known classes", K);
  OpenSetMetrics m;
  m.confusion.assign(static_cast<size_t>(K + 1), std::vector<int64_t>(static_cast<size_t>(K + 1), 0));
  int64_t known = 0, unknown = 0, closed_right = 0, known_kept = 0, unknown_flagged = 0,
          open_right = 0;
  std::vector<double> scores(n);
  std::vector<int> is_unknown(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = truth[i], p = predicted[i];
    KZ_CHECK(t >= 0 && t <= K, "openset", "true label {} of image {} is not in [0, {}]", t, i, K);
    KZ_CHECK(p >= 0 && p < K, "openset", "predicted class {} of image {} is not in [0, {})", p, i,
             K);
    const bool flagged = max_cosine[i] < threshold;
    scores[i] = 1.0 - max_cosine[i];
    is_unknown[i] = t == K ? 1 : 0;
    ++m.confusion[static_cast<size_t>(t)][static_cast<size_t>(flagged ? K : p)];
    if (t < K) {
      ++known;
      closed_right += p == t;
      known_kept += !flagged;
      open_right += !flagged && p == t;
    } else {
      ++unknown;
      unknown_flagged += flagged;
      open_right += flagged;
    }
  }
  KZ_CHECK(known > 0 && unknown > 0, "openset",
           "the test set needs known and unknown images, got {} and {}", known, unknown);
  m.closed_set_accuracy = fraction(closed_right, known);
  m.auroc = roc_auc(scores, is_unknown);
  m.open_set_accuracy = fraction(open_right, known + unknown);
  m.true_known_rate = fraction(known_kept, known);
  m.unknown_detection_rate = fraction(unknown_flagged, unknown);
  return m;
}

OpenSetResult run_openset(const OpenSetOptions& o, const TrainTest& data,
                          const OpenSetCallbacks& callbacks) {
  const auto start = std::chrono::steady_clock::now();
  auto stage = [&](const std::string& what) {
    if (callbacks.stage) callbacks.stage(what);
  };
  const MethodInfo& info = method_info(o.method.name);
  KZ_CHECK(info.kind == MethodKind::embedding && info.uses_reference, "openset",
           "--method {} does not classify the known classes: use l2softmax, arcface, adacos or "
           "adacos-fixed", o.method.name);
  KZ_CHECK(o.true_known_rate > 0.0 && o.true_known_rate <= 1.0, "openset",
           "true-known rate {} is not in (0, 1]", o.true_known_rate);
  const std::vector<int64_t> unknown =
      parse_unknown_classes(o.unknown, data.train.class_names, "--unknown");
  const OpenSetSplit split =
      openset_split(data, unknown, o.n_train_per_class, o.n_held_out_per_class,
                    o.n_test_known_per_class, o.n_test_unknown_per_class, o.seed);
  const auto K = static_cast<int64_t>(split.known_classes.size());

  OpenSetResult r;
  r.settings = {{"dataset", o.dataset},
                {"data_dir", o.data_dir},
                {"preset", o.preset},
                {"unknown", o.unknown},
                {"n_train_per_class", o.n_train_per_class},
                {"n_held_out_per_class", o.n_held_out_per_class},
                {"n_test_known_per_class", o.n_test_known_per_class},
                {"n_test_unknown_per_class", o.n_test_unknown_per_class},
                {"true_known_rate", o.true_known_rate},
                {"kmeans_restarts", o.kmeans_restarts},
                {"center", o.center},
                {"seed", o.seed},
                {"method", method_options_json(o.method)}};
  r.environment = environment();
  r.class_names = data.train.class_names;
  r.known_classes = split.known_classes;
  r.unknown_classes = split.unknown_classes;
  const ImageDataset training = classifier_training_set(split.training);
  r.n_train = training.size();
  r.n_held_out = split.held_out.size();

  stage(fmt::format("training {} on {} images of {} known classes", o.method.name, r.n_train, K));
  std::unique_ptr<Method> method = make_method(o.method);
  method->train(split.training, o.seed, callbacks.progress);
  r.train_seconds = method->train_seconds();

  stage("embedding the training, held-out and test images");
  const Tensor train_features = method->embed(training);
  const Tensor raw_test_features = method->embed(split.test);
  // The head's own closed-set accuracy, for comparison with the nearest centre.
  int64_t head_right = 0, known_test = 0;
  {
    const Tensor logits = method->class_logits(raw_test_features).contiguous();
    for (int64_t i = 0; i < split.test.size(); ++i) {
      const int64_t t = split.test.labels[static_cast<size_t>(i)];
      if (t == K) continue;
      ++known_test;
      const float* l = logits.data() + i * K;
      head_right += std::max_element(l, l + K) - l == t;
    }
  }
  // With `center`, the mean training feature is taken off every feature.
  std::vector<float> mean(static_cast<size_t>(train_features.size(1)), 0.0f);
  if (o.center) {
    const Tensor tf = train_features.contiguous();
    const int64_t n = tf.size(0), f = tf.size(1);
    std::vector<double> sum(static_cast<size_t>(f), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < f; ++j) sum[static_cast<size_t>(j)] += tf.data()[i * f + j];
    for (int64_t j = 0; j < f; ++j)
      mean[static_cast<size_t>(j)] = static_cast<float>(sum[static_cast<size_t>(j)] / static_cast<double>(n));
  }
  auto centred = [&](const Tensor& x) {
    if (!o.center) return x;
    Tensor y = x.contiguous().clone();
    const int64_t n = y.size(0), f = y.size(1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < f; ++j) y.data()[i * f + j] -= mean[static_cast<size_t>(j)];
    return y;
  };
  const Tensor centres = class_centres(centred(train_features), training.labels, K);
  std::vector<int64_t> held_pred, test_pred;
  std::vector<double> held_cos, test_cos;
  nearest_centre(centred(method->embed(split.held_out)), centres, held_pred, held_cos);
  r.threshold = known_rate_threshold(held_cos, o.true_known_rate);
  int64_t kept = 0;
  for (double c : held_cos) kept += c >= r.threshold;
  r.held_out_known_rate = fraction(kept, static_cast<int64_t>(held_cos.size()));
  const Tensor test_features = centred(raw_test_features);
  nearest_centre(test_features, centres, test_pred, test_cos);
  r.metrics = open_set_metrics(split.test.labels, test_pred, test_cos, r.threshold, K);
  r.metrics.head_accuracy = fraction(head_right, known_test);
  for (size_t i = 0; i < test_pred.size(); ++i) {
    OpenSetPrediction p;
    p.test_index = split.test_index[i];
    p.original = split.test_original[i];
    p.label = split.test.labels[i];
    p.predicted = test_pred[i];
    p.max_cosine = test_cos[i];
    p.flagged = test_cos[i] < r.threshold;
    r.predictions.push_back(p);
  }

  // Modes: cluster the flagged images' unit features into U kinds.
  const auto U = static_cast<int64_t>(split.unknown_classes.size());
  std::vector<int64_t> flagged;
  for (size_t i = 0; i < r.predictions.size(); ++i)
    if (r.predictions[i].flagged) flagged.push_back(static_cast<int64_t>(i));
  r.modes.flagged = static_cast<int64_t>(flagged.size());
  if (U < 2) {
    r.modes.skipped = "one unknown class: nothing to tell apart";
  } else if (r.modes.flagged < std::max<int64_t>(U, 3)) {
    r.modes.skipped = fmt::format("{} flagged images: too few for {} clusters", r.modes.flagged, U);
  } else {
    stage(fmt::format("clustering the {} flagged images into {} kinds", r.modes.flagged, U));
    int64_t n = 0, f = 0;
    const std::vector<double> unit = unit_rows(test_features, n, f);
    std::vector<float> rows;
    for (int64_t i : flagged)
      rows.insert(rows.end(), unit.begin() + i * f, unit.begin() + (i + 1) * f);
    const Tensor x = Tensor::from_vector(rows, {r.modes.flagged, f});
    Generator gen(o.seed, /*stream=*/91);
    const KMeansResult km = kmeans(x, KMeansOptions{U, o.kmeans_restarts, 300}, gen);
    const Pca pca = fit_pca(x, 2);
    const Tensor xy = pca.project(x);
    std::vector<int64_t> truth, truth_u, clusters_u;
    for (size_t j = 0; j < flagged.size(); ++j) {
      OpenSetPrediction& p = r.predictions[static_cast<size_t>(flagged[j])];
      p.cluster = km.labels[j];
      p.pc1 = xy.data()[2 * j];
      p.pc2 = xy.data()[2 * j + 1];
      truth.push_back(p.original);
      if (p.label == K) {
        truth_u.push_back(p.original);
        clusters_u.push_back(p.cluster);
      }
    }
    r.modes.k = U;
    r.modes.inertia = km.inertia;
    r.modes.purity = cluster_purity(truth, km.labels);
    r.modes.ari = adjusted_rand_index(truth, km.labels);
    r.modes.flagged_unknown = static_cast<int64_t>(truth_u.size());
    if (!truth_u.empty()) {
      r.modes.purity_unknown = cluster_purity(truth_u, clusters_u);
      r.modes.ari_unknown = adjusted_rand_index(truth_u, clusters_u);
    }
  }
  r.total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

namespace {

// The decision's name of a prediction: its class, or "unknown".
std::string decision_name(const OpenSetResult& r, const OpenSetPrediction& p) {
  return p.flagged ? "unknown"
                   : r.class_names[static_cast<size_t>(r.known_classes[static_cast<size_t>(p.predicted)])];
}

// Row and column names of the confusion matrix: the known classes, then "unknown".
std::vector<std::string> confusion_names(const OpenSetResult& r) {
  std::vector<std::string> names;
  for (int64_t c : r.known_classes) names.push_back(r.class_names[static_cast<size_t>(c)]);
  names.push_back("unknown");
  return names;
}

nlohmann::ordered_json result_json(const OpenSetResult& r) {
  nlohmann::ordered_json j;
  j["settings"] = r.settings;
  j["environment"] = r.environment;
  std::vector<std::string> known, unknown;
  for (int64_t c : r.known_classes) known.push_back(r.class_names[static_cast<size_t>(c)]);
  for (int64_t c : r.unknown_classes) unknown.push_back(r.class_names[static_cast<size_t>(c)]);
  j["known_classes"] = known;
  j["unknown_classes"] = unknown;
  j["n_train"] = r.n_train;
  j["n_held_out"] = r.n_held_out;
  j["n_test"] = r.predictions.size();
  j["threshold"] = r.threshold;
  j["held_out_known_rate"] = r.held_out_known_rate;
  const OpenSetMetrics& m = r.metrics;
  j["metrics"] = {{"closed_set_accuracy", m.closed_set_accuracy},
                  {"auroc", m.auroc},
                  {"open_set_accuracy", m.open_set_accuracy},
                  {"true_known_rate", m.true_known_rate},
                  {"unknown_detection_rate", m.unknown_detection_rate},
                  {"head_accuracy", m.head_accuracy}};
  j["confusion"] = {{"rows_true_columns_decided", confusion_names(r)}, {"counts", m.confusion}};
  nlohmann::ordered_json modes;
  if (r.modes.k > 0) {
    modes["k"] = r.modes.k;
    modes["flagged"] = r.modes.flagged;
    modes["flagged_unknown"] = r.modes.flagged_unknown;
    modes["purity"] = r.modes.purity;
    modes["adjusted_rand_index"] = r.modes.ari;
    modes["purity_unknown"] = r.modes.purity_unknown;
    modes["adjusted_rand_index_unknown"] = r.modes.ari_unknown;
    modes["inertia"] = r.modes.inertia;
  } else {
    modes["skipped"] = r.modes.skipped;
  }
  j["modes"] = modes;
  j["train_seconds"] = r.train_seconds;
  j["total_seconds"] = r.total_seconds;
  return j;
}

std::string predictions_csv(const OpenSetResult& r) {
  std::string out =
      "test_index,true_class,unknown,predicted_class,max_cosine,flagged,decision,correct,"
      "cluster,pc1,pc2\n";
  const auto K = static_cast<int64_t>(r.known_classes.size());
  for (const OpenSetPrediction& p : r.predictions) {
    const bool correct = p.label == K ? p.flagged : (!p.flagged && p.predicted == p.label);
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{}\n", p.test_index,
        csv_field(r.class_names[static_cast<size_t>(p.original)]), p.label == K ? 1 : 0,
        csv_field(r.class_names[static_cast<size_t>(r.known_classes[static_cast<size_t>(p.predicted)])]),
        p.max_cosine, p.flagged ? 1 : 0, csv_field(decision_name(r, p)), correct ? 1 : 0,
        p.cluster, p.cluster >= 0 ? fmt::format("{}", p.pc1) : "",
        p.cluster >= 0 ? fmt::format("{}", p.pc2) : "");
  }
  return out;
}

// Rows: true class; columns: decision; each cell shaded by its share of the row.
Svg confusion_figure(const OpenSetResult& r) {
  const std::vector<std::string> names = confusion_names(r);
  const auto n = static_cast<double>(names.size());
  const double cell = 44.0, left = 110.0, top = 110.0;
  Svg svg(left + n * cell + 20.0, top + n * cell + 40.0);
  svg.text(left + n * cell / 2, 18, "decision (predicted class, or unknown when flagged)",
           R"(text-anchor="middle" font-size="12")");
  svg.text_vertical(14, top + n * cell / 2, "true class", R"(text-anchor="middle" font-size="12")");
  for (size_t i = 0; i < names.size(); ++i) {
    const double pos = static_cast<double>(i) * cell + cell / 2;
    svg.text(left - 6, top + pos + 4, names[i], R"(text-anchor="end" font-size="11")");
    svg.raw(fmt::format(R"x(<text x="{}" y="{}" font-size="11" transform="rotate(-45 {} {})">{}</text>)x",
                        svg_num(left + pos), svg_num(top - 6), svg_num(left + pos),
                        svg_num(top - 6), xml_escape(names[i])));
    svg.raw("\n");
    int64_t row_total = 0;
    for (int64_t v : r.metrics.confusion[i]) row_total += v;
    for (size_t j = 0; j < names.size(); ++j) {
      const int64_t v = r.metrics.confusion[i][j];
      const double share = fraction(v, row_total);
      const int shade = static_cast<int>(std::lround(255.0 - 200.0 * share));
      const double x = left + static_cast<double>(j) * cell, y = top + static_cast<double>(i) * cell;
      svg.open_group();
      svg.rect(x, y, cell, cell,
               fmt::format(R"x(fill="rgb({},{},255)" stroke="{}")x", shade, shade,
                           i == j ? "#333" : "#ccc"));
      svg.tooltip(fmt::format("{} → {}: {} of {}", names[i], names[j], v, row_total));
      svg.close_group();
      svg.text(x + cell / 2, y + cell / 2 + 4, std::to_string(v),
               fmt::format(R"(text-anchor="middle" font-size="11" fill="{}")",
                           share > 0.6 ? "#fff" : "#000"));
    }
  }
  return svg;
}

// The flagged images in the plane of their first two principal components: colour = cluster,
// marker = true class.
Svg clusters_figure(const OpenSetResult& r) {
  std::vector<const OpenSetPrediction*> pts;
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  for (const OpenSetPrediction& p : r.predictions) {
    if (p.cluster < 0) continue;
    if (pts.empty()) {
      x0 = x1 = p.pc1;
      y0 = y1 = p.pc2;
    }
    x0 = std::min(x0, p.pc1);
    x1 = std::max(x1, p.pc1);
    y0 = std::min(y0, p.pc2);
    y1 = std::max(y1, p.pc2);
    pts.push_back(&p);
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const double W = 520, H = 420, left = 60, right = 200, top = 30, bottom = 50;
  Svg svg(W + left + right, H + top + bottom);
  const NiceAxis ax = nice_axis(x0, x1), ay = nice_axis(y0, y1);
  const LinearScale sx{ax.lo, ax.hi, left, left + W}, sy{ay.lo, ay.hi, top + H, top};
  svg.axis_bottom(sx, ax, top + H, top, top + H);
  svg.axis_left(sy, ay, left, left, left + W);
  svg.text(left + W / 2, top + H + 40, "principal component 1", R"(text-anchor="middle" font-size="12")");
  svg.text_vertical(16, top + H / 2, "principal component 2", R"(text-anchor="middle" font-size="12")");
  svg.text(left + W / 2, 18,
           fmt::format("flagged images: k-means clusters (colour) and true classes (marker); "
                       "purity {:.3f}, ARI {:.3f}", r.modes.purity, r.modes.ari),
           R"(text-anchor="middle" font-size="12")");
  // Markers by true class: the classes present, in label order.
  std::vector<int64_t> classes;
  for (const OpenSetPrediction* p : pts) classes.push_back(p->original);
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  auto marker = [&](double x, double y, size_t shape, const std::string& colour) {
    const std::string line = fmt::format(R"(stroke="{}" stroke-width="1.2")", colour);
    const std::string a = R"(fill="none" )" + line;  // polyline sets fill="none" itself
    switch (shape % 4) {
      case 0: svg.circle(x, y, 3.5, a); break;
      case 1: svg.rect(x - 3, y - 3, 6, 6, a); break;
      case 2:
        svg.polyline({{x, y - 4}, {x + 4, y + 3}, {x - 4, y + 3}, {x, y - 4}}, line);
        break;
      default:
        svg.line(x - 3.5, y - 3.5, x + 3.5, y + 3.5, a);
        svg.line(x - 3.5, y + 3.5, x + 3.5, y - 3.5, a);
    }
  };
  for (const OpenSetPrediction* p : pts) {
    const auto shape = static_cast<size_t>(
        std::find(classes.begin(), classes.end(), p->original) - classes.begin());
    marker(sx(p->pc1), sy(p->pc2), shape, palette_colour(static_cast<size_t>(p->cluster)));
  }
  double ly = top + 10;
  svg.text(left + W + 20, ly, "true class (marker)", R"(font-size="12" font-weight="bold")");
  for (size_t s = 0; s < classes.size(); ++s) {
    ly += 18;
    marker(left + W + 28, ly - 4, s, "#333");
    svg.text(left + W + 40, ly, r.class_names[static_cast<size_t>(classes[s])], R"(font-size="12")");
  }
  ly += 30;
  svg.text(left + W + 20, ly, "cluster (colour)", R"(font-size="12" font-weight="bold")");
  for (int64_t c = 0; c < r.modes.k; ++c) {
    ly += 18;
    svg.rect(left + W + 24, ly - 9, 9, 9,
             fmt::format(R"(fill="{}")", palette_colour(static_cast<size_t>(c))));
    svg.text(left + W + 40, ly, fmt::format("cluster {}", c), R"(font-size="12")");
  }
  return svg;
}

}  // namespace

std::string format_openset_summary(const OpenSetResult& r) {
  const OpenSetMetrics& m = r.metrics;
  std::vector<std::string> unknown;
  for (int64_t c : r.unknown_classes) unknown.push_back(r.class_names[static_cast<size_t>(c)]);
  std::string s = fmt::format(
      "open set: {} known classes, unknown {}; {} training, {} held-out, {} test images\n"
      "threshold on the max cosine {:.6f} (held-out true-known rate {:.3f})\n"
      "closed-set accuracy (known test images)   {:.4f}\n"
      "AUROC known vs unknown (1 - max cosine)   {:.4f}\n"
      "open-set accuracy                         {:.4f}\n"
      "true-known rate on the test set           {:.4f}\n"
      "unknown detection rate                    {:.4f}\n"
      "the head's closed-set accuracy (argmax)   {:.4f}\n",
      r.known_classes.size(), fmt::join(unknown, "+"), r.n_train, r.n_held_out,
      r.predictions.size(), r.threshold, r.held_out_known_rate, m.closed_set_accuracy, m.auroc,
      m.open_set_accuracy, m.true_known_rate, m.unknown_detection_rate, m.head_accuracy);
  const std::vector<std::string> names = confusion_names(r);
  s += "confusion matrix (rows: true class; columns: decision)\n";
  s += fmt::format("{:>12}", "");
  for (const std::string& n : names) s += fmt::format(" {:>9.9}", n);
  s += "\n";
  for (size_t i = 0; i < names.size(); ++i) {
    s += fmt::format("{:>12.12}", names[i]);
    for (int64_t v : m.confusion[i]) s += fmt::format(" {:>9}", v);
    s += "\n";
  }
  if (r.modes.k > 0)
    s += fmt::format(
        "modes: k-means k={} on {} flagged images: purity {:.4f}, ARI {:.4f}; on the {} truly "
        "unknown among them: purity {:.4f}, ARI {:.4f}\n",
        r.modes.k, r.modes.flagged, r.modes.purity, r.modes.ari, r.modes.flagged_unknown,
        r.modes.purity_unknown, r.modes.ari_unknown);
  else
    s += fmt::format("modes: not clustered ({})\n", r.modes.skipped);
  return s;
}

void write_openset_report(const std::string& dir, const OpenSetResult& r) {
  std::filesystem::create_directories(dir);
  const std::string base = (std::filesystem::path(dir) / "").string();
  write_file_atomic(base + "results.json", result_json(r).dump(2) + "\n");
  write_file_atomic(base + "predictions.csv", predictions_csv(r));
  const Svg confusion = confusion_figure(r);
  write_file_atomic(base + "confusion.svg", confusion.document());
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>kizuki open "
                     "set</title></head>\n<body style=\"font-family:sans-serif\">\n"
                     "<h1>Open set</h1>\n<pre>" + xml_escape(format_openset_summary(r)) +
                     "</pre>\n<h2>Confusion matrix</h2>\n" + confusion.element(false) + "\n";
  if (r.modes.k > 0) {
    const Svg clusters = clusters_figure(r);
    write_file_atomic(base + "clusters.svg", clusters.document());
    html += "<h2>Modes of the flagged images (2-D PCA)</h2>\n" + clusters.element(false) + "\n";
  }
  html += "</body></html>\n";
  write_file_atomic(base + "report.html", html);
}

}  // namespace kz
