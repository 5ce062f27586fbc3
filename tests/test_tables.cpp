// test_tables.cpp — tables through the benchmark: a table as a dataset (values instead of
// pixels), table_split's sets, sizes and standardisation (data/table_split.h), the iforest
// and identity methods, and run_benchmark / `kizuki benchmark --table` end to end on small
// synthetic CSV files written to a temporary folder; goad on a table (its random affine maps
// against the authors' numpy calls, tests/fixtures/make_affine_maps.py) and ensembles of
// table methods.
// Shape letters: N rows, F features.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "anomaly/roc.h"
#include "data/affine_maps.h"
#include "data/table_split.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/shell.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;
using kz::test::error_of;

namespace {

// A CSV of `per_class` rows of each class "a", "b", "c", "d" with F = 3 features: class a
// (the normal one in the tests) near (10, −5, 100) with widths (1, 2, 5), the others shifted
// by 6 widths in every feature (b up, c down, d up, down, up); an id column first, the label
// "kind" last.
std::string synthetic_csv(int per_class, uint64_t seed) {
  Generator gen(seed);
  std::string text = "id,x,y,z,kind\r\n";
  const char* classes[] = {"a", "b", "c", "d"};
  int id = 0;
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < per_class; ++i) {
      const double width[3] = {1, 2, 5};
      const int sign[4][3] = {{0, 0, 0}, {1, 1, 1}, {-1, -1, -1}, {1, -1, 1}};
      double v[3] = {10 + gen.normal(), -5 + 2 * gen.normal(), 100 + 5 * gen.normal()};
      for (int j = 0; j < 3; ++j) v[j] += 6 * width[j] * sign[c][j];
      text += fmt::format("{},{},{},{},{}\r\n", id++, v[0], v[1], v[2], classes[c]);
    }
  return text;
}

ImageDataset synthetic_table(int per_class, uint64_t seed) {
  CsvOptions o;
  o.label = "kind";
  o.drop = {"id"};
  return table_dataset(parse_csv(synthetic_csv(per_class, seed), o, "syn.csv"));
}

}  // namespace

TEST_CASE("tables: a table is a dataset of float rows") {
  const ImageDataset t = synthetic_table(5, 1);
  CHECK(t.table);
  CHECK(t.size() == 20);
  CHECK(t.channels == 3);
  CHECK(t.image_numel() == 3);
  CHECK(t.pixels.empty());
  const Tensor x = t.to_tensor(2, 3);
  CHECK(x.shape() == Shape{3, 3, 1, 1});
  const std::vector<float> xv = x.to_vector();
  CHECK(std::equal(xv.begin(), xv.end(), t.values.begin() + 6));
  const ImageDataset s = t.subset({4, 0});
  CHECK(s.table);
  CHECK(std::equal(s.values.begin(), s.values.begin() + 3, t.values.begin() + 12));
  CHECK(concat(s, s).values.size() == 12);
  ImageDataset images;
  images.channels = 3;
  images.height = images.width = 1;
  images.class_names = t.class_names;
  CHECK(error_of([&] { (void)concat(s, images); }).find("is a table but") != std::string::npos);
  CHECK(error_of([&] { (void)flip_horizontal(t); }).find("no left and right") !=
        std::string::npos);
  ImageDataset bad = t;
  bad.values.pop_back();
  CHECK(error_of([&] { bad.validate(); }).find("59 values") != std::string::npos);
}

TEST_CASE("tables: table_split's sets, sizes, classes and labels") {
  const ImageDataset rows = synthetic_table(40, 2);  // 160 rows, classes a b c d
  TableProtocol p;
  p.normal = "a";
  p.reference = {"c"};
  const BenchmarkSplit s = table_split(rows, p, 5);
  // Defaults: half the normal rows train, the other half test; every row of b and d
  // (unnamed, so anomalous) in the test; every row of c in the reference set.
  CHECK(s.normal_train.size() == 20);
  CHECK(s.test.size() == 20 + 80);
  CHECK(s.reference.size() == 40);
  CHECK(s.reference_classes == std::vector<int64_t>{2});
  CHECK(s.normal_train.class_names == std::vector<std::string>{"c", "a"});
  CHECK(std::all_of(s.normal_train.labels.begin(), s.normal_train.labels.end(),
                    [](int64_t l) { return l == 1; }));
  CHECK(s.test.class_names == std::vector<std::string>{"normal: a", "anomaly: b, d"});
  CHECK(std::count(s.test.labels.begin(), s.test.labels.end(), 1) == 80);
  // No row in two sets; each set's rows have the classes they should.
  std::set<int64_t> seen;
  for (const auto* idx : {&s.reference_index, &s.normal_train_index, &s.test_index})
    for (int64_t i : *idx) CHECK(seen.insert(i).second);
  for (size_t k = 0; k < s.test_index.size(); ++k) {
    const int64_t c = rows.labels[static_cast<size_t>(s.test_index[k])];
    CHECK(c == s.test_original[k]);
    CHECK((c == 0) == (s.test.labels[k] == 0));
    CHECK(c != 2);
  }
  // Sizes as asked; the same seed the same split, another seed another.
  p.anomaly = {"d"};
  p.n_normal_train = 10;
  p.n_test_normal = 5;
  p.n_test_anomaly = 7;
  p.n_reference_per_class = 3;
  const BenchmarkSplit a = table_split(rows, p, 9), b = table_split(rows, p, 9),
                       c = table_split(rows, p, 10);
  CHECK(a.normal_train.size() == 10);
  CHECK(a.test.size() == 12);
  CHECK(a.reference.size() == 3);
  CHECK(a.test_index == b.test_index);
  CHECK(a.test.values == b.test.values);
  CHECK(a.normal_train_index != c.normal_train_index);
  for (size_t k = 5; k < 12; ++k) CHECK(a.test_original[k] == 3);
}

