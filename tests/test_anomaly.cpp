// test_anomaly.cpp — the methods and the benchmark runner end to end on a tiny synthetic
// data set: every method trains, its features separate an anomaly class that is easy to
// see, the same seed gives the same AUC, and bad settings are refused clearly.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "anomaly/roc.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"
#include "tensor/generator.h"
#include "tensor/safetensors.h"
#include "tests/synthetic_data.h"

using namespace kz;
using kz::test::synthetic;
using kz::test::tiny_method;
using kz::test::tiny_split;

namespace {

double auc_of(Method& method, const BenchmarkSplit& split, const std::string& scorer) {
  const Tensor train = method.embed(split.normal_train), test = method.embed(split.test);
  CHECK(train.shape() == Shape{30, method.feature_dim()});
  CHECK(test.shape() == Shape{40, method.feature_dim()});
  const std::vector<float> s = score_features(scorer, train, test, 5).to_vector();
  return roc_auc(std::vector<double>(s.begin(), s.end()),
                 std::vector<int>(split.test.labels.begin(), split.test.labels.end()));
}

}  // namespace

TEST_CASE("anomaly: every method trains end to end and its loss falls") {
  const BenchmarkSplit split = tiny_split(0);
  for (const std::string name : {"doc", "l2softmax", "arcface", "adacos", "adacos-fixed", "frozen", "twin", "cutpaste"}) {
    CAPTURE(name);
    MethodOptions o = tiny_method(name);
    o.epochs = 8;  // ArcFace's epoch loss on 80 images moves by ±0.1 from epoch to epoch: 3
                   // epochs can rise by rounding alone (3.81 → 3.84), 8 fall well (→ 3.31)
    std::unique_ptr<Method> method = make_method(o);
    std::vector<double> epoch_loss;
    method->train(split, 7, [&](const TrainProgress& p) {
      CHECK(std::isfinite(p.loss));
      CHECK(p.images_per_second > 0.0);
      if (p.epoch_end) epoch_loss.push_back(p.loss);
    });
    if (name == "frozen") {
      CHECK(epoch_loss.empty());
    } else {
      REQUIRE(epoch_loss.size() == static_cast<size_t>(o.epochs));
      std::string losses;
      for (const double l : epoch_loss) losses += " " + std::to_string(l);
      MESSAGE(name << " loss by epoch:" << losses);
      // twin's task here is a line of at most 12/5 px on 12-px images, drawn afresh every
      // epoch: at chance in kizuki and in its PyTorch twin alike (docs/results.md), so its
      // epoch loss wanders (1.82 → 2.27 over 8 epochs) and only its end-to-end run is checked.
      // cutpaste's likewise (fresh cut-paste patches every epoch on 12-px images): 8 epochs
      // wander in 0.83–1.15 with no trend, and whether the last lies below the first is
      // decided by rounding: 1.04 → 0.89 with oneDNN's AVX-512 kernels, 0.96 → 1.06 with its
      // AVX2 ones (DNNL_MAX_CPU_ISA=AVX2, the same binary; issue 23).
      if (name != "twin" && name != "cutpaste") CHECK(epoch_loss.back() < epoch_loss.front());
    }
    const double auc = auc_of(*method, split, method->default_scorer());
    MESSAGE(name << " AUC " << auc);
    CHECK(auc >= 0.0);
    CHECK(auc <= 1.0);
  }
}

TEST_CASE("anomaly: the same seed gives the same AUC, another seed another") {
  const BenchmarkSplit split = tiny_split(0);
  auto run = [&](uint64_t seed, std::vector<float>* features) {
    std::unique_ptr<Method> m = make_method(tiny_method("arcface"));
    m->train(split, seed, nullptr);
    *features = m->embed(split.test).to_vector();
    return auc_of(*m, split, "lof");
  };
  std::vector<float> fa, fb, fc;
  const double a = run(3, &fa), b = run(3, &fb);
  run(4, &fc);
  CHECK(a == b);
  CHECK(fa == fb);
  CHECK(fa != fc);  // another seed trains another network (its AUC may still tie at 1)
}

