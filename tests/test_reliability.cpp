// test_reliability.cpp — no lost work, no silent garbage (issue 8):
//   * checkpoints: a training stopped between epochs or in the middle of one, then resumed,
//     ends with the same weights, bit for bit, as one that never stopped (DOC, L2-Softmax,
//     and the model.kz path of `kizuki train`); a real `kizuki benchmark` killed with
//     SIGKILL at a random moment and resumed gives the same AUCs; a checkpoint of another
//     run or a damaged one is refused clearly;
//   * the divergence guard names epoch, batch and cause, and keeps the last good checkpoint;
//   * memory does not grow from epoch to epoch;
//   * --threads T bounds the threads of the process;
//   * every fuzz target runs on its committed seed corpus and on every input that ever made
//     it fail (fuzz/regressions/<target>/, the regression tests of scripts/fuzz.sh's finds).
// KZ_KIZUKI is the built `kizuki` program (tests/meson.build).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "anomaly/checkpoint.h"
#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "anomaly/report.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tensor/safetensors.h"
#include "tensor/storage.h"

extern char** environ;

// The fuzz targets themselves, each under its own name.
#define LLVMFuzzerTestOneInput kz_fuzz_safetensors
#include "../fuzz/fuzz_safetensors.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput kz_fuzz_npy
#include "../fuzz/fuzz_npy.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput kz_fuzz_idx
#include "../fuzz/fuzz_idx.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput kz_fuzz_cifar
#include "../fuzz/fuzz_cifar.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput kz_fuzz_image
#include "../fuzz/fuzz_image.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput kz_fuzz_model
#include "../fuzz/fuzz_model.cpp"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput kz_fuzz_csv
#include "../fuzz/fuzz_csv.cpp"
#undef LLVMFuzzerTestOneInput

#include "tests/stop_and_resume.h"

using namespace kz;
using kz::test::check_same_state;
using kz::test::stop_and_resume;
using kz::test::Stop;
namespace fs = std::filesystem;

