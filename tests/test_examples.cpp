// test_examples.cpp — the teaching examples (examples/*.cpp), built with the project, each run
// with --tiny: it must exit 0 and write its figure or table. Several examples check their
// own arithmetic against a second route (hand derivation, finite differences, counting
// pairs for AUC, LOF by its formula) and exit 1 when they disagree.
//
// KZ_EXAMPLES is the folder of the built example programs (tests/meson.build).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "data/fashion_mnist.h"
#include "tensor/file_io.h"

namespace {

namespace fs = std::filesystem;

// Runs examples/<name> --tiny --out <fresh temp folder>; the folder goes with the Run.
struct Run {
  int status = -1;     // exit status, -1 when it did not exit normally
  std::string output;  // stdout and stderr
  fs::path out;        // its --out folder

  explicit Run(const std::string& name) {
    out = fs::temp_directory_path() / ("kizuki_example_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(out);
    // One thread, as scripts/make_figures.sh: the examples' matrices are small.
    const std::string cmd = "OMP_NUM_THREADS=1 " + std::string(KZ_EXAMPLES) + "/" + name +
                            " --tiny --out '" + out.string() + "' 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    const int s = pclose(pipe);
    status = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  }
  ~Run() {
    std::error_code ignored;
    fs::remove_all(out, ignored);
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
};

// The file's text; a failed check when it is missing.
std::string output_file(const Run& r, const std::string& file) {
  const fs::path p = r.out / file;
  REQUIRE_MESSAGE(fs::exists(p), p.string(), " was not written");
  return kz::read_file(p.string());
}

void check_svg(const Run& r, const std::string& file) {
  const std::string svg = output_file(r, file);
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("\"nan") == std::string::npos);  // no NaN coordinates or labels
  CHECK(svg.find("\"-nan") == std::string::npos);
  CHECK(svg.find(">nan") == std::string::npos);
}

bool have_fashion_mnist() {
  return fs::exists(std::string(kz::kFashionMnistDir) + "/train-labels-idx1-ubyte.gz");
}

}  // namespace

TEST_CASE("examples: tensor_views shows views sharing storage and channels-last strides") {
  const Run r("tensor_views");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("same storage: yes") != std::string::npos);  // a view
  CHECK(r.output.find("same storage: no") != std::string::npos);   // contiguous() copied
  // x[0,c,h,w] = 6c + 3h + w stored channels-last (N,H,W,C): c varies fastest.
  CHECK(r.output.find("[0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]") != std::string::npos);
}

TEST_CASE("examples: autograd_basics matches the chain rule and draws its graph") {
  const Run r("autograd_basics");
  INFO(r.output);
  REQUIRE(r.status == 0);
  // L = (w·x + b − t)² at w = (0.5, −1), x = (1, 2), b = 0.5, t = 1: e = −2, so by hand
  // dL/dw = 2e·x = (−4, −8) and dL/db = 2e = −4.
  CHECK(r.output.find("dL/dw = (-4, -8), dL/db = -4") != std::string::npos);
  CHECK(r.output.find("finite differences agree with autograd: yes") != std::string::npos);
  const std::string dot = output_file(r, "autograd_graph.dot");
  CHECK(dot.find("\"w\" -> \"u = w ⊙ x\" [label=\"mul\"]") != std::string::npos);
  check_svg(r, "autograd_graph.svg");
}

TEST_CASE("examples: perceptron's loss falls to under half its start") {
  const Run r("perceptron");
  INFO(r.output);
  CHECK(r.status == 0);  // the example exits 1 when the loss did not halve
  check_svg(r, "perceptron.svg");
}

TEST_CASE("examples: conv_cost counts MobileNetV2's parameters and convolution costs") {
  const Run r("conv_cost");
  INFO(r.output);
  REQUIRE(r.status == 0);
  // torchvision.models.mobilenet_v2() has 3,504,872 parameters (its published count).
  CHECK(output_file(r, "mobilenet_blocks.md").find("**3504872**") != std::string::npos);
  const std::string table = output_file(r, "conv_cost.md");
  // features.2: depthwise 3×3 on 96 channels, then 1×1 to 24, against a standard 3×3 96→24:
  // params 96·9 + 96·24 = 3168 against 96·24·9 = 20736.
  CHECK(table.find("| 3168 |") != std::string::npos);
  CHECK(table.find("| 20736 |") != std::string::npos);
}

TEST_CASE("examples: mobilenet_features runs on the pretrained weights or skips cleanly") {
  const Run r("mobilenet_features");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const bool have_weights =
      fs::exists(KZ_SHARED_DATA "/weights/mobilenet_v2_1.0_imagenet.safetensors");
  if (have_weights && have_fashion_mnist()) {
    CHECK(r.output.find("features (20, 1280)") != std::string::npos);
    check_svg(r, "mobilenet_features.svg");
  } else {
    CHECK(r.output.find("skipped") != std::string::npos);
  }
}

TEST_CASE("examples: arcface_2d and doc_2d train 2-D embeddings and draw them") {
  for (const char* name : {"arcface_2d", "doc_2d"}) {
    const Run r(name);
    INFO(r.output);
    REQUIRE(r.status == 0);
    if (have_fashion_mnist())
      check_svg(r, std::string(name) + ".svg");
    else
      CHECK(r.output.find("skipped") != std::string::npos);
  }
}

TEST_CASE("examples: lof_2d and roc_auc agree with LOF's and AUC's definitions") {
  for (const char* name : {"lof_2d", "roc_auc"}) {
    const Run r(name);
    INFO(r.output);
    CHECK(r.status == 0);  // each exits 1 when its second computation disagrees
    check_svg(r, std::string(name) + ".svg");
  }
}