TEST_CASE("anomaly: bad settings are refused with a clear message") {
  CHECK_THROWS_WITH_AS(make_method(tiny_method("svm")), doctest::Contains("unknown method 'svm'"), Error);
  CHECK_THROWS_WITH_AS(preset_options("seed", "cifar10", {"doc"}, ""),
                       doctest::Contains("--preset seed needs --pretrained"), Error);
  CHECK_THROWS_WITH_AS(preset_options("fast", "cifar10", {"doc"}, ""),
                       doctest::Contains("unknown --preset 'fast'"), Error);
  MethodOptions o = tiny_method("l2softmax");
  o.optimizer = "rmsprop";
  std::unique_ptr<Method> m = make_method(o);
  CHECK_THROWS_WITH_AS(m->train(tiny_split(0), 0, nullptr),
                       doctest::Contains("unknown optimizer 'rmsprop'"), Error);
  CHECK_THROWS_WITH_AS(make_method(tiny_method("doc"))->embed(tiny_split(0).test),
                       doctest::Contains("has not been trained"), Error);
}

TEST_CASE("anomaly: a diverging loss stops training and says why") {
  MethodOptions o = tiny_method("l2softmax");
  o.lr = 1e30;  // the first step sends the weights to infinity
  o.optimizer = "sgd";
  o.epochs = 3;
  std::unique_ptr<Method> m = make_method(o);
  CHECK_THROWS_WITH_AS(m->train(tiny_split(0), 0, nullptr),
                       doctest::Contains("training diverged"), Error);
}

namespace {
// Normal images = class 3 of the synthetic set, reference = classes 0, 1, 2 relabelled.
void model_data(ImageDataset* normal, ImageDataset* reference) {
  const ImageDataset all = synthetic(12, 5);
  std::vector<int64_t> n, r;
  for (int64_t i = 0; i < all.size(); ++i) {
    if (all.labels[size_t(i)] == 3) n.push_back(i);
    if (all.labels[size_t(i)] < 3) r.push_back(i);
  }
  *normal = all.subset(n);
  *reference = all.subset(r);
  reference->class_names = {"c0", "c1", "c2"};
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kizuki_test_" + name)).string();
}
}  // namespace

TEST_CASE("anomaly: model.kz round trip scores identically, flags by threshold, predicts classes") {
  ImageDataset normal, reference;
  model_data(&normal, &reference);
  TrainModelOptions o;
  o.method = tiny_method("l2softmax");
  o.scorer = "lof";
  const AnomalyModel model = train_model(normal, reference, o, nullptr);
  CHECK(model.class_names == std::vector<std::string>{"c0", "c1", "c2", "normal"});
  const std::string path = temp_path("model.kz");
  save_model(path, model);
  const AnomalyModel loaded = load_model(path);
  const ImageDataset probe = synthetic(2, 9);
  const AnomalyModel::Scores a = model.score(probe), b = loaded.score(probe);
  CHECK(a.score == b.score);
  CHECK(a.predicted == b.predicted);
  CHECK(loaded.threshold == model.threshold);
  for (size_t i = 0; i < a.score.size(); ++i) CHECK(a.flagged[i] == (a.score[i] > model.threshold));
  std::filesystem::remove(path);
}

