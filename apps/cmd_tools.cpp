// cmd_tools.cpp — tool commands over .npy features, for use with other frameworks:
//   kizuki lof --fit A.npy --score B.npy [--k 20] --out s.npy   (LOF scores, higher = more anomalous)
//   kizuki auc --scores s.npy --labels y.npy                     (ROC-AUC, anomaly label 1)
// and over benchmark results:
//   kizuki report A/results.json B/results.json ... --out DIR     (one report of several runs)
#include <fmt/format.h>

#include "anomaly/lof.h"
#include "anomaly/report.h"
#include "anomaly/roc.h"
#include "apps/commands.h"
#include "tensor/npy.h"

namespace kz {

void add_tool_commands(CLI::App& app) {
  struct LofFlags {
    std::string fit, score, out;
    int64_t k = 20;
  };
  auto l = std::make_shared<LofFlags>();
  CLI::App* lof = app.add_subcommand("lof", "Local Outlier Factor of B's rows against A's (.npy)");
  lof->add_option("--fit", l->fit, "(N,D) float32 .npy: the normal features")->required()
      ->check(CLI::ExistingFile);
  lof->add_option("--score", l->score, "(M,D) float32 .npy: the features to score")->required()
      ->check(CLI::ExistingFile);
  lof->add_option("--k", l->k, "n_neighbors (clipped to N-1)")->check(CLI::Range(1, 1 << 30));
  lof->add_option("--out", l->out, "(M,) float32 .npy of LOF scores")->required();
  lof->callback([l] {
    Lof model(l->k);
    model.fit(load_npy(l->fit));
    save_npy(l->out, model.score(load_npy(l->score)));
  });

  struct AucFlags {
    std::string scores, labels;
  };
  auto a = std::make_shared<AucFlags>();
  CLI::App* auc = app.add_subcommand("auc", "ROC-AUC of scores (higher = anomalous) and 0/1 labels");
  auc->add_option("--scores", a->scores, "(M,) .npy of scores")->required()->check(CLI::ExistingFile);
  auc->add_option("--labels", a->labels, "(M,) .npy of 0/1 labels (1 = anomaly)")->required()
      ->check(CLI::ExistingFile);
  auc->callback([a] {
    const Tensor s = load_npy(a->scores);
    Shape shape;
    const std::vector<int64_t> y = load_npy_int(a->labels, &shape);
    KZ_CHECK(s.dim() == 1, "auc", "{}: scores must be 1-D, got shape {}", a->scores,
             shape_str(s.shape()));
    const std::vector<float> sv = s.to_vector();
    fmt::print("{:.6f}\n", roc_auc(std::vector<double>(sv.begin(), sv.end()),
                                   std::vector<int>(y.begin(), y.end())));
  });

  struct ReportFlags {
    std::vector<std::string> inputs;
    std::string out;
  };
  auto r = std::make_shared<ReportFlags>();
  CLI::App* report = app.add_subcommand(
      "report", "one report (results.*, boxplot.svg, roc.svg, report.html) of several runs of "
                "one benchmark with different --seed, e.g. trials run in two processes");
  report->add_option("results", r->inputs, "results.json files of `kizuki benchmark --out`")
      ->required()->check(CLI::ExistingFile);
  report->add_option("--out", r->out, "output folder")->required();
  report->callback([r] {
    std::vector<BenchmarkResults> runs;
    for (const std::string& path : r->inputs) runs.push_back(read_results_json(path));
    const BenchmarkResults merged = merge_results(runs, r->inputs);
    fmt::print("{}", format_summary_table(summarize(merged)));
    write_report(r->out, merged);
    fmt::print("wrote {}/results.csv, results.json, boxplot.svg, roc.svg, report.html\n", r->out);
  });
}

}  // namespace kz
