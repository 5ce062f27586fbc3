// mobilenet_v2.cpp — MobileNetV2, its blocks, its initialisation and loading it from a
// safetensors file (see mobilenet_v2.h).
#include "layers/mobilenet_v2.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "autograd/bn_relu6.h"
#include "autograd/conv_bn_relu6.h"
#include "tensor/batch_norm.h"
#include "tensor/conv_bn_relu6.h"

namespace kz {

namespace {

// x in channels-last memory; the gradient passes through unchanged (only its layout differs).
Variable to_channels_last(const Variable& x) {
  if (x.data().is_channels_last()) return x;
  return make_result(x.data().to_channels_last(), "to_channels_last", {x},
                     [](const Tensor& dout) { return std::vector<Tensor>{dout}; });
}

// Eval mode with no gradient wanted (inference): batch norm is an affine map per channel and
// is folded into the convolution before it: w' = w·a per output channel o, b' = (b − μ)·a + β
// with a = γ/sqrt(σ² + ε) (running statistics; b = the conv's bias or 0).
bool can_fold(const Variable& x, Conv2d& conv, BatchNorm2d& bn) {
  return !bn.is_training() &&
         !needs_grad({x, conv.weight(), conv.bias(), bn.weight(), bn.bias()});
}

FoldedConv fold_batch_norm(Conv2d& conv, BatchNorm2d& bn) {
  const Tensor conv_bias = conv.bias().defined() ? conv.bias().data() : Tensor();
  return batch_norm_fold(conv.weight().data(), conv_bias, bn.weight().data(), bn.bias().data(),
                         bn.running_mean(), bn.running_var(), bn.eps());
}

void check_conv_input(const Variable& x, Conv2d& conv) {
  KZ_CHECK(x.dim() == 4 && x.size(1) == conv.in_channels(), "Conv2d",
           "expected input (N, {}, H, W), got {}", conv.in_channels(), shape_str(x.shape()));
}

// Conv followed by batch norm (and ReLU6) folded into one convolution (can_fold above); the
// observer (the profiler) still sees a call of each layer.
Variable folded_conv_bn(const Variable& x, Conv2d& conv, BatchNorm2d& bn, ReLU6* act) {
  check_conv_input(x, conv);
  ForwardObserver* observer = forward_observer();
  if (observer) observer->begin(conv, x);
  const FoldedConv f = fold_batch_norm(conv, bn);
  const Conv2dParams p = conv.params_for(x.size(2), x.size(3));
  Variable y(act ? conv2d_relu6_forward(x.data(), f.weight, f.bias, p)
                 : conv2d_forward(x.data(), f.weight, f.bias, p));
  if (observer) observer->end(conv, y), observer->begin(bn, y), observer->end(bn, y);
  if (observer && act) observer->begin(*act, y), observer->end(*act, y);
  return y;
}

// Training: an expansion (1×1 conv to more channels on channels-last x, no bias) with batch
// norm in training mode runs as one conv1x1_bn_relu6 op (autograd/conv_bn_relu6.cpp) where
// it pays (conv1x1_bn_relu6_pays). The profiler charges it all to the conv's row; the BN and
// ReLU6 rows see calls of no duration.
bool fuses_expansion(const Variable& x, Conv2d& conv, BatchNorm2d& bn) {
  const Tensor& w = conv.weight().data();
  if (!bn.is_training() || conv.bias().defined() || x.dim() != 4 || x.size(1) != w.size(1) ||
      w.size(2) != 1 || w.size(3) != 1 || !x.data().is_channels_last())
    return false;
  const Conv2dParams p = conv.params_for(x.size(2), x.size(3));
  return p.stride == 1 && p.groups == 1 && p.pad_top == 0 && p.pad_bottom == 0 &&
         p.pad_left == 0 && p.pad_right == 0 &&
         conv1x1_bn_relu6_pays(x.size(0) * x.size(2) * x.size(3), w.size(1), w.size(0));
}

Variable fused_expansion(const Variable& x, Conv2d& conv, BatchNorm2d& bn, ReLU6& act) {
  ForwardObserver* observer = forward_observer();
  if (observer) observer->begin(conv, x);
  Variable y = conv1x1_bn_relu6(x, conv.weight(), bn.weight(), bn.bias(), bn.running_mean(),
                                bn.running_var(), bn.momentum(), bn.eps());
  if (observer) observer->end(conv, y), observer->begin(bn, y), observer->end(bn, y);
  if (observer) observer->begin(act, y), observer->end(act, y);
  return y;
}

// Conv + BatchNorm2d + ReLU6 (children "0", "1", "2", as torchvision's names), run as the
// convolution and then one fused batch_norm_relu6 op (autograd/bn_relu6.cpp): no separate
// pass, and no stored BN output, for the ReLU6. The profiler sees the conv and the BN layer
// (whose row then holds the ReLU6's time too); the ReLU6 child is not called, only shown
// to the observer as a call of no duration, so every layer still has its row and its FLOPs.
class ConvBnReLU6 : public Sequential {
 public:
  Variable forward(const Variable& x) override {
    auto* conv = size() == 3 ? dynamic_cast<Conv2d*>(at(0).get()) : nullptr;
    auto* bn = size() == 3 ? dynamic_cast<BatchNorm2d*>(at(1).get()) : nullptr;
    auto* act = size() == 3 ? dynamic_cast<ReLU6*>(at(2).get()) : nullptr;
    // Synchronised batch norm (data-parallel --sync-bn) runs unfused: conv, BN, ReLU6.
    if (!conv || !bn || !act || (bn->synchronised() && bn->is_training()))
      return Sequential::forward(x);
    if (can_fold(x, *conv, *bn)) return folded_conv_bn(x, *conv, *bn, act);
    if (fuses_expansion(x, *conv, *bn)) return fused_expansion(x, *conv, *bn, *act);
    ForwardObserver* observer = forward_observer();
    if (observer) observer->begin(*conv, x);
    const Variable h = conv->forward(x);
    if (observer) observer->end(*conv, h), observer->begin(*bn, h);
    KZ_CHECK(h.dim() == 4 && h.size(1) == bn->channels(), "BatchNorm2d",
             "expected input (N, {}, H, W), got {}", bn->channels(), shape_str(h.shape()));
    Variable y = batch_norm_relu6(h, bn->weight(), bn->bias(), bn->running_mean(),
                                  bn->running_var(), bn->is_training(), bn->momentum(),
                                  bn->eps());
    if (observer) observer->end(*bn, y), observer->begin(*act, y), observer->end(*act, y);
    return y;
  }
};

// torchvision's MobileNetV2 init over every Conv2d, BatchNorm2d and Linear below `m`.
void init_torchvision(Module& m, Generator& gen) {
  if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
    const Tensor& w = conv->weight().data();
    const auto fan_out = static_cast<float>(w.size(0) * w.size(2) * w.size(3));
    conv->weight().data().copy_(Tensor::normal(w.shape(), 0.0f, std::sqrt(2.0f / fan_out), gen));
    if (conv->bias().defined()) conv->bias().data().zero_();
  } else if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) {
    bn->weight().data().fill_(1.0f);
    bn->bias().data().zero_();
  } else if (auto* fc = dynamic_cast<Linear*>(&m)) {
    fc->weight().data().copy_(Tensor::normal(fc->weight().shape(), 0.0f, 0.01f, gen));
    if (fc->bias().defined()) fc->bias().data().zero_();
  }
  for (auto& [name, child] : m.named_children()) init_torchvision(*child, gen);
}

}  // namespace