TEST_CASE("tables: standardised with the normal training rows' mean and population std") {
  const ImageDataset rows = synthetic_table(30, 3);
  TableProtocol p;
  p.normal = "a";
  p.reference = {"b"};
  const BenchmarkSplit s = table_split(rows, p, 1);
  const int64_t f = 3, n = s.normal_train.size();
  std::vector<double> mean(3, 0), sd(3, 0);
  for (int64_t i : s.normal_train_index)
    for (int64_t j = 0; j < f; ++j) mean[j] += rows.values[static_cast<size_t>(i * f + j)];
  for (double& m : mean) m /= static_cast<double>(n);
  for (int64_t i : s.normal_train_index)
    for (int64_t j = 0; j < f; ++j)
      sd[j] += std::pow(rows.values[static_cast<size_t>(i * f + j)] - mean[j], 2);
  for (double& v : sd) v = std::sqrt(v / static_cast<double>(n));
  auto check_set = [&](const ImageDataset& d, const std::vector<int64_t>& index) {
    for (size_t k = 0; k < index.size(); ++k)
      for (int64_t j = 0; j < f; ++j)
        CHECK(d.values[k * 3 + static_cast<size_t>(j)] ==
              doctest::Approx((rows.values[static_cast<size_t>(index[k] * f + j)] - mean[j]) /
                              sd[j]).epsilon(1e-5));
  };
  check_set(s.normal_train, s.normal_train_index);
  check_set(s.test, s.test_index);
  check_set(s.reference, s.reference_index);
  // A constant feature is divided by 1, as StandardScaler does.
  CsvOptions o;
  o.label = "y";
  const ImageDataset flat =
      table_dataset(parse_csv("x,k,y\n1,7,n\n2,7,n\n3,7,n\n4,7,n\n9,7,m\n", o, "flat.csv"));
  TableProtocol q;
  q.normal = "n";
  const BenchmarkSplit fs = table_split(flat, q, 0);
  for (size_t k = 1; k < fs.test.values.size(); k += 2) CHECK(fs.test.values[k] == 0.0f);
}

TEST_CASE("tables: bad protocols are one clear error") {
  const ImageDataset rows = synthetic_table(10, 4);
  TableProtocol p;
  CHECK(error_of([&] { (void)table_split(rows, p, 0); }).find("no normal class") !=
        std::string::npos);
  p.normal = "zebra";
  CHECK(error_of([&] { (void)table_split(rows, p, 0); })
            .find("no row has the normal label 'zebra' (labels: a, b, c, d)") !=
        std::string::npos);
  p.normal = "a";
  p.anomaly = {"a"};
  CHECK(error_of([&] { (void)table_split(rows, p, 0); }).find("both normal and anomalous") !=
        std::string::npos);
  p.anomaly = {"b"};
  p.reference = {"b"};
  CHECK(error_of([&] { (void)table_split(rows, p, 0); }).find("named twice") !=
        std::string::npos);
  p.reference = {"b", "c", "d"};
  p.anomaly = {};
  CHECK(error_of([&] { (void)table_split(rows, p, 0); }).find("no anomaly class") !=
        std::string::npos);
  p.reference = {};
  p.n_normal_train = 9;
  p.n_test_normal = 2;
  CHECK(error_of([&] { (void)table_split(rows, p, 0); }).find("'a' has 10 rows") !=
        std::string::npos);
  p.n_normal_train = 5;
  p.n_test_anomaly = 31;
  CHECK(error_of([&] { (void)table_split(rows, p, 0); }).find("the anomaly classes have 30") !=
        std::string::npos);
}

TEST_CASE("tables: the classical detectors by name: lof and knn are the rows scored by LOF and k-NN") {
  const ImageDataset rows = synthetic_table(60, 5);
  TableProtocol p;
  p.normal = "a";
  const BenchmarkSplit s = table_split(rows, p, 3);
  ExperimentOptions o;
  o.methods = {"identity", "lof", "knn"};
  std::map<std::string, std::vector<std::pair<std::string, Tensor>>> scored;
  for (const std::string& name : o.methods) {
    MethodOptions m;
    m.name = name;
    std::unique_ptr<Method> method = make_method(m);
    method->train(s, 7, {});
    scored[name] = test_scores(*method, s, o);  // each its default scorer
    REQUIRE(scored[name].size() == 1);
    if (name == "identity") {  // and the rows under both scorers, asked for by name
      ExperimentOptions both = o;
      both.scorers = {"lof", "knn"};
      const auto two = test_scores(*method, s, both);
      REQUIRE(two.size() == 2);
      scored["identity-lof"] = {two[0]};
      scored["identity-knn"] = {two[1]};
    }
  }
  CHECK(scored["identity"][0].first == "lof");
  CHECK(scored["lof"][0].first == "lof");
  CHECK(scored["knn"][0].first == "knn");
  CHECK(scored["lof"][0].second.to_vector() == scored["identity-lof"][0].second.to_vector());
  CHECK(scored["knn"][0].second.to_vector() == scored["identity-knn"][0].second.to_vector());
  // Named after their scorer, they keep it when a run asks for other scorers too.
  ExperimentOptions many = o;
  many.scorers = {"cosine", "lof"};
  MethodOptions m;
  m.name = "knn";
  std::unique_ptr<Method> knn = make_method(m);
  knn->train(s, 7, {});
  CHECK(scorers_of(*knn, many) == std::vector<std::string>{"knn"});
  CHECK(test_scores(*knn, s, many).size() == 1);
  // kizuki train: another scorer for `lof` is refused, pointing at identity.
  TrainModelOptions t;
  t.method.name = "lof";
  t.scorer = "cosine";
  for (int64_t c = 0; c < s.normal_train.channels; ++c) t.table.features.push_back(fmt::format("x{}", c));
  CHECK_THROWS_WITH_AS(train_model(s.normal_train, ImageDataset{}, t, nullptr),
                       doctest::Contains("use --method identity"), Error);
  CHECK(scored["knn"][0].second.to_vector() != scored["lof"][0].second.to_vector());
}

