// test_install.cpp — kizuki as a library, from outside its tree: `meson install` of this
// build into a staging folder (DESTDIR), then examples/out-of-tree (copied out of the
// checkout) built with its Makefile against that staged copy alone — pkg-config with
// PKG_CONFIG_SYSROOT_DIR, no include path into the source tree — and run on a tiny
// Fashion-MNIST split: its own method, registered at run time, through the runner.
// The staged headers must be exactly the public ones (docs/decisions.md).
//
// KZ_BUILD_ROOT and KZ_SOURCE_ROOT (tests/meson.build) locate this build and the checkout.
// Skipped, with a message, where meson, ninja, make, pkg-config, c++ or Fashion-MNIST is
// missing, and in sanitizer builds (scripts/sanitize.sh): the staged library there carries
// AddressSanitizer calls that the example, built without -fsanitize, cannot link, and
// `meson install` would first build every target of that folder.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "anomaly/report.h"
#include "data/fashion_mnist.h"
#include "tensor/file_io.h"
#include "temp_dir.h"
#include "shell.h"

#if defined(__SANITIZE_ADDRESS__)
#define KZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KZ_SANITIZED 1
#endif
#endif

namespace {

namespace fs = std::filesystem;

using kz::test::Ran;
using kz::test::shell;

// 'p' for sh (kizuki's paths hold no quotes).
std::string quoted(const fs::path& p) {
  std::string q(1, '\'');
  q += p.string();
  q += '\'';
  return q;
}

// The one file or folder under `root` named `name` whose parent is named `parent`.
fs::path find_under(const fs::path& root, const std::string& name, const std::string& parent) {
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == name && e.path().parent_path().filename() == parent)
      return e.path();
  return {};
}

// Every header the decision makes public: each .h of the public folders but the private.
std::set<std::string> public_headers(const fs::path& source) {
  const std::set<std::string> folders{"tensor", "autograd", "layers", "losses", "optim",
                                      "data", "anomaly", "anomaly/methods", "dist", "profile"};
  const std::set<std::string> private_headers{"tensor/dnnl.h"};
  std::set<std::string> out;
  for (const std::string& f : folders)
    for (const auto& e : fs::directory_iterator(source / f)) {
      const std::string rel = f + "/" + e.path().filename().string();
      if (e.path().extension() == ".h" && !private_headers.count(rel)) out.insert(rel);
    }
  return out;
}

std::set<std::string> headers_under(const fs::path& include) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(include))
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), include).string());
  return out;
}

}  // namespace

