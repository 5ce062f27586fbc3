/// \file
/// mobilenet_v2.h — MobileNetV2 (Sandler et al.\ 2018) as torchvision 0.14's mobilenet_v2:
/// the same architecture, parameter names and default initialisation, so a torchvision
/// state_dict saved as safetensors loads as it is.
///
/// Shapes: x is (N, in_channels, H, W), any H, W ≥ 1; features are (N, F) with
/// F = 1280·max(1, width) rounded to a multiple of 8; logits are (N, num_classes).
///
/// Layout of names (torchvision's):
/// \code{.unparsed}
///   features.0           Conv 3×3 stride 2 + BN + ReLU6          ("features.0.0.weight", "features.0.1.*")
///   features.1 … 17      InvertedResidual blocks                 ("features.K.conv.…")
///   features.18          Conv 1×1 to F + BN + ReLU6
///   classifier.0, .1     Dropout, Linear(F, num_classes)         (absent when num_classes = 0)
/// \endcode
/// Blocks (expansion t, channels c, repeats n, first stride s): (1,16,1,1) (6,24,2,2)
/// (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1); channels are c·width rounded by
/// make_divisible. The network runs channels-last inside: the input is converted once.
#pragma once

#include <memory>
#include <string>

#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "layers/simple.h"
#include "tensor/safetensors.h"

namespace kz {

/// torchvision's _make_divisible: v rounded to the nearest multiple of `divisor` (at least
/// `divisor`), bumped up one step when rounding down lost more than 10 %.
int64_t make_divisible(double v, int64_t divisor = 8);

/// Conv(k×k, no bias) + BatchNorm2d + ReLU6 as a Sequential ("0", "1", "2"; its forward
/// runs BN and ReLU6 as one fused op, autograd/bn_relu6.cpp): torchvision's
/// Conv2dNormActivation. Padding (k−1)/2 per side; with PaddingMode::tf_same, stride-2 convs
/// pad TF-"SAME" from the input size instead (stride-1 convs are the same either way).
std::shared_ptr<Sequential> conv_bn_relu6(int64_t in_channels, int64_t out_channels,
                                          int64_t kernel, int64_t stride, int64_t groups,
                                          float bn_eps, PaddingMode padding, Generator& gen);

/// The inverted residual block: child "conv" = [1×1 expand + BN + ReLU6 (when t ≠ 1)],
/// 3×3 depthwise (stride s) + BN + ReLU6, 1×1 project conv, BN (no activation). Adds the
/// input back when stride is 1 and in = out channels.
class InvertedResidual : public Module {
 public:
  /// Parameters drawn from `gen` as MobileNetV2's initialisation.
  InvertedResidual(int64_t in_channels, int64_t out_channels, int64_t stride,
                   int64_t expand_ratio, float bn_eps, PaddingMode padding, Generator& gen);
  /// Inference (eval mode, no gradient wanted) folds each batch norm into the convolution
  /// before it (and the ReLU6 after it into the same oneDNN primitive).
  Variable forward(const Variable& x) override;
  bool uses_residual() const { return use_residual_; }  ///< stride 1 and in = out
  std::string type_name() const override { return "InvertedResidual"; }

 private:
  Variable run_conv(const Variable& x);
  std::shared_ptr<Sequential> conv_;
  bool use_residual_;
};

/// The network's settings; the defaults are torchvision's mobilenet_v2().
struct MobileNetV2Options {
  double width = 1.0;        ///< torchvision's width_mult
  int64_t num_classes = 1000;  ///< 0 = no classifier: forward returns the pooled features
  float bn_eps = 1e-5f;      ///< torchvision 1e-5; the TF-Slim weights need 1e-3
  PaddingMode padding = PaddingMode::symmetric;  ///< tf_same for the TF-Slim weights
  int64_t in_channels = 3;   ///< of the input images
  float dropout = 0.2f;      ///< before the classifier, while training
};

/// MobileNetV2 as torchvision's (see the file's description).
class MobileNetV2 : public Module {
 public:
  /// Initialised as torchvision: convs Kaiming-normal (fan_out, gain √2), BN weight 1 and
  /// bias 0, Linear normal(0, 0.01) and bias 0, all drawn from `gen`.
  MobileNetV2(const MobileNetV2Options& options, Generator& gen);

  /// Logits (N, num_classes); the pooled features (N, F) when num_classes is 0.
  Variable forward(const Variable& x) override;
  /// The pooled features (N, F): features, then the mean over H and W.
  Variable forward_features(const Variable& x);

  Sequential& features() { return *features_; }  ///< "features.0" … "features.18"
  Sequential* classifier() { return classifier_.get(); }  ///< null when num_classes is 0
  int64_t feature_dim() const { return feature_dim_; }    ///< F
  const MobileNetV2Options& options() const { return options_; }  ///< as constructed
  std::string type_name() const override { return "MobileNetV2"; }

 private:
  MobileNetV2Options options_;
  int64_t feature_dim_;
  std::shared_ptr<Sequential> features_, classifier_;
};

/// Options for a state_dict file: num_classes from "classifier.1.weight" (0 when absent),
/// in_channels from "features.0.0.weight", bn_eps and padding from "__metadata__" keys
/// "bn_eps" (a number) and "padding" ("symmetric" or "tf_same", optionally followed by
/// ": explanation"), else torchvision's defaults. Width is not stored: it is given.
MobileNetV2Options mobilenet_v2_options(const Safetensors& file, const std::string& path,
                                        double width);

/// Builds the network the file describes (mobilenet_v2_options) and loads it, strictly.
/// E.g. ../shared/data/weights/mobilenet_v2_1.0_imagenet.safetensors (width 1.0, features
/// only, bn_eps 1e-3, tf_same; inputs scaled to [-1, 1]).
std::shared_ptr<MobileNetV2> load_mobilenet_v2(const std::string& path, double width,
                                               Generator& gen);

}  // namespace kz