int64_t make_divisible(double v, int64_t divisor) {
  const auto d = static_cast<double>(divisor);
  auto rounded = static_cast<int64_t>(std::floor((v + d / 2) / d) * d);
  rounded = std::max(divisor, rounded);
  if (static_cast<double>(rounded) < 0.9 * v) rounded += divisor;
  return rounded;
}

std::shared_ptr<Sequential> conv_bn_relu6(int64_t in_channels, int64_t out_channels,
                                          int64_t kernel, int64_t stride, int64_t groups,
                                          float bn_eps, PaddingMode padding, Generator& gen) {
  const Conv2dOptions opt{.stride = stride,
                          .padding = (kernel - 1) / 2,
                          .groups = groups,
                          .bias = false,
                          .mode = stride == 2 ? padding : PaddingMode::symmetric};
  auto seq = std::make_shared<ConvBnReLU6>();
  seq->add(std::make_shared<Conv2d>(in_channels, out_channels, kernel, opt, gen));
  seq->add(std::make_shared<BatchNorm2d>(out_channels, bn_eps));
  seq->add(std::make_shared<ReLU6>());
  return seq;
}

InvertedResidual::InvertedResidual(int64_t in_channels, int64_t out_channels, int64_t stride,
                                   int64_t expand_ratio, float bn_eps, PaddingMode padding,
                                   Generator& gen)
    : use_residual_(stride == 1 && in_channels == out_channels) {
  KZ_CHECK(stride == 1 || stride == 2, "InvertedResidual", "stride must be 1 or 2, got {}",
           stride);
  KZ_CHECK(expand_ratio >= 1, "InvertedResidual", "expand_ratio must be ≥ 1, got {}",
           expand_ratio);
  const int64_t hidden = in_channels * expand_ratio;
  conv_ = register_module("conv", std::make_shared<Sequential>());
  if (expand_ratio != 1)
    conv_->add(conv_bn_relu6(in_channels, hidden, 1, 1, 1, bn_eps, padding, gen));
  conv_->add(conv_bn_relu6(hidden, hidden, 3, stride, hidden, bn_eps, padding, gen));
  conv_->add(std::make_shared<Conv2d>(hidden, out_channels, 1, Conv2dOptions{.bias = false}, gen));
  conv_->add(std::make_shared<BatchNorm2d>(out_channels, bn_eps));
}

Variable InvertedResidual::forward(const Variable& x) {
  return use_residual_ ? add(x, run_conv(x)) : run_conv(x);
}

