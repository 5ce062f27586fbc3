// test_tables.cpp — tables through the benchmark: a table as a dataset (values instead of
// pixels), table_split's sets, sizes and standardisation (data/table_split.h), the iforest
// and identity methods, and run_benchmark / `kizuki benchmark --table` end to end on small
// synthetic CSV files written to a temporary folder.
// Shape letters: N rows, F features.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "anomaly/roc.h"
#include "data/table_split.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/shell.h"
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
  MethodOptions ae = preset_options("scratch", "fashion-mnist", {"ae"}, "").method_options[0];
  CHECK(error_of([&] { make_method(ae)->train(s, 0, {}); }).find("cannot be resized") !=
        std::string::npos);
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