TEST_CASE("tables: iforest and identity (LOF) separate shifted rows; model.kz keeps the forest") {
  const ImageDataset rows = synthetic_table(60, 5);
  TableProtocol p;
  p.normal = "a";
  const BenchmarkSplit s = table_split(rows, p, 3);
  ExperimentOptions o;
  o.methods = {"iforest", "identity"};
  for (const std::string name : {"iforest", "identity"}) {
    MethodOptions m;
    m.name = name;
    std::unique_ptr<Method> method = make_method(m);
    method->train(s, 7, {});
    const auto scored = test_scores(*method, s, o);
    REQUIRE(scored.size() == 1);
    CHECK(scored[0].first == (name == "iforest" ? "isolation" : "lof"));
    const std::vector<float> sv = scored[0].second.to_vector();
    const double auc = roc_auc(std::vector<double>(sv.begin(), sv.end()),
                               std::vector<int>(s.test.labels.begin(), s.test.labels.end()));
    MESSAGE(name << " AUC " << auc);
    CHECK(auc > 0.95);  // every anomaly is 6 widths out in every feature
  }
  // The forest survives its networks' state: a method built untrained from its
  // architecture and loaded with its state scores the same.
  MethodOptions m;
  m.name = "iforest";
  m.iforest_trees = 7;
  std::unique_ptr<Method> a = make_method(m), b = make_method(m);
  a->train(s, 1, {});
  b->build_untrained(a->architecture());
  b->load_state_dict(a->state_dict());
  CHECK(a->score(s.test)[0].to_vector() == b->score(s.test)[0].to_vector());
  CHECK(a->state_dict().at("forest.feature").shape() == Shape{7, 2 * 30 - 1});
  // identity has no networks: its state is empty and loads as such (model.kz).
  m.name = "identity";
  std::unique_ptr<Method> id = make_method(m), id_back = make_method(m);
  id->train(s, 0, {});
  CHECK(id->state_dict().empty());
  id_back->build_untrained(id->architecture());
  id_back->load_state_dict(id->state_dict());
  CHECK(id_back->embed(s.test).to_vector() == id->embed(s.test).to_vector());
}

TEST_CASE("tables: run_benchmark on a CSV table, and kizuki benchmark --table") {
  kz::test::TempDir dir("tables");
  write_file_atomic(dir / "syn.csv", synthetic_csv(30, 6));
  ExperimentOptions o = preset_options("scratch", "syn", {"iforest", "identity"}, "");
  o.table = dir / "syn.csv";
  o.csv.label = "kind";
  o.csv.drop = {"id"};
  o.table_protocol.normal = "a";
  o.table_protocol.anomaly = {"b", "c"};
  o.trials = 2;
  o.out_dir = dir / "out";
  const BenchmarkResults r = run_benchmark(o);
  REQUIRE(r.trials.size() == 4);
  for (const TrialResult& t : r.trials) {
    CHECK(t.dataset == "syn");
    CHECK(t.auc > 0.9);
    CHECK(t.roc.fpr.size() >= 2);
  }
  CHECK(r.settings.at("table").at("normal") == "a");
  CHECK(std::filesystem::exists(dir / "out/results.json"));
  o.table_protocol.normal = "nobody";
  CHECK(error_of([&] { (void)run_benchmark(o); }).find("'nobody'") != std::string::npos);

  // The program: the same protocol from the command line, the report files written.
  const std::string kizuki = KZ_KIZUKI;
  const kz::test::Ran ran = kz::test::shell(
      kizuki + " benchmark --table " + (dir / "syn.csv") +
      " --label kind --drop id --normal a --anomaly b c --reference d --methods "
      "iforest,identity --trials 2 --out " + (dir / "cli"));
  INFO(ran.output);
  CHECK(ran.status == 0);
  CHECK(ran.output.find("syn") != std::string::npos);
  for (const char* f : {"results.json", "results.csv", "report.html"})
    CHECK(std::filesystem::exists(dir / (std::string("cli/") + f)));
  write_file_atomic(dir / "bad.csv", "x,kind\n1,a\n2,b\nfoo,a\n");
  const kz::test::Ran bad = kz::test::shell(kizuki + " benchmark --table " + (dir / "bad.csv") +
                                            " --label kind --normal a --methods iforest --out " +
                                            (dir / "bad"));
  CHECK(bad.status != 0);
  CHECK(bad.output.find("bad.csv: line 4, column 1 'x': 'foo' is not a number") !=
        std::string::npos);
  const kz::test::Ran nolabel = kz::test::shell(kizuki + " benchmark --table " +
                                                (dir / "syn.csv") + " --normal a --out " +
                                                (dir / "bad"));
  CHECK(nolabel.status != 0);
  CHECK(nolabel.output.find("--label") != std::string::npos);
}

