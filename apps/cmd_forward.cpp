// cmd_forward.cpp — `kizuki forward`: run a MobileNetV2 from a safetensors state_dict on an
// (N,C,H,W) float32 .npy batch and write the logits (N,K) or, with --features, the pooled
// features (N,F) as .npy. It is how outside tools check kizuki against PyTorch.
//
// Defaults come from the weights file (layers/mobilenet_v2.h, mobilenet_v2_options):
// num_classes from classifier.1.weight (0 = none), bn_eps and padding from its
// "__metadata__", else torchvision's 1e-5 and symmetric. Flags override them; loading is
// strict, so a mismatch (e.g. --num-classes on a features-only file) lists the keys.
// Eval mode by default; --train-mode normalises with batch statistics (dropout stays off,
// so the output is deterministic).
#include <memory>
#include <string>

#include "apps/commands.h"
#include "layers/mobilenet_v2.h"
#include "tensor/npy.h"

namespace kz {

namespace {

struct ForwardArgs {
  std::string weights, input, output;
  double width = 1.0;
  int64_t num_classes = 0;
  float bn_eps = 1e-5f;
  std::string padding;
  bool features = false, train_mode = false;
  CLI::Option *num_classes_set = nullptr, *bn_eps_set = nullptr, *padding_set = nullptr;
};

// CLI11's PositiveNumber prints its range as a 300-digit number; this says it plainly.
const CLI::Validator positive(
    [](std::string& text) -> std::string {
      try {
        size_t used = 0;
        if (std::stod(text, &used) > 0 && used == text.size()) return "";
      } catch (const std::exception&) {
      }
      return "must be a number > 0, got '" + text + "'";
    },
    "POSITIVE");

void run_forward(const ForwardArgs& a) {
  const Safetensors file = load_safetensors(a.weights);
  MobileNetV2Options o = mobilenet_v2_options(file, a.weights, a.width);
  if (a.num_classes_set->count()) o.num_classes = a.num_classes;
  if (a.bn_eps_set->count()) o.bn_eps = a.bn_eps;
  if (a.padding_set->count()) o.padding = parse_padding_mode(a.padding, "--padding");
  Generator gen(0);  // the initial values are all overwritten by the file
  MobileNetV2 net(o, gen);
  try {
    net.load_state_dict(file.tensors, /*strict=*/true);
  } catch (const Error& e) {
    fail("forward", fmt::format("{} does not fit MobileNetV2 width {}, {} classes: {}", a.weights,
                                a.width, o.num_classes, e.what()));
  }

  const Tensor x = load_npy(a.input);
  KZ_CHECK(x.dim() == 4 && x.size(1) == o.in_channels && x.numel() > 0, "forward",
           "{}: expected an (N, {}, H, W) float32 array, got {}", a.input, o.in_channels,
           shape_str(x.shape()));
  net.train(a.train_mode);
  if (net.classifier()) net.classifier()->at(0)->eval();  // dropout off in both modes
  NoGradGuard no_grad;
  const Variable y = a.features ? net.forward_features(Variable(x)) : net.forward(Variable(x));
  save_npy(a.output, y.data().contiguous());
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forward", "run MobileNetV2 on an (N,C,H,W) .npy batch; write logits or features as .npy");
  cmd->add_option("--weights", args->weights, "state_dict as safetensors (torchvision names)")
      ->required();
  cmd->add_option("--width", args->width, "width multiplier (torchvision's width_mult)")
      ->required()
      ->check(positive);
  args->num_classes_set = cmd->add_option("--num-classes", args->num_classes,
                  "classifier outputs; default: from classifier.1.weight, 0 if absent")
      ->check(CLI::NonNegativeNumber);
  args->bn_eps_set = cmd->add_option("--bn-eps", args->bn_eps,
                  "BatchNorm epsilon; default: the file's metadata bn_eps, else 1e-5")
      ->check(positive);
  args->padding_set = cmd->add_option("--padding", args->padding,
                  "symmetric | tf_same; default: the file's metadata padding, else symmetric")
      ->check(CLI::IsMember({"symmetric", "tf_same"}));
  cmd->add_option("--input", args->input, "(N,C,H,W) float32 .npy")->required();
  cmd->add_option("--output", args->output, "where to write the (N,K) or (N,F) .npy")
      ->required();
  cmd->add_flag("--features", args->features, "write the pooled features, not the logits");
  cmd->add_flag("--train-mode", args->train_mode,
                "BatchNorm uses batch statistics (running statistics are not saved)");
  cmd->callback([args] { run_forward(*args); });
}

}  // namespace kz