// A model file as kizuki wrote it before scoring methods existed (format_version 1: the
// MobileNetV2 settings flat in the config, no "architecture"), made from a current file by
// rewriting its metadata as version 1 laid it out; it loads and scores the same.
TEST_CASE("anomaly: a version-1 model.kz still loads") {
  ImageDataset normal, reference;
  model_data(&normal, &reference);
  TrainModelOptions o;
  o.method = tiny_method("l2softmax");
  o.method.epochs = 1;
  const AnomalyModel model = train_model(normal, reference, o, nullptr);
  const std::string path = temp_path("v1.kz");
  save_model(path, model);
  Safetensors st = load_safetensors(path);
  const nlohmann::json v2 = nlohmann::json::parse(st.metadata.at("config"));
  const nlohmann::json v1 = {{"method", "l2softmax"},
                             {"width", 0.25},
                             {"bn_eps", v2["architecture"]["bn_eps"]},
                             {"padding", "symmetric"},
                             {"image_height", 16},
                             {"image_width", 16},
                             {"rgb", true},
                             {"scaling", "unit"},
                             {"alpha", 15.0},
                             {"arcface_s", 30.0},
                             {"arcface_m", 0.05},
                             {"scaler", v2["scaler"]},
                             {"scorer", v2["scorer"]},
                             {"neighbors", v2["neighbors"]},
                             {"threshold", v2["threshold"]},
                             {"class_names", v2["class_names"]}};
  save_safetensors(path, st.tensors,
                   {{"format", "kizuki-model"}, {"format_version", "1"}, {"config", v1.dump()}});
  const AnomalyModel loaded = load_model(path);
  CHECK(loaded.method->name() == "l2softmax");
  CHECK(loaded.method->options().alpha == 15.0);
  const ImageDataset probe = synthetic(2, 9);
  CHECK(loaded.score(probe).score == model.score(probe).score);
  CHECK(loaded.score(probe).predicted == model.score(probe).predicted);
  // A version this kizuki does not know.
  save_safetensors(path, st.tensors,
                   {{"format", "kizuki-model"}, {"format_version", "3"}, {"config", v1.dump()}});
  CHECK_THROWS_WITH_AS(load_model(path),
                       doctest::Contains("format_version 3 is newer than this build reads"), Error);
  std::filesystem::remove(path);
}

TEST_CASE("anomaly: a corrupt or mismatched model.kz gives one clear error") {
  ImageDataset normal, reference;
  model_data(&normal, &reference);
  TrainModelOptions o;
  o.method = tiny_method("arcface");
  o.method.epochs = 1;
  const std::string path = temp_path("good.kz"), bad = temp_path("bad.kz");
  save_model(path, train_model(normal, reference, o, nullptr));
  const std::string bytes = read_file(path);

  write_file_atomic(bad, bytes.substr(0, bytes.size() / 2));  // truncated
  CHECK_THROWS_WITH_AS(load_model(bad), doctest::Contains(bad.c_str()), Error);

  // A safetensors file that is not a model.
  save_safetensors(bad, {{"x", Tensor::ones({2})}});
  CHECK_THROWS_WITH_AS(load_model(bad), doctest::Contains("not a kizuki model"), Error);

  // The config says width 0.5 but the weights are width 0.25: the sizes do not match.
  Safetensors st = load_safetensors(path);
  auto with_config = [&](const std::string& from, const std::string& to) {
    std::map<std::string, std::string> meta = st.metadata;
    const size_t at = meta["config"].find(from);
    REQUIRE(at != std::string::npos);
    meta["config"].replace(at, from.size(), to);
    save_safetensors(bad, st.tensors, meta);
  };
  with_config("\"width\":0.25", "\"width\":0.5");  // the architecture's (it comes first)
  CHECK_THROWS_WITH_AS(load_model(bad),
                       doctest::Contains("networks do not match its config: [method] arcface's "
                                         "backbone: [load_state_dict]"),
                       Error);
  with_config("\"image_size\":16", "\"image_size\":0");
  CHECK_THROWS_WITH_AS(load_model(bad), doctest::Contains("image size 0x0"), Error);
  with_config("\"name\":\"arcface\"", "\"name\":\"svm\"");
  CHECK_THROWS_WITH_AS(load_model(bad), doctest::Contains("unknown method 'svm'"), Error);
  with_config("\"head_classes\":4", "\"head_classes\":3");
  CHECK_THROWS_WITH_AS(load_model(bad), doctest::Contains("3 head classes but it names 4"), Error);
  with_config("\"scorer\":\"cosine\"", "\"scorer\":\"magic\"");
  CHECK_THROWS_WITH_AS(load_model(bad), doctest::Contains(bad.c_str()), Error);
  std::filesystem::remove(path);
  std::filesystem::remove(bad);
}