TEST_CASE("tables: doc, l2softmax, arcface and frozen take the MLP backbone on a table") {
  const ImageDataset rows = synthetic_table(40, 8);
  TableProtocol p;
  p.normal = "a";
  p.anomaly = {"b"};
  p.reference = {"c", "d"};
  const BenchmarkSplit s = table_split(rows, p, 2);
  const ExperimentOptions preset =
      preset_options("scratch", "table", {"doc", "l2softmax", "arcface", "frozen"}, "");
  for (const MethodOptions& base : preset.method_options) {
    CAPTURE(base.name);
    CHECK(base.preprocess.scaling == Scaling::none);
    CHECK(base.preprocess.height == 0);
    MethodOptions m = base;
    m.epochs = 15;
    m.batch_size = 16;  // 20 normal + 80 reference rows: a last batch of one is dropped
    m.mlp_widths = {16, 8};
    std::unique_ptr<Method> method = make_method(m);
    std::vector<double> losses;
    method->train(s, 3, [&](const TrainProgress& t) {
      if (t.epoch_end) losses.push_back(t.loss);
    });
    CHECK(method->feature_dim() == 8);
    const Tensor f = method->embed(s.test);
    CHECK(f.shape() == Shape{20 + 40, 8});
    if (m.name != "frozen") {
      REQUIRE(losses.size() == 15);
      MESSAGE(m.name << " loss " << losses.front() << " -> " << losses.back());
      CHECK(losses.back() < losses.front());
    }
    ExperimentOptions o;
    o.scorers = {"lof", "cosine"};
    const auto scored = test_scores(*method, s, o);
    for (const auto& sc : scored) {
      const std::vector<float> sv = sc.second.to_vector();
      const double auc = roc_auc(std::vector<double>(sv.begin(), sv.end()),
                                 std::vector<int>(s.test.labels.begin(), s.test.labels.end()));
      MESSAGE(m.name << " " << sc.first << " AUC " << auc);
      if (sc.first == "lof") CHECK(auc > 0.8);  // b is 6 widths out in every feature
    }
    // Its networks' state and architecture rebuild it: the same features.
    std::unique_ptr<Method> back = make_method(m);
    back->build_untrained(method->architecture());
    back->load_state_dict(method->state_dict());
    CHECK(method->architecture().at("backbone") == "mlp");
    CHECK(back->embed(s.test).to_vector() == f.to_vector());
  }
  // The classifiers and DOC need a reference set; images-only methods say so on a table.
  TableProtocol none = p;
  none.reference = {};
  const BenchmarkSplit bare = table_split(rows, none, 2);
  for (const char* name : {"l2softmax", "doc"}) {
    MethodOptions m = preset.method_options[1];
    m.name = name;
    CHECK(error_of([&] { make_method(m)->train(bare, 0, {}); }).find("reference set") !=
          std::string::npos);
  }
  MethodOptions ssim = preset_options("scratch", "fashion-mnist", {"ssim-ae"}, "").method_options[0];
  CHECK(error_of([&] { make_method(ssim)->train(s, 0, {}); })
            .find("ssim-ae reconstructs images; a table has none") != std::string::npos);
}

TEST_CASE("tables: identity + lof is scikit-learn's StandardScaler, MinMaxScaler and LOF") {
  // The split of tests/fixtures/make_tables.py row by row: standardised by its normal
  // training rows (one feature constant), then kizuki's identity method scored by LOF.
  const Safetensors st = load_safetensors(KZ_FIXTURES "/tables.safetensors");
  auto as_table = [](const Tensor& x, int64_t label) {
    ImageDataset d;
    d.table = true;
    d.channels = x.size(1);
    d.height = d.width = 1;
    d.values = x.to_vector();
    d.labels.assign(static_cast<size_t>(x.size(0)), label);
    d.class_names = {"normal", "anomaly"};
    d.source = "tables.safetensors";
    return d;
  };
  BenchmarkSplit s;
  s.normal_train = as_table(st.at("train"), 0);
  s.test = as_table(st.at("test"), 0);
  s.reference = s.normal_train.subset({});
  standardize_by_normal_train(s);
  MethodOptions m;
  m.name = "identity";
  std::unique_ptr<Method> method = make_method(m);
  method->train(s, 0, {});
  const auto scored = test_scores(*method, s, ExperimentOptions{});
  const std::vector<float> ours = scored.at(0).second.to_vector();
  const std::vector<float> theirs = st.at("lof").to_vector();
  REQUIRE(ours.size() == theirs.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    INFO("row " << i);
    CHECK(ours[i] == doctest::Approx(theirs[i]).epsilon(1e-5));
  }
  BenchmarkSplit images;
  images.normal_train.channels = 1;
  CHECK(error_of([&] { standardize_by_normal_train(images); }).find("needs a table") !=
        std::string::npos);
}

TEST_CASE("tables: goad's affine maps give the authors' x.dot(rot) copies (numpy fixture)") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/affine_maps.safetensors");
  const Tensor x = f.tensors.at("x"), maps = f.tensors.at("maps"), y = f.tensors.at("y");
  const Tensor copies = affine_copies(x, maps);  // (5·6, 3), row i's copy m at i·6 + m
  REQUIRE(copies.shape() == Shape{30, 3});
  // The authors stack the copies as (N, d, M).
  const Tensor as_theirs = copies.reshape({5, 6, 3}).permute({0, 2, 1}).contiguous();
  CHECK(max_abs_diff(as_theirs, y) < 1e-5f);
  // A table's rows come from the loader as (N,D,1,1): the same copies.
  CHECK(max_abs_diff(affine_copies(x.reshape({5, 7, 1, 1}), maps), copies) == 0.0f);

  // Drawn maps: N(0, 1) entries of shape (M,D,d), the same for the same generator state.
  Generator a(5), b(5);
  const Tensor w = random_affine_maps(256, 4, 32, a);
  REQUIRE(w.shape() == Shape{256, 4, 32});
  CHECK(max_abs_diff(w, random_affine_maps(256, 4, 32, b)) == 0.0f);
  const std::vector<float> v = w.to_vector();
  double mean = 0.0, sq = 0.0;
  for (float e : v) mean += e;
  mean /= static_cast<double>(v.size());
  for (float e : v) sq += (e - mean) * (e - mean);
  const double sd = std::sqrt(sq / static_cast<double>(v.size()));
  CHECK(std::abs(mean) < 0.02);  // 32768 draws: the mean's standard error is 0.0055
  CHECK(std::abs(sd - 1.0) < 0.02);

  CHECK_THROWS_WITH_AS(affine_copies(Tensor::zeros({5, 6}), maps),
                       doctest::Contains("rows of 6 features (shape (5, 6)) for maps of 7"), Error);
  CHECK_THROWS_WITH_AS(random_affine_maps(1, 4, 32, a),
                       doctest::Contains("at least 2 maps"), Error);
}