namespace {

// 10 classes of 12×12 grey images: class c has mean brightness 20 + 20c plus noise.
ImageDataset noisy_classes(int64_t per_class, uint64_t seed) {
  ImageDataset d;
  d.channels = 1;
  d.height = d.width = 12;
  Generator gen(seed);
  for (int c = 0; c < 10; ++c) {
    d.class_names.push_back(std::string("c").append(std::to_string(c)));  // GCC 12 -Wrestrict false positive on "c" + …
    for (int64_t i = 0; i < per_class; ++i) {
      for (int64_t p = 0; p < 144; ++p)
        d.pixels.push_back(static_cast<uint8_t>(20 + 20 * c + gen.below(30)));
      d.labels.push_back(c);
    }
  }
  d.source = "noisy_classes";
  return d;
}

BenchmarkSplit small_split() {
  const TrainTest data{noisy_classes(24, 1), noisy_classes(6, 2)};
  return benchmark_split(data, 3, 8, 6, 20, 6, 0);  // 48 reference, 20 normal, 12 test
}

MethodOptions small(const std::string& name, int64_t epochs) {
  MethodOptions m;
  m.name = name;
  m.width = 0.25;
  m.preprocess.height = m.preprocess.width = 16;
  m.epochs = epochs;
  m.batch_size = 16;
  m.optimizer = "adam";
  m.lr = 1e-3;
  m.augment.horizontal_flip = true;  // augmentation randomness must resume too
  m.augment.crop_padding = 2;
  return m;
}

fs::path temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() /
                     ("kizuki_rel_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A child process running the kizuki program with `args`; stdout and stderr go to `log`.
struct Child {
  pid_t pid = -1;
  Child(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<std::string> all{KZ_KIZUKI};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  bool running() const { return ::waitpid(pid, nullptr, WNOHANG) == 0; }
  int wait() {  // the exit status, or 128 + signal
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void kill9() { ::kill(pid, SIGKILL); }
};

std::string slurp(const fs::path& p) { return fs::exists(p) ? read_file(p.string()) : ""; }

// A tiny benchmark on Fashion-MNIST: by default 2 trials of DOC and L2-Softmax, 3 epochs.
std::vector<std::string> tiny_benchmark(const fs::path& out, int threads,
                                        const std::string& methods = "doc,l2softmax",
                                        const std::string& trials = "2") {
  return {"benchmark", "--preset", "quick", "--methods", methods, "--trials", trials,
          "--epochs", "3", "--width", "0.25", "--image-size", "16", "--batch", "16",
          "--reference-per-class", "8", "--normal-train", "24", "--test-each", "16",
          "--threads", std::to_string(threads), "--out", out.string()};
}

bool have_fashion_mnist() { return fs::exists("/usr/share/datasets/fashion-mnist"); }

}  // namespace

TEST_CASE("reliability: a training stopped between epochs or mid-epoch resumes to the same weights") {
  const BenchmarkSplit split = small_split();
  const fs::path dir = temp_dir("resume");
  for (const std::string name : {"l2softmax", "doc"}) {
    CAPTURE(name);
    std::unique_ptr<Method> ref = make_method(small(name, 3));
    ref->train(split, 5, nullptr);  // no checkpoints at all
    const StateDict expected = ref->state_dict();
    // Stopped right after the checkpoint of epoch 1, in the middle of epoch 2 (DOC: where
    // its normal loader is in the middle of an epoch of its own), and before any checkpoint.
    check_same_state(stop_and_resume(split, small(name, 3), 1, 0, (dir / "a.ckpt").string()), expected);
    check_same_state(stop_and_resume(split, small(name, 3), 2, 1, (dir / "b.ckpt").string()), expected);
    check_same_state(stop_and_resume(split, small(name, 3), 0, 1, (dir / "c.ckpt").string()), expected);
    // And the features it embeds are the same.
    std::unique_ptr<Method> again = make_method(small(name, 3));
    again->set_checkpoint({(dir / "a.ckpt").string(), true});  // holds the finished run
    again->train(split, 5, nullptr);
    CHECK(again->resumed_epochs() == 3);
    CHECK(again->embed(split.test).to_vector() == ref->embed(split.test).to_vector());
  }
  fs::remove_all(dir);
}

TEST_CASE("reliability: a checkpoint of another run or a damaged one is refused clearly") {
  const BenchmarkSplit split = small_split();
  const fs::path dir = temp_dir("refuse");
  const std::string ckpt = (dir / "run.ckpt").string();
  {
    std::unique_ptr<Method> m = make_method(small("arcface", 2));
    m->set_checkpoint({ckpt, false});
    m->train(split, 5, nullptr);
  }
  const TrainingCheckpoint c = load_checkpoint(ckpt);
  CHECK(c.epochs_done == 2);
  CHECK(c.loader_seeds.size() == 1);
  CHECK(c.next_order.size() == 68);  // 48 reference + 20 normal images
  CHECK(!c.optimizer.empty());

  MethodOptions other = small("arcface", 2);
  other.lr = 1e-2;
  std::unique_ptr<Method> m = make_method(other);
  m->set_checkpoint({ckpt, true});
  CHECK_THROWS_WITH_AS(m->train(split, 5, nullptr),
                       doctest::Contains("was written by another run: method.lr is 0.001 there, "
                                         "0.01 here"),
                       Error);
  m = make_method(small("arcface", 2));
  m->set_checkpoint({ckpt, true});
  CHECK_THROWS_WITH_AS(m->train(split, 6, nullptr), doctest::Contains("seed is \"5\" there"),
                       Error);

  const std::string bytes = read_file(ckpt);
  write_file_atomic(ckpt, bytes.substr(0, bytes.size() - 100));  // torn (what atomic writes prevent)
  CHECK_THROWS_WITH_AS(m->train(split, 5, nullptr), doctest::Contains(ckpt.c_str()), Error);
  save_safetensors(ckpt, {{"x", Tensor::ones({1})}}, {{"format", "kizuki-model"}});
  CHECK_THROWS_WITH_AS(m->train(split, 5, nullptr),
                       doctest::Contains("not a kizuki checkpoint (format 'kizuki-model')"), Error);
  fs::remove_all(dir);
}

TEST_CASE("reliability: kizuki train's model.kz is the same after a stop and --resume") {
  const ImageDataset all = noisy_classes(10, 3);
  std::vector<int64_t> n, r;
  for (int64_t i = 0; i < all.size(); ++i) (all.labels[size_t(i)] == 3 ? n : r).push_back(i);
  ImageDataset normal = all.subset(n), reference = all.subset(r);
  reference.labels.clear();  // classes 0 1 2 4 … 9 become reference labels 0 … 8
  for (int64_t i : r) reference.labels.push_back(all.labels[size_t(i)] - (all.labels[size_t(i)] > 3));
  reference.class_names = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  const fs::path dir = temp_dir("train");
  TrainModelOptions o;
  o.method = small("l2softmax", 3);
  o.scorer = "lof";
  save_model((dir / "ref.kz").string(), train_model(normal, reference, o, nullptr));
  o.checkpoint = {(dir / "run.kz.ckpt").string(), true};
  CHECK_THROWS_AS(train_model(normal, reference, o,
                              [](const TrainProgress& p) {
                                if (p.epoch == 2 && p.batch == 1) throw Stop{};
                              }),
                  Stop);
  const AnomalyModel resumed = train_model(normal, reference, o, nullptr);
  CHECK(resumed.method->resumed_epochs() == 2);
  save_model((dir / "run.kz").string(), resumed);
  CHECK(read_file((dir / "run.kz").string()) == read_file((dir / "ref.kz").string()));
  fs::remove_all(dir);
}

TEST_CASE("reliability: kizuki score names its flag for an unreadable file, and warns once per skipped file") {
  const fs::path dir = temp_dir("score_broken");
  fs::create_directories(dir / "normal");
  fs::create_directories(dir / "new");
  for (int i = 0; i < 5; ++i)
    fs::copy_file(KZ_FIXTURES "/data_img_rgb.png", dir / "normal" / fmt::format("n{}.png", i));
  fs::copy_file(KZ_FIXTURES "/data_img_rgb.png", dir / "new" / "good.png");
  write_file_atomic((dir / "new" / "broken.png").string(), "not an image");
  const std::string model = (dir / "m.kz").string();
  REQUIRE(Child({"train", "--normal", (dir / "normal").string(), "--method", "frozen",
                 "--width", "0.25", "--image-size", "16", "--out", model},
                dir / "train.log")
              .wait() == 0);
  CHECK(Child({"score", "--model", model, (dir / "new").string()}, dir / "a.log").wait() != 0);
  const std::string a = slurp(dir / "a.log");
  CHECK(a.find("broken.png") != std::string::npos);
  CHECK(a.find("pass --skip-unreadable to leave them out") != std::string::npos);
  CHECK(Child({"score", "--model", model, "--skip-unreadable", (dir / "new").string()},
              dir / "b.log")
            .wait() == 0);
  const std::string b = slurp(dir / "b.log");
  CHECK(b.find("good.png") != std::string::npos);
  size_t mentions = 0;
  for (size_t at = b.find("broken.png"); at != std::string::npos; at = b.find("broken.png", at + 1))
    ++mentions;
  CHECK(mentions == 1);  // one warning, no second copy from the library
  fs::remove_all(dir);
}

TEST_CASE("reliability: kizuki train, then score --maps writes one map picture per image, of each kind") {
  const fs::path dir = temp_dir("score_maps");
  fs::create_directories(dir / "normal");
  for (int i = 0; i < 6; ++i)
    fs::copy_file(KZ_FIXTURES "/data_img_rgb.png", dir / "normal" / fmt::format("n{}.png", i));
  const std::string model = (dir / "ae.kz").string();
  REQUIRE(Child({"train", "--normal", (dir / "normal").string(), "--method", "ae", "--epochs",
                 "1", "--batch", "4", "--image-size", "16", "--out", model},
                dir / "train.log")
              .wait() == 0);
  CHECK(slurp(dir / "train.log").find("scorer mse") != std::string::npos);
  REQUIRE(Child({"score", "--model", model, "--maps", (dir / "maps").string(),
                 (dir / "normal").string()},
                dir / "score.log")
              .wait() == 0);
  for (int i = 0; i < 6; ++i) {
    const Image map = load_image((dir / "maps" / fmt::format("n{}.png.map.png", i)).string());
    CHECK(map.height == 16);
    CHECK(map.width == 16);
  }
  // A kind the method cannot give is refused before scoring anything: Grad-CAM of an
  // autoencoder, the own maps of an embedding method.
  CHECK(Child({"score", "--model", model, "--maps", (dir / "maps1").string(), "--map-kind",
               "gradcam", (dir / "normal").string()},
              dir / "score1.log")
            .wait() != 0);
  CHECK(slurp(dir / "score1.log").find("--map-kind gradcam: the method 'ae'") != std::string::npos);
  CHECK(!fs::exists(dir / "maps1"));
  const std::string frozen = (dir / "frozen.kz").string();
  REQUIRE(Child({"train", "--normal", (dir / "normal").string(), "--method", "frozen", "--width",
                 "0.25", "--image-size", "16", "--out", frozen},
                dir / "train2.log")
              .wait() == 0);
  CHECK(Child({"score", "--model", frozen, "--maps", (dir / "maps2").string(), "--map-kind",
               "own", (dir / "normal").string()},
              dir / "score2.log")
            .wait() != 0);
  CHECK(slurp(dir / "score2.log").find("only ae, vae, ssim-ae, cutpaste, adae and anogan have their own") != std::string::npos);
  CHECK(!fs::exists(dir / "maps2"));
  // Its default is Grad-CAM; occlusion takes any method; a mask larger than the images fails.
  REQUIRE(Child({"score", "--model", frozen, "--maps", (dir / "maps3").string(),
                 (dir / "normal").string()},
                dir / "score3.log")
              .wait() == 0);
  CHECK(slurp(dir / "score3.log").find("gradcam map(s)") != std::string::npos);
  REQUIRE(Child({"score", "--model", model, "--maps", (dir / "maps4").string(), "--map-kind",
                 "occlusion", "--mask-size", "4", "--mask-stride", "4", (dir / "normal").string()},
                dir / "score4.log")
              .wait() == 0);
  for (const char* sub : {"maps3", "maps4"})
    for (int i = 0; i < 6; ++i)
      CHECK(load_image((dir / sub / fmt::format("n{}.png.map.png", i)).string()).width == 16);
  CHECK(Child({"score", "--model", frozen, "--maps", (dir / "maps5").string(), "--map-kind",
               "occlusion", "--mask-size", "17", (dir / "normal").string()},
              dir / "score5.log")
            .wait() != 0);
  CHECK(slurp(dir / "score5.log").find("larger than the 16x16") != std::string::npos);
  // --inpaint unet: refused for a model trained without an inpainter, and for an unknown fill;
  // a model trained with one draws its maps.
  CHECK(Child({"score", "--model", frozen, "--maps", (dir / "maps6").string(), "--map-kind",
               "occlusion", "--inpaint", "unet", (dir / "normal").string()},
              dir / "score6.log")
            .wait() != 0);
  CHECK(slurp(dir / "score6.log").find("kizuki train --inpaint unet") != std::string::npos);
  CHECK(!fs::exists(dir / "maps6"));
  CHECK(Child({"score", "--model", frozen, "--maps", (dir / "maps7").string(), "--map-kind",
               "occlusion", "--inpaint", "foo", (dir / "normal").string()},
              dir / "score7.log")
            .wait() != 0);
  CHECK(slurp(dir / "score7.log").find("unknown inpainting 'foo'") != std::string::npos);
  const std::string inpainted = (dir / "unet.kz").string();
  REQUIRE(Child({"train", "--normal", (dir / "normal").string(), "--method", "frozen", "--width",
                 "0.25", "--image-size", "16", "--inpaint", "unet", "--inpaint-epochs", "1",
                 "--mask-size", "4", "--out", inpainted},
                dir / "train3.log")
              .wait() == 0);
  REQUIRE(Child({"score", "--model", inpainted, "--maps", (dir / "maps8").string(), "--map-kind",
                 "occlusion", "--inpaint", "unet", "--mask-size", "4", (dir / "normal").string()},
                dir / "score8.log")
              .wait() == 0);
  for (int i = 0; i < 6; ++i)
    CHECK(load_image((dir / "maps8" / fmt::format("n{}.png.map.png", i)).string()).width == 16);
  fs::remove_all(dir);
}

TEST_CASE("reliability: kizuki benchmark killed with SIGKILL at random moments resumes to the same AUCs") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const fs::path dir = temp_dir("kill");
  Child whole(tiny_benchmark(dir / "whole", 1), dir / "whole.log");
  REQUIRE(whole.wait() == 0);
  const BenchmarkResults expected = read_results_json((dir / "whole/results.json").string());
  REQUIRE(expected.trials.size() == 4);
  {
    // What a kill can leave in the finished run, made by hand: a method's checkpoint (killed
    // after recording its results, before dropping it) and a checkpoint write's temporary
    // file (killed inside write_file_atomic; pid 999999999 is no process). --resume, with
    // everything recorded, removes both.
    const fs::path ck = dir / "whole/checkpoints";
    write_file_atomic((ck / "trial0-doc.ckpt").string(), "left behind");
    write_file_atomic((ck / "trial0-doc.ckpt.tmp.999999999").string(), "half written");
    auto args = tiny_benchmark(dir / "whole", 1);
    args.push_back("--resume");
    Child again(args, dir / "again.log");
    REQUIRE(again.wait() == 0);
    CHECK(fs::is_empty(ck));
  }

  // Kill #1 right after the first epoch checkpoint appears (between epochs), kill #2 at a
  // random moment of the resumed run; then resume to the end.
  const fs::path out = dir / "killed";
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<std::string> args = tiny_benchmark(out, 1);
    if (round > 0) args.push_back("--resume");
    Child c(args, dir / ("round" + std::to_string(round) + ".log"));
    if (round == 0) {
      while (c.running() && !fs::exists(out / "checkpoints/trial0-doc.ckpt"))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    } else {
      const int ms = std::uniform_int_distribution<int>(0, 1500)(rng);
      MESSAGE("second kill after " << ms << " ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    if (c.running()) {
      c.kill9();
      ++kills;
    }
    const int status = c.wait();
    CHECK((status == 128 + SIGKILL || status == 0));
  }
  CHECK(kills >= 1);
  Child last([&] {
    auto a = tiny_benchmark(out, 1);
    a.push_back("--resume");
    return a;
  }(), dir / "last.log");
  REQUIRE(last.wait() == 0);
  const std::string log = slurp(dir / "last.log") + slurp(dir / "round1.log");
  CHECK((log.find("continued from") != std::string::npos ||
         log.find("recorded in") != std::string::npos));
  const BenchmarkResults got = read_results_json((out / "results.json").string());
  REQUIRE(got.trials.size() == expected.trials.size());
  for (size_t i = 0; i < got.trials.size(); ++i) {
    CAPTURE(i);
    CHECK(got.trials[i].method == expected.trials[i].method);
    CHECK(got.trials[i].trial == expected.trials[i].trial);
    CHECK(got.trials[i].auc == expected.trials[i].auc);
    CHECK(got.trials[i].roc.tpr == expected.trials[i].roc.tpr);
  }
  CHECK(fs::is_empty(out / "checkpoints"));  // each removed once its results were recorded
  CHECK(slurp(dir / "last.log").find("peak memory:") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("reliability: kizuki benchmark --validate scores held-out data; reference-trained methods are refused") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const fs::path dir = temp_dir("validate");
  auto run = [&](const std::string& name, const std::string& methods, bool validate) {
    std::vector<std::string> args = tiny_benchmark(dir / name, 1, methods, "1");
    args.insert(args.end(), {"--latent-dim", "8"});
    if (validate) args.push_back("--validate");
    Child c(args, dir / (name + ".log"));
    return c.wait();
  };
  REQUIRE(run("test", "ae", false) == 0);
  REQUIRE(run("held-out", "ae", true) == 0);
  const BenchmarkResults test = read_results_json((dir / "test/results.json").string());
  const BenchmarkResults held = read_results_json((dir / "held-out/results.json").string());
  CHECK(held.settings.at("validate") == true);
  CHECK(!test.settings.contains("validate"));
  CHECK(held.settings.at("methods").at(0).at("latent_dim") == 8);
  REQUIRE(held.trials.size() == 1);
  REQUIRE(test.trials.size() == 1);
  // The same network (same seed, same training set) scored on other images.
  CHECK(held.trials[0].auc != test.trials[0].auc);
  CHECK(slurp(dir / "held-out.log").find("validation: held-out normals") != std::string::npos);

  CHECK(run("refused", "ae,arcface", true) != 0);
  CHECK(slurp(dir / "refused.log").find("method 'arcface' trains on the reference set") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("reliability: kizuki benchmark --knn-k, --center, --tta are recorded and labelled; bad values refused") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const fs::path dir = temp_dir("scoring_flags");
  auto run = [&](const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> args = tiny_benchmark(dir / name, 1, "frozen", "1");
    args.insert(args.end(), {"--scorers", "cosine,knn"});
    args.insert(args.end(), extra.begin(), extra.end());
    Child c(args, dir / (name + ".log"));
    return c.wait();
  };
  const std::vector<std::string> flags = {"--knn-k", "2", "--center", "--tta", "flip"};
  REQUIRE(run("plain", {}) == 0);
  REQUIRE(run("variant", flags) == 0);
  const BenchmarkResults plain = read_results_json((dir / "plain/results.json").string());
  const BenchmarkResults variant = read_results_json((dir / "variant/results.json").string());
  CHECK(!plain.settings.contains("center"));  // off: absent, as in older results.json
  CHECK(!plain.settings.contains("tta"));
  CHECK(plain.settings.at("knn_neighbors") == 5);
  CHECK(variant.settings.at("center") == true);
  CHECK(variant.settings.at("tta") == "flip");
  CHECK(variant.settings.at("knn_neighbors") == 2);
  REQUIRE(plain.trials.size() == 2);
  REQUIRE(variant.trials.size() == 2);
  CHECK(plain.trials[0].scorer == "cosine");
  CHECK(plain.trials[1].scorer == "knn");
  CHECK(variant.trials[0].scorer == "cosine(centred,flip)");
  CHECK(variant.trials[1].scorer == "knn(k=2,flip)");
  CHECK(variant.trials[0].auc != plain.trials[0].auc);
  CHECK(slurp(dir / "variant/boxplot.svg").find(R"x(data-scorer="knn(k=2,flip)")x") !=
        std::string::npos);
  CHECK(slurp(dir / "variant/report.html").find("<tr><th>tta</th><td><code>flip</code>") != std::string::npos);
  CHECK(slurp(dir / "variant.log").find("note: --center changes only cosine scores; knn") !=
        std::string::npos);

  // The recorded run resumes with its flags and is refused without them.
  std::vector<std::string> resume = flags;
  resume.push_back("--resume");
  REQUIRE(run("variant", resume) == 0);
  CHECK(slurp(dir / "variant.log").find("recorded in") != std::string::npos);
  CHECK(run("variant", {"--resume"}) != 0);

  CHECK(run("k0", {"--knn-k", "0"}) != 0);
  CHECK(slurp(dir / "k0.log").find("--knn-k") != std::string::npos);
  CHECK(run("rotate", {"--tta", "rotate"}) != 0);
  CHECK(slurp(dir / "rotate.log").find("--tta") != std::string::npos);
  CHECK(!fs::exists(dir / "k0/results.json"));
  fs::remove_all(dir);
}

TEST_CASE("reliability: a diverging run stops naming epoch, batch and cause; the last checkpoint stays") {
  const BenchmarkSplit split = small_split();
  const fs::path dir = temp_dir("diverge");
  const std::string ckpt = (dir / "run.ckpt").string();

  // A learning rate far too high: SGD sends the weights to infinity in the first epoch.
  MethodOptions huge = small("l2softmax", 3);
  huge.optimizer = "sgd";
  huge.lr = 1e30;
  std::unique_ptr<Method> m = make_method(huge);
  m->set_checkpoint({ckpt, true});
  CHECK_THROWS_WITH_AS(m->train(split, 5, nullptr),
                       doctest::Contains("at epoch 1, batch 2: training diverged. The learning "
                                         "rate (1e+30) is probably too high"),
                       Error);
  CHECK(!fs::exists(ckpt));  // nothing good to keep

  // A weight turned to NaN during epoch 2: the epoch-1 checkpoint stays, finite.
  m = make_method(small("l2softmax", 3));
  m->set_checkpoint({ckpt, true});
  Method* raw = m.get();
  CHECK_THROWS_WITH_AS(m->train(split, 5,
                                [&](const TrainProgress& p) {
                                  if (p.epoch == 1 && p.batch == 1)
                                    raw->networks()[0].second->named_parameters()[0].second.data().fill_(
                                        std::nanf(""));
                                }),
                       doctest::Contains("the loss became NaN at epoch 2, batch 3"), Error);
  const TrainingCheckpoint kept = load_checkpoint(ckpt);
  CHECK(kept.epochs_done == 1);
  CHECK(kept.networks.count("backbone.features.0.0.weight") == 1);
  for (const auto& [k, t] : kept.networks) {
    const std::vector<float> v = t.to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }));
  }
  fs::remove_all(dir);
}

TEST_CASE("reliability: memory does not grow from epoch to epoch") {
  const BenchmarkSplit split = small_split();
  auto rss = [] {
    std::ifstream statm("/proc/self/statm");
    int64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
  };
  std::vector<int64_t> tensors, resident;
  std::unique_ptr<Method> m = make_method(small("l2softmax", 6));
  m->train(split, 5, [&](const TrainProgress& p) {
    if (!p.epoch_end) return;
    const StorageCacheStats s = storage_cache_stats();
    tensors.push_back(s.bytes_in_use + s.bytes_cached);
    resident.push_back(rss());
  });
  REQUIRE(tensors.size() == 6);
  MESSAGE("tensor bytes per epoch end: " << tensors[1] << " … " << tensors[5]
          << ", resident: " << resident[1] << " … " << resident[5]);
  // After the first epoch every buffer size has been seen: the cache holds steady, and the
  // process as a whole grows by less than 2 MiB over four more epochs.
  for (size_t e = 2; e < 6; ++e) CHECK(tensors[e] <= tensors[1]);
  CHECK(resident[5] - resident[1] < (int64_t{2} << 20));
}

TEST_CASE("reliability: --threads T bounds the threads of the whole process") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  const fs::path dir = temp_dir("threads");
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    Child c(tiny_benchmark(dir / "out", threads, "doc", "1"), dir / "log");  // DOC: 2 loaders
    const fs::path tasks = "/proc/" + std::to_string(c.pid) + "/task";
    size_t most = 0;
    int samples = 0;
    while (c.running()) {
      std::error_code ec;
      size_t n = 0;
      for (auto it = fs::directory_iterator(tasks, ec); !ec && it != fs::directory_iterator();
           it.increment(ec))
        ++n;
      most = std::max(most, n);
      ++samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(c.wait() == 0);
    MESSAGE("--threads " << threads << ": at most " << most << " threads in " << samples
            << " samples");
    CHECK(most >= 1);
    // T compute threads (OpenMP: oneDNN, OpenBLAS, kizuki), plus the loader's one prefetch
    // thread when T >= 2 (with T = 1 the loader builds batches on the training thread).
    CHECK(most <= static_cast<size_t>(threads) + (threads > 1 ? 1 : 0));
    const std::string log = slurp(dir / "out/results.json");
    CHECK(log.find("\"omp_threads\": " + std::to_string(threads)) != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("reliability: every fuzz target survives its seed corpus and every input it ever failed on") {
  using Target = int (*)(const uint8_t*, size_t);
  const std::vector<std::pair<std::string, Target>> targets{
      {"safetensors", kz_fuzz_safetensors}, {"npy", kz_fuzz_npy},     {"idx", kz_fuzz_idx},
      {"cifar", kz_fuzz_cifar},             {"image", kz_fuzz_image}, {"model", kz_fuzz_model},
      {"csv", kz_fuzz_csv}};
  const fs::path fuzz = fs::path(KZ_FIXTURES) / ".." / ".." / "fuzz";
  for (const auto& [name, run] : targets) {
    int inputs = 0;
    for (const char* kind : {"corpus", "regressions"}) {
      const fs::path dir = fuzz / kind / name;
      if (!fs::exists(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        CAPTURE(entry.path().string());
        const std::string bytes = read_file(entry.path().string());
        // A crash or sanitizer report ends the run; any exception but kz::Error escapes.
        CHECK(run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == 0);
        ++inputs;
      }
    }
    CAPTURE(name);
    CHECK(inputs >= 1);
  }
}