TEST_CASE("install: meson install, then examples/out-of-tree built by pkg-config alone and run") {
#ifdef KZ_SANITIZED
  MESSAGE("skipped: a sanitizer build (its installed library needs -fsanitize to link)");
  return;
#endif
  const fs::path build = KZ_BUILD_ROOT, source = KZ_SOURCE_ROOT;
  for (const char* tool : {"meson", "ninja", "make", "pkg-config", "c++"})
    if (shell(std::string("command -v ") + tool).status != 0) {
      MESSAGE("skipped: no " << tool << " on PATH");
      return;
    }
  if (!fs::exists(build / "meson-info") || !fs::exists(source / "examples/out-of-tree")) {
    MESSAGE("skipped: no meson build folder at " << build << " or no checkout at " << source);
    return;
  }
  if (!fs::exists(std::string(kz::kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: no Fashion-MNIST in " << kz::kFashionMnistDir);
    return;
  }
  const kz::test::TempDir tmp("install");
  const fs::path stage = tmp.path / "stage", example = tmp.path / "example";

  // The targets `meson install` copies, built first (only those, not the whole folder).
  const Ran listed = shell("meson introspect " + quoted(build) + " --targets");
  REQUIRE_MESSAGE(listed.status == 0, listed.output);
  std::string targets;
  for (const nlohmann::json& t : nlohmann::json::parse(listed.output))
    if (t.value("installed", false))
      for (const std::string& file : t.at("filename").get<std::vector<std::string>>()) {
        targets += ' ';
        targets += quoted(fs::relative(file, build));
      }
  REQUIRE(!targets.empty());
  const Ran built = shell("ninja -C " + quoted(build) + targets);
  REQUIRE_MESSAGE(built.status == 0, built.output);
  const Ran install = shell("meson install -C " + quoted(build) + " --no-rebuild --destdir " +
                          quoted(stage));
  REQUIRE_MESSAGE(install.status == 0, install.output);

  // The staged tree: the program, both libraries, kizuki.pc, the public headers only.
  const fs::path pc = find_under(stage, "kizuki.pc", "pkgconfig");
  REQUIRE_MESSAGE(!pc.empty(), "no kizuki.pc under ", stage);
  const fs::path libdir = pc.parent_path().parent_path();
  CHECK(fs::exists(libdir / "libkizuki.a"));
  CHECK(fs::exists(libdir / "libkizuki.so"));
  CHECK(!find_under(stage, "kizuki", "bin").empty());
  const fs::path include = find_under(stage, "kizuki", "include");
  REQUIRE_MESSAGE(!include.empty(), "no include/kizuki under ", stage);
  CHECK(headers_under(include) == public_headers(source));
  CHECK(!fs::exists(include / "tensor/dnnl.h"));

  // The example, out of the checkout, against the staged copy alone.
  fs::create_directories(example);
  for (const char* f : {"Makefile", "centre_loss.cpp"})
    fs::copy_file(source / "examples/out-of-tree" / f, example / f);
  const std::string env = "PKG_CONFIG_SYSROOT_DIR=" + quoted(stage) +
                          " PKG_CONFIG_PATH=" + quoted(pc.parent_path()) + " ";
  const Ran cflags = shell(env + "pkg-config --cflags kizuki");
  REQUIRE(cflags.status == 0);
  CHECK(cflags.output.find(include.string()) != std::string::npos);
  CHECK(cflags.output.find(source.string()) == std::string::npos);
  // Every public header compiles from the staged copy alone (one file including them all).
  std::string all;
  for (const std::string& h : public_headers(source)) all += "#include \"" + h + "\"\n";
  kz::write_file_atomic((example / "all_headers.cpp").string(), all);
  const Ran headers = shell("cd " + quoted(example) + " && " + env + "c++ -std=c++20 " +
                          "-fsyntax-only $(" + env + "pkg-config --cflags kizuki) all_headers.cpp");
  CHECK_MESSAGE(headers.status == 0, headers.output);

  const Ran make = shell("cd " + quoted(example) + " && " + env + "make CXX=c++ CXXFLAGS=-O1");
  REQUIRE_MESSAGE(make.status == 0, make.output);
  CHECK(make.output.find("-l:libkizuki.a") != std::string::npos);  // the static library

  const fs::path out = tmp.path / "out";
  const Ran ran = shell("cd " + quoted(example) +
                      " && OMP_NUM_THREADS=1 ./centre_loss --tiny --out " + quoted(out));
  INFO(ran.output);
  REQUIRE(ran.status == 0);
  CHECK(ran.output.find("kizuki " + std::string(KIZUKI_VERSION)) != std::string::npos);
  const kz::BenchmarkResults results = kz::read_results_json((out / "results.json").string());
  std::set<std::string> scorers;
  for (const kz::TrialResult& r : results.trials) {
    CHECK(r.method == "centre-loss");
    scorers.insert(r.scorer);
    CHECK(r.auc > 0.5);  // better than chance: the features learnt something
    CHECK(r.auc <= 1.0);
    CHECK(ran.output.find(fmt::format("centre-loss {} trial {}: AUC {:.4f}", r.scorer, r.trial,
                                      r.auc)) != std::string::npos);
  }
  CHECK(scorers == std::set<std::string>{"knn", "lof"});
}