TEST_CASE("tables: goad trains on a table's affine copies, separates shifted rows and reloads") {
  const ImageDataset rows = synthetic_table(40, 9);
  TableProtocol p;
  p.normal = "a";
  p.anomaly = {"b", "c"};
  const BenchmarkSplit s = table_split(rows, p, 4);
  MethodOptions m = preset_options("scratch", "table", {"goad"}, "").method_options[0];
  m.epochs = 8;
  m.batch_size = 8;  // rows per step, each with all of its M copies
  m.goad_maps = 16;
  m.goad_dims = 8;
  m.mlp_widths = {16, 8};
  std::unique_ptr<Method> method = make_method(m);
  std::vector<double> losses;
  int64_t steps = 0;
  method->train(s, 3, [&](const TrainProgress& t) {
    CHECK(std::isfinite(t.loss));
    if (t.epoch_end) losses.push_back(t.loss);
    if (t.epoch == 0 && t.batch == 0) steps = t.batches;
  });
  REQUIRE(losses.size() == 8);
  CHECK(steps == (s.normal_train.size() + 7) / 8);  // steps of 8 rows
  MESSAGE("goad on a table: loss " << losses.front() << " -> " << losses.back()
                                   << " (chance cross-entropy ln 16 = " << std::log(16.0) << ")");
  CHECK(losses.back() < losses.front());
  const nlohmann::json arch = method->architecture();
  CHECK(arch.at("backbone") == "mlp");
  CHECK(arch.at("in_features") == 8);
  CHECK(arch.at("affine_maps") == nlohmann::json({16, 3, 8}));
  CHECK(arch.at("head_classes") == 16);

  const Tensor score = method->score(s.test)[0];
  REQUIRE(score.shape() == Shape{s.test.size()});
  for (float v : score.to_vector()) CHECK((std::isfinite(v) && v > 0.0f));  // −Σ log p > 0
  const std::vector<float> sv = score.to_vector();
  const double auc = roc_auc(std::vector<double>(sv.begin(), sv.end()),
                             std::vector<int>(s.test.labels.begin(), s.test.labels.end()));
  MESSAGE("goad on a table: AUC " << auc);
  CHECK(auc > 0.8);  // b and c are 6 widths out in every feature

  // The maps are part of the state: a rebuilt method scores alike.
  const StateDict state = method->state_dict();
  CHECK(state.at("affine.maps").shape() == Shape{16, 3, 8});
  CHECK(state.count("centres.centres") == 1);
  std::unique_ptr<Method> back = make_method(m);
  back->build_untrained(arch);
  back->load_state_dict(state);
  CHECK(max_abs_diff(back->score(s.test)[0], score) == 0.0f);
  // Another seed draws other maps.
  std::unique_ptr<Method> other = make_method(m);
  other->train(s, 4, {});
  CHECK(max_abs_diff(other->state_dict().at("affine.maps"), state.at("affine.maps")) > 0.0f);

  // geom stays an image method; a table model refuses images.
  MethodOptions g = m;
  g.name = "geom";
  CHECK(error_of([&] { make_method(g)->train(s, 0, {}); }).find("goad takes tables") !=
        std::string::npos);
  ImageDataset images = test::tiny_split(0).test;
  CHECK(error_of([&] { (void)method->score(images); }).find("was trained on a table") !=
        std::string::npos);
}

TEST_CASE("tables: ensembles of table methods in run_benchmark") {
  kz::test::TempDir dir("tables-ensemble");
  write_file_atomic(dir / "syn.csv", synthetic_csv(30, 12));
  ExperimentOptions o = preset_options("scratch", "table", {"iforest", "identity", "goad"}, "");
  o.table = dir / "syn.csv";
  o.csv.label = "kind";
  o.csv.drop = {"id"};
  o.table_protocol.normal = "a";
  o.table_protocol.anomaly = {"b", "c"};
  o.trials = 1;
  for (MethodOptions& m : o.method_options) {  // goad as in the test above
    m.epochs = 8;
    m.batch_size = 8;
    m.goad_maps = 16;
    m.goad_dims = 8;
    m.mlp_widths = {16, 8};
  }
  o.ensembles = {parse_ensemble("pair=iforest,identity:lof", "--ensemble"),
                 parse_ensemble("all=iforest,identity:lof,goad:goad", "--ensemble")};
  const BenchmarkResults r = run_benchmark(o);
  std::map<std::string, const TrialResult*> rows;
  for (const TrialResult& t : r.trials) rows[t.method] = &t;
  REQUIRE(rows.count("pair") == 1);
  REQUIRE(rows.count("all") == 1);
  // An ensemble's scores are its members' standardised test scores averaged.
  const std::vector<double> pair =
      ensemble_scores({rows.at("iforest"), rows.at("identity")});
  std::vector<int> labels;
  for (const int64_t l : table_split(table_dataset(load_csv(o.table, o.csv)), o.table_protocol,
                                     o.seed).test.labels)
    labels.push_back(static_cast<int>(l));
  CHECK(rows.at("pair")->auc == doctest::Approx(roc_auc(pair, labels)).epsilon(1e-12));
  for (const std::string name : {"iforest", "identity", "goad", "pair", "all"}) {
    CAPTURE(name);
    REQUIRE(rows.count(name) == 1);
    MESSAGE(name << " AUC " << rows.at(name)->auc);
    CHECK(rows.at(name)->auc > 0.8);
  }
}

namespace {

// The CSV text `text` (no quoted fields) with its columns in the order `order` of positions.
std::string reorder_columns(const std::string& text, const std::vector<size_t>& order) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields;
    size_t a = 0;
    while (a <= line.size()) {
      const size_t b = std::min(line.find(',', a), line.size());
      fields.push_back(line.substr(a, b - a));
      a = b + 1;
    }
    for (size_t k = 0; k < order.size(); ++k) out += (k ? "," : "") + fields.at(order[k]);
    out += "\n";
    start = end + 1;
  }
  return out;
}

// `kizuki score`'s CSV: the score column of every row, and the row numbers and ids.
struct ScoreCsv {
  std::vector<std::string> header, ids;
  std::vector<double> scores;
  std::vector<int64_t> rows;
};
ScoreCsv read_scores(const std::string& path) {
  CsvOptions o;
  o.label = "id";
  const Table t = load_csv(path, o);  // features row, score, flag
  ScoreCsv s;
  s.header = t.feature_names;
  for (int64_t i = 0; i < t.rows(); ++i) {
    s.rows.push_back(static_cast<int64_t>(t.values[static_cast<size_t>(i * 3)]));
    s.scores.push_back(t.values[static_cast<size_t>(i * 3 + 1)]);
    s.ids.push_back(t.class_names[static_cast<size_t>(t.labels[static_cast<size_t>(i)])]);
  }
  return s;
}

}  // namespace