// --tta flip against a direct computation: the mirror images made here pixel by pixel, each
// feature the mean of the two embeddings.
TEST_CASE("anomaly: --tta flip embeds each image as the mean of its and its mirror image's features") {
  const BenchmarkSplit split = tiny_split(0);
  std::unique_ptr<Method> m = make_method(tiny_method("frozen"));
  m->train(split, 3, nullptr);
  const ImageDataset& data = split.test;
  ImageDataset mirror = data;
  const int64_t w = data.width;
  for (int64_t row = 0; row < data.size() * data.channels * data.height; ++row)
    for (int64_t x = 0; x < w; ++x)
      mirror.pixels[size_t(row * w + x)] = data.pixels[size_t(row * w + (w - 1 - x))];
  CHECK(flip_horizontal(data).pixels == mirror.pixels);
  const std::vector<float> a = m->embed(data).to_vector(), b = m->embed(mirror).to_vector();
  const std::vector<float> got = embed_features(*m, data, "flip").to_vector();
  REQUIRE(got.size() == a.size());
  double diff = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i] == (a[i] + b[i]) / 2);  // halving is exact in binary floating point
    diff = std::max(diff, std::abs(double(a[i]) - b[i]));
  }
  double largest = 0;
  for (float v : a) largest = std::max(largest, double(std::abs(v)));
  // The images are not symmetric: the mirror's features differ (relative to their size,
  // which is tiny for an untrained network in eval mode).
  CHECK(diff > 1e-2 * largest);
  CHECK(embed_features(*m, data, "none").to_vector() == a);
  CHECK_THROWS_WITH_AS(embed_features(*m, data, "rotate"),
                       doctest::Contains("unknown test-time augmentation 'rotate'"), Error);

  ExperimentOptions o;
  o.scorers = {"cosine", "knn"};
  o.knn_neighbors = 2;
  o.center = true;
  o.tta = "flip";
  const auto scored = test_scores(*m, split, o);
  REQUIRE(scored.size() == 2);
  CHECK(scored[0].first == "cosine(centred,flip)");
  CHECK(scored[1].first == "knn(k=2,flip)");
  const Tensor train_f = embed_features(*m, split.normal_train, "flip");
  const Tensor test_f = embed_features(*m, split.test, "flip");
  CHECK(scored[0].second.to_vector() == score_features("cosine", train_f, test_f, 5, true).to_vector());
  CHECK(scored[1].second.to_vector() == score_features("knn", train_f, test_f, 2).to_vector());

  MethodOptions ae = tiny_method("ae");
  ae.latent_dim = 8;
  CHECK_THROWS_WITH_AS(embed_features(*make_method(ae), data, "flip"),
                       doctest::Contains("ae is a scoring method"), Error);
}

TEST_CASE("anomaly: model.kz keeps --center and --tta; they are refused where they mean nothing") {
  ImageDataset normal, reference;
  model_data(&normal, &reference);
  TrainModelOptions o;
  o.method = tiny_method("frozen");
  o.scorer = "cosine";
  o.center = true;
  o.tta = "flip";
  const AnomalyModel model = train_model(normal, reference, o, nullptr);
  CHECK(model.scaler_name == "center");
  CHECK(model.tta == "flip");
  const std::string path = temp_path("model_tta.kz");
  save_model(path, model);
  const AnomalyModel loaded = load_model(path);
  CHECK(loaded.scaler_name == "center");
  CHECK(loaded.tta == "flip");
  const ImageDataset probe = synthetic(2, 9);
  CHECK(loaded.score(probe).score == model.score(probe).score);
  std::filesystem::remove(path);

  TrainModelOptions bad = o;
  bad.scorer = "lof";
  CHECK_THROWS_WITH_AS(train_model(normal, reference, bad, nullptr),
                       doctest::Contains("--center changes only the cosine scorer"), Error);
  bad = o;
  bad.tta = "rotate";
  CHECK_THROWS_WITH_AS(train_model(normal, reference, bad, nullptr),
                       doctest::Contains("unknown test-time augmentation 'rotate'"), Error);
  bad = o;
  bad.center = false;
  bad.method = tiny_method("ae");
  bad.scorer.clear();
  CHECK_THROWS_WITH_AS(train_model(normal, reference, bad, nullptr),
                       doctest::Contains("--tta flip averages features, but --method ae is a "
                                         "scoring method"), Error);
  bad = o;
  bad.scorer = "knn";
  bad.center = false;
  bad.neighbors = 0;
  CHECK_THROWS_WITH_AS(train_model(normal, reference, bad, nullptr),
                       doctest::Contains("--knn-k must be at least 1"), Error);
}