// conv_'s children in order; in inference the closing 1×1 project conv and its batch norm run
// as one folded convolution (folded_conv_bn).
Variable InvertedResidual::run_conv(const Variable& x) {
  const int64_t n = conv_->size();
  auto* project = dynamic_cast<Conv2d*>(conv_->at(n - 2).get());
  auto* bn = dynamic_cast<BatchNorm2d*>(conv_->at(n - 1).get());
  if (!project || !bn || bn->is_training()) return conv_->forward(x);
  ForwardObserver* observer = forward_observer();
  Variable h = x;
  for (int64_t i = 0; i < n - 2; ++i) {
    Module& m = *conv_->at(i);
    if (observer) observer->begin(m, h);
    h = m.forward(h);
    if (observer) observer->end(m, h);
  }
  if (!can_fold(h, *project, *bn)) {
    for (Module* m : {static_cast<Module*>(project), static_cast<Module*>(bn)}) {
      if (observer) observer->begin(*m, h);
      h = m->forward(h);
      if (observer) observer->end(*m, h);
    }
    return h;
  }
  return folded_conv_bn(h, *project, *bn, nullptr);
}

MobileNetV2::MobileNetV2(const MobileNetV2Options& options, Generator& gen) : options_(options) {
  const auto& o = options;
  KZ_CHECK(o.width > 0 && o.num_classes >= 0 && o.in_channels > 0 && o.bn_eps > 0 &&
               o.dropout >= 0 && o.dropout <= 1,
           "MobileNetV2", "invalid options: width {}, num_classes {}, in_channels {}, bn_eps {}, "
           "dropout {}", o.width, o.num_classes, o.in_channels, o.bn_eps, o.dropout);
  struct Stage { int64_t t, c, n, s; };
  constexpr std::array<Stage, 7> stages{{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
                                         {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
                                         {6, 320, 1, 1}}};
  int64_t channels = make_divisible(32 * o.width);
  feature_dim_ = make_divisible(1280 * std::max(1.0, o.width));

  features_ = register_module("features", std::make_shared<Sequential>());
  features_->add(conv_bn_relu6(o.in_channels, channels, 3, 2, 1, o.bn_eps, o.padding, gen));
  for (const Stage& st : stages) {
    const int64_t out = make_divisible(static_cast<double>(st.c) * o.width);
    for (int64_t i = 0; i < st.n; ++i) {
      features_->add(std::make_shared<InvertedResidual>(channels, out, i == 0 ? st.s : 1, st.t,
                                                        o.bn_eps, o.padding, gen));
      channels = out;
    }
  }
  features_->add(conv_bn_relu6(channels, feature_dim_, 1, 1, 1, o.bn_eps, o.padding, gen));
  if (o.num_classes > 0) {
    classifier_ = register_module("classifier", std::make_shared<Sequential>());
    classifier_->add(std::make_shared<Dropout>(o.dropout, gen));
    classifier_->add(std::make_shared<Linear>(feature_dim_, o.num_classes, true, gen));
  }
  init_torchvision(*this, gen);
}

Variable MobileNetV2::forward_features(const Variable& x) {
  KZ_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels, "MobileNetV2",
           "expected input (N, {}, H, W), got {}", options_.in_channels, shape_str(x.shape()));
  return global_avg_pool2d(features_->forward(to_channels_last(x)));
}

Variable MobileNetV2::forward(const Variable& x) {
  const Variable f = forward_features(x);
  return classifier_ ? classifier_->forward(f) : f;
}

MobileNetV2Options mobilenet_v2_options(const Safetensors& file, const std::string& path,
                                        double width) {
  MobileNetV2Options o;
  o.width = width;
  auto weight = file.tensors.find("classifier.1.weight");
  o.num_classes = weight == file.tensors.end() ? 0 : weight->second.size(0);
  auto first = file.tensors.find("features.0.0.weight");
  KZ_CHECK(first != file.tensors.end() && first->second.dim() == 4, "mobilenet_v2",
           "{}: no 4-D features.0.0.weight: not a MobileNetV2 state_dict", path);
  o.in_channels = first->second.size(1);
  if (auto eps = file.metadata.find("bn_eps"); eps != file.metadata.end()) {
    size_t used = 0;
    float value = 0;
    try {
      value = std::stof(eps->second, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    KZ_CHECK(used > 0 && used == eps->second.size() && value > 0, "mobilenet_v2",
             "{}: metadata bn_eps '{}' is not a positive number", path, eps->second);
    o.bn_eps = value;
  }
  if (auto pad = file.metadata.find("padding"); pad != file.metadata.end()) {
    const std::string word = pad->second.substr(0, pad->second.find(':'));
    o.padding = parse_padding_mode(word, path + " metadata padding");
  }
  return o;
}

std::shared_ptr<MobileNetV2> load_mobilenet_v2(const std::string& path, double width,
                                               Generator& gen) {
  const Safetensors file = load_safetensors(path);
  auto net = std::make_shared<MobileNetV2>(mobilenet_v2_options(file, path, width), gen);
  try {
    net->load_state_dict(file.tensors, /*strict=*/true);
  } catch (const Error& e) {
    fail("load_mobilenet_v2", fmt::format("{} (width {}): {}", path, width, e.what()));
  }
  return net;
}

}  // namespace kz