TEST_CASE("tables: kizuki train --table and score --table give the benchmark's scores for the same rows") {
  kz::test::TempDir dir("tables-model");
  const std::string text = synthetic_csv(25, 14);  // id,x,y,z,kind
  write_file_atomic(dir / "syn.csv", text);
  // The same rows with the columns shuffled and no label: scored alike.
  write_file_atomic(dir / "shuffled.csv", reorder_columns(text, {3, 0, 2, 1}));  // z,id,y,x
  const std::string kizuki = KZ_KIZUKI;
  const kz::test::Ran trained = kz::test::shell(
      kizuki + " train --table " + (dir / "syn.csv") + " --label kind --drop id --normal a "
      "--method goad --epochs 3 --batch 8 --goad-maps 8 --goad-dims 4 --mlp-widths 8 --seed 5 "
      "--threads 1 --out " + (dir / "m.kz"));
  INFO(trained.output);
  REQUIRE(trained.status == 0);
  for (const char* input : {"syn.csv", "shuffled.csv"}) {
    CAPTURE(input);
    const kz::test::Ran scored =
        kz::test::shell(kizuki + " score --model " + (dir / "m.kz") + " --table " +
                        (dir / input) + " --id id --out " + (dir / (std::string(input) + ".out")));
    INFO(scored.output);
    REQUIRE(scored.status == 0);
  }
  const ScoreCsv cli = read_scores(dir / "syn.csv.out");
  CHECK(cli.header == std::vector<std::string>{"row", "score", "flag"});
  const ScoreCsv shuffled = read_scores(dir / "shuffled.csv.out");
  CHECK(shuffled.scores == cli.scores);

  // The benchmark's path for the same training rows: table_split's standardisation by them,
  // the table preset's goad trained with the same seed, scoring every row of the file.
  CsvOptions csv;
  csv.label = "kind";
  csv.drop = {"id"};
  const Table table = load_csv(dir / "syn.csv", csv);
  const ImageDataset rows = table_dataset(table);
  std::vector<int64_t> normal_rows;
  for (int64_t i = 0; i < rows.size(); ++i)
    if (rows.labels[static_cast<size_t>(i)] == table.class_index("a")) normal_rows.push_back(i);
  const ThresholdHoldout parts = threshold_holdout(static_cast<int64_t>(normal_rows.size()), 5);
  std::vector<int64_t> fit;
  for (const int64_t k : parts.fit) fit.push_back(normal_rows[static_cast<size_t>(k)]);
  BenchmarkSplit split;
  split.normal_train = rows.subset(fit);
  split.test = rows;
  standardize_by_normal_train(split);
  MethodOptions m = preset_options("scratch", "table", {"goad"}, "").method_options[0];
  m.epochs = 3;
  m.batch_size = 8;
  m.goad_maps = 8;
  m.goad_dims = 4;
  m.mlp_widths = {8};
  std::unique_ptr<Method> method = make_method(m);
  method->train(split, 5, {});
  const std::vector<float> want = method->score(split.test)[0].to_vector();
  REQUIRE(cli.scores.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(cli.rows[i] == static_cast<int64_t>(i + 1));
    CHECK(cli.ids[i] == std::to_string(i));  // synthetic_csv's id column
    CHECK(cli.scores[i] == doctest::Approx(want[i]).epsilon(1e-4));  // other thread counts
  }
  // model.kz keeps the columns and the fit rows' standardisation.
  const AnomalyModel model = load_model(dir / "m.kz");
  CHECK(model.table.features == std::vector<std::string>{"x", "y", "z"});
  CHECK(model.table.label == "kind");
  CHECK(model.table.drop == std::vector<std::string>{"id"});
  const TableScaling scaling = table_scaling(rows.subset(fit));
  CHECK(model.table.scaling.mean == scaling.mean);
  CHECK(model.table.scaling.scale == scaling.scale);
  CHECK(error_of([&] { (void)model.score(test::tiny_split(0).test); })
            .find("images, but the model was trained on a table") != std::string::npos);
}

TEST_CASE("tables: kizuki train and score --table refuse what does not fit, naming it") {
  kz::test::TempDir dir("tables-model-errors");
  const std::string text = synthetic_csv(10, 15);  // id,x,y,z,kind
  write_file_atomic(dir / "syn.csv", text);
  const std::string kizuki = KZ_KIZUKI;
  const kz::test::Ran trained = kz::test::shell(
      kizuki + " train --table " + (dir / "syn.csv") + " --label kind --drop id --normal a "
      "--method iforest --seed 1 --out " + (dir / "m.kz"));
  INFO(trained.output);
  REQUIRE(trained.status == 0);
  auto score = [&](const std::string& csv_text, const std::string& extra = "") {
    write_file_atomic(dir / "in.csv", csv_text);
    return kz::test::shell(kizuki + " score --model " + (dir / "m.kz") + " --table " +
                           (dir / "in.csv") + extra + " --out " + (dir / "out.csv"));
  };
  // A missing feature column, an extra one: the file and the column named; nothing written.
  const kz::test::Ran missing = score(reorder_columns(text, {0, 1, 3, 4}));  // no y
  CHECK(missing.status != 0);
  CHECK(missing.output.find("in.csv: line 1: the feature column 'y' is missing") !=
        std::string::npos);
  CHECK(!std::filesystem::exists(dir / "out.csv"));
  const kz::test::Ran extra = score("id,z,w,y,x\n1,1,2,3,4\n");  // id was dropped: left out
  CHECK(extra.status != 0);
  CHECK(extra.output.find("in.csv: line 1: column 3 'w' is an extra column, not one of the 3 "
                          "features (x, y, z)") != std::string::npos);
  // Without an id, the rows are numbered; the label column is left out.
  const kz::test::Ran plain = score(reorder_columns(text, {1, 2, 3, 4}));
  INFO(plain.output);
  CHECK(plain.status == 0);
  CHECK(read_file(dir / "out.csv").rfind("row,score,flag\n1,", 0) == 0);
  const kz::test::Ran bad_id = score(text, " --id nothere");
  CHECK(bad_id.output.find("no label column 'nothere'") != std::string::npos);

  // Training: the label column and the normal class must be there.
  const kz::test::Ran nolabel = kz::test::shell(kizuki + " train --table " + (dir / "syn.csv") +
                                                " --normal a --method iforest --out " +
                                                (dir / "x.kz"));
  CHECK(nolabel.status != 0);
  CHECK(nolabel.output.find("--table needs --label COLUMN") != std::string::npos);
  const kz::test::Ran nobody = kz::test::shell(kizuki + " train --table " + (dir / "syn.csv") +
                                               " --label kind --drop id --normal nobody "
                                               "--method iforest --out " + (dir / "x.kz"));
  CHECK(nobody.status != 0);
  CHECK(nobody.output.find("no row has the label 'nobody'") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "x.kz"));
}