TEST_CASE("anomaly: known anomalies come from the anomaly class's training images; deepsad and "
          "the classifiers use them") {
  const TrainTest data{synthetic(30, 1), synthetic(20, 2)};
  const BenchmarkSplit plain = tiny_split(0);
  const BenchmarkSplit split = with_known_anomalies(data, plain, 8, 5, 0);
  REQUIRE(split.known_anomalies.size() == 5);
  for (int64_t i : split.known_anomaly_index) CHECK(data.train.labels[static_cast<size_t>(i)] == 8);
  CHECK(split.known_anomalies.class_names == std::vector<std::string>{"known anomaly: c8"});
  // Every other set is the protocol's; the same seed draws the same images, another seed others.
  CHECK(split.normal_train_index == plain.normal_train_index);
  CHECK(split.test_index == plain.test_index);
  CHECK(split.reference_index == plain.reference_index);
  CHECK(with_known_anomalies(data, plain, 8, 5, 0).known_anomaly_index == split.known_anomaly_index);
  CHECK(with_known_anomalies(data, plain, 8, 5, 1).known_anomaly_index != split.known_anomaly_index);
  CHECK_THROWS_WITH_AS(with_known_anomalies(data, plain, 8, 31, 0),
                       doctest::Contains("31 known anomalies wanted, but class 8 has 30"), Error);

  // The classifiers: one class more.
  const std::vector<std::string> classes = make_method(tiny_method("arcface"))->head_classes(split);
  CHECK(classes.size() == plain.reference.class_names.size() + 1);
  CHECK(classes.back() == "known anomaly: c8");

  MethodOptions arc = tiny_method("arcface");
  arc.epochs = 1;
  std::unique_ptr<Method> arcface = make_method(arc);
  arcface->train(split, 5, nullptr);
  CHECK(arcface->class_logits(arcface->embed(split.known_anomalies)).size(1) ==
        static_cast<int64_t>(classes.size()));

  // deepsad: trains without and with them.
  for (const int64_t known : {0, 5}) {
    CAPTURE(known);
    const BenchmarkSplit s = known == 0 ? plain : split;
    MethodOptions o = tiny_method("deepsad");
    o.epochs = 6;
    std::unique_ptr<Method> m = make_method(o);
    std::vector<double> epoch_loss;
    m->train(s, 5, [&](const TrainProgress& p) {
      if (p.epoch_end) epoch_loss.push_back(p.loss);
    });
    REQUIRE(epoch_loss.size() == 6);
    MESSAGE("deepsad, " << known << " known anomalies: loss " << epoch_loss.front() << " -> "
                        << epoch_loss.back());
    CHECK(epoch_loss.back() < epoch_loss.front());
    const Tensor scores = m->score(s.test)[0];
    REQUIRE(scores.shape() == Shape{s.test.size()});
    for (float v : scores.to_vector()) CHECK((std::isfinite(v) && v >= 0.0f));
    const std::vector<float> sv = scores.to_vector();
    MESSAGE("deepsad AUC " << roc_auc(std::vector<double>(sv.begin(), sv.end()),
                                      std::vector<int>(s.test.labels.begin(), s.test.labels.end())));
    std::unique_ptr<Method> loaded = make_method(o);
    loaded->build_untrained(m->architecture());
    loaded->load_state_dict(m->state_dict());
    CHECK(max_abs_diff(loaded->score(s.test)[0], scores) == 0.0f);
  }
}