namespace {

// The AUC of `scores` against the test set's labels.
double test_auc(const Tensor& scores, const BenchmarkSplit& s) {
  const std::vector<float> sv = scores.to_vector();
  return roc_auc(std::vector<double>(sv.begin(), sv.end()),
                 std::vector<int>(s.test.labels.begin(), s.test.labels.end()));
}

}  // namespace

TEST_CASE("tables: table_known_anomalies draws anomaly-class rows outside the test set") {
  const ImageDataset rows = synthetic_table(30, 16);  // classes a b c d, 30 rows each
  TableProtocol p;
  p.normal = "a";
  p.anomaly = {"b", "d"};
  // By default every anomalous row is a test row: none is left to label.
  const BenchmarkSplit all = table_split(rows, p, 3);
  CHECK_THROWS_WITH_AS(table_known_anomalies(rows, all, p, 5, 3),
                       doctest::Contains("5 known anomalies wanted, but only 0 rows of the "
                                         "anomaly classes (b, d) are outside the test set"),
                       Error);
  CHECK(table_known_anomalies(rows, all, p, 0, 3).known_anomalies.size() == 0);
  p.n_test_anomaly = 52;  // 8 of the 60 anomalous rows are left out of the test set
  const BenchmarkSplit s = table_split(rows, p, 3);
  CHECK_THROWS_WITH_AS(table_known_anomalies(rows, s, p, 9, 3),
                       doctest::Contains("only 8 rows"), Error);
  const BenchmarkSplit k = table_known_anomalies(rows, s, p, 5, 3);
  REQUIRE(k.known_anomalies.size() == 5);
  CHECK(k.known_anomalies.table);
  CHECK(k.known_anomalies.class_names == std::vector<std::string>{"known anomaly: b, d"});
  // The other sets are the split's; the known rows are anomalous, in no other set, and
  // standardised with the normal training rows' statistics.
  CHECK(k.test_index == s.test_index);
  CHECK(k.test.values == s.test.values);
  CHECK(k.normal_train.values == s.normal_train.values);
  const TableScaling scaling = table_scaling(rows.subset(s.normal_train_index));
  for (size_t r = 0; r < 5; ++r) {
    const int64_t i = k.known_anomaly_index[r];
    const std::string& c = rows.class_names[static_cast<size_t>(rows.labels[static_cast<size_t>(i)])];
    CHECK((c == "b" || c == "d"));
    CHECK(std::find(s.test_index.begin(), s.test_index.end(), i) == s.test_index.end());
    CHECK(std::find(s.normal_train_index.begin(), s.normal_train_index.end(), i) ==
          s.normal_train_index.end());
    for (size_t j = 0; j < 3; ++j) {
      const double raw = rows.values[static_cast<size_t>(i) * 3 + j];
      CHECK(k.known_anomalies.values[r * 3 + j] ==
            doctest::Approx((raw - scaling.mean[j]) / scaling.scale[j]).epsilon(1e-5));
    }
  }
  // The same seed the same rows; another seed others.
  CHECK(table_known_anomalies(rows, s, p, 5, 3).known_anomaly_index == k.known_anomaly_index);
  CHECK(table_known_anomalies(rows, s, p, 8, 4).known_anomaly_index.size() == 8);
}

TEST_CASE("tables: ae (MLP autoencoder) and deepsad separate shifted rows and reload") {
  const ImageDataset rows = synthetic_table(40, 17);
  TableProtocol p;
  p.normal = "a";
  p.anomaly = {"b", "c"};
  p.n_test_anomaly = 70;  // 10 anomalous rows outside the test set, for known anomalies
  const BenchmarkSplit s = table_split(rows, p, 2);
  const BenchmarkSplit known = table_known_anomalies(rows, s, p, 5, 2);
  const ExperimentOptions preset = preset_options("scratch", "table", {"ae", "deepsad"}, "");
  CHECK(preset.method_options[0].mlp_widths == std::vector<int64_t>{32, 16, 8});
  for (const MethodOptions& base : preset.method_options) {
    for (const BenchmarkSplit* split : {&s, &known}) {
      if (base.name == "ae" && split == &known) continue;  // ae takes no labels
      CAPTURE(base.name);
      CAPTURE(split->known_anomalies.size());
      MethodOptions m = base;
      m.epochs = 10;
      m.batch_size = 8;
      m.mlp_widths = m.name == "ae" ? std::vector<int64_t>{16, 8, 2} : std::vector<int64_t>{16, 8};
      std::unique_ptr<Method> method = make_method(m);
      std::vector<double> losses;
      method->train(*split, 3, [&](const TrainProgress& t) {
        CHECK(std::isfinite(t.loss));
        if (t.epoch_end) losses.push_back(t.loss);
      });
      REQUIRE(losses.size() == 10);
      MESSAGE(m.name << " loss " << losses.front() << " -> " << losses.back());
      CHECK(losses.back() < losses.front());
      CHECK(method->score_names() == std::vector<std::string>{m.name == "ae" ? "mse" : "distance"});
      const Tensor score = method->score(split->test)[0];
      REQUIRE(score.shape() == Shape{split->test.size()});
      const double auc = test_auc(score, *split);
      MESSAGE(m.name << " AUC " << auc);
      CHECK(auc > 0.9);  // b and c are 6 widths out in every feature
      const nlohmann::json arch = method->architecture();
      if (m.name == "ae") {
        CHECK(arch.at("network") == "mlp_autoencoder");
        CHECK(arch.at("widths") == nlohmann::json({16, 8, 2}));
        CHECK(!method->gives_maps());  // a row has no pixels
        CHECK(error_of([&] { (void)method->maps(split->test); }).find("gives no maps") !=
              std::string::npos);
      } else {
        CHECK(arch.at("backbone") == "mlp");
        CHECK(arch.at("projection") == 32);
        CHECK(method->state_dict().at("projection.weight").shape() == Shape{32, 8});
      }
      // Its networks' state and architecture rebuild it: the same scores.
      std::unique_ptr<Method> back = make_method(m);
      back->build_untrained(arch);
      back->load_state_dict(method->state_dict());
      CHECK(max_abs_diff(back->score(split->test)[0], score) == 0.0f);
      // A table model refuses images.
      CHECK(error_of([&] { (void)method->score(test::tiny_split(0).test); })
                .find(m.name == "ae" ? "was trained on a table" : "expected input") !=
            std::string::npos);
    }
  }
  // A bottleneck wider than the rows, and the image-only reconstruction methods: one clear
  // error each.
  MethodOptions ae = preset.method_options[0];
  ae.epochs = 1;  // the preset's 32, 16, 8 on 3 features
  CHECK_THROWS_WITH_AS(make_method(ae)->train(s, 0, {}),
                       doctest::Contains("the bottleneck (the last of --mlp-widths) is 8, more "
                                         "than the 3 input features"),
                       Error);
  ae.name = "vae";
  CHECK_THROWS_WITH_AS(make_method(ae)->train(s, 0, {}),
                       doctest::Contains("vae reconstructs images; a table has none"), Error);
}

TEST_CASE("tables: kizuki train --table and score --table with ae and deepsad round-trip model.kz") {
  kz::test::TempDir dir("tables-ae-deepsad");
  write_file_atomic(dir / "syn.csv", synthetic_csv(25, 18));  // id,x,y,z,kind
  const std::string kizuki = KZ_KIZUKI;
  CsvOptions csv;
  csv.label = "kind";
  csv.drop = {"id"};
  const Table table = load_csv(dir / "syn.csv", csv);
  std::vector<int> anomalous;
  for (const int64_t l : table.labels) anomalous.push_back(l == table.class_index("a") ? 0 : 1);
  for (const char* name : {"ae", "deepsad"}) {
    CAPTURE(name);
    const std::string model = dir / (std::string(name) + ".kz");
    const kz::test::Ran trained = kz::test::shell(
        kizuki + " train --table " + (dir / "syn.csv") + " --label kind --drop id --normal a "
        "--method " + name + " --epochs 5 --batch 8 --mlp-widths " +
        (std::string(name) == "ae" ? "8,2" : "8") + " --seed 5 --threads 1 --out " + model);
    INFO(trained.output);
    REQUIRE(trained.status == 0);
    const std::string out = dir / (std::string(name) + ".csv");
    const kz::test::Ran scored = kz::test::shell(kizuki + " score --model " + model +
                                                 " --table " + (dir / "syn.csv") +
                                                 " --id id --out " + out);
    INFO(scored.output);
    REQUIRE(scored.status == 0);
    const ScoreCsv cli = read_scores(out);
    REQUIRE(cli.scores.size() == anomalous.size());
    // The model file read back in this process scores every row as the program did.
    const AnomalyModel loaded = load_model(model);
    CHECK(loaded.scorer_name == (std::string(name) == "ae" ? "mse" : "distance"));
    const AnomalyModel::Scores again = loaded.score(table_dataset(table));
    REQUIRE(again.score.size() == cli.scores.size());
    for (size_t i = 0; i < cli.scores.size(); ++i)
      CHECK(cli.scores[i] == doctest::Approx(again.score[i]).epsilon(1e-5));
    const double auc = roc_auc(cli.scores, anomalous);
    MESSAGE(name << " AUC over the file's rows " << auc);
    CHECK(auc > 0.9);  // b, c and d are 6 widths out in every feature
  }
}

TEST_CASE("tables: kizuki benchmark --table --known-anomalies: deepsad with labelled rows") {
  kz::test::TempDir dir("tables-known");
  write_file_atomic(dir / "syn.csv", synthetic_csv(30, 19));
  const std::string kizuki = KZ_KIZUKI;
  const std::string base = kizuki + " benchmark --table " + (dir / "syn.csv") +
                           " --label kind --drop id --normal a --anomaly b --methods deepsad,ae "
                           "--mlp-widths 8,2 --epochs 3 --batch 8 --trials 1 --threads 1 "
                           "--known-anomalies 4";
  // Every anomalous row is a test row unless --test-anomaly leaves some out.
  const kz::test::Ran refused = kz::test::shell(base + " --out " + (dir / "refused"));
  CHECK(refused.status != 0);
  CHECK(refused.output.find("4 known anomalies wanted, but only 0 rows of the anomaly classes "
                            "(b) are outside the test set") != std::string::npos);
  const kz::test::Ran ran = kz::test::shell(base + " --test-anomaly 26 --out " + (dir / "out"));
  INFO(ran.output);
  REQUIRE(ran.status == 0);
  const nlohmann::json r = nlohmann::json::parse(read_file(dir / "out/results.json"));
  CHECK(r.at("settings").at("known_anomalies") == 4);
  int rows = 0;
  for (const auto& t : r.at("trials")) {
    ++rows;
    MESSAGE(t.at("method").get<std::string>() << " AUC " << t.at("auc").get<double>());
    CHECK(t.at("auc").get<double>() > 0.9);
  }
  CHECK(rows == 2);
}
