/// \file
/// simple.h — the layers without parameters: ReLU, ReLU6, Sigmoid, Tanh, LeakyReLU, Dropout,
/// GlobalAvgPool2d, MaxPool2d, Upsample.
///
/// Shapes: x is any shape for the activations and Dropout (the output has x's shape and, for
/// the activations, its memory format); GlobalAvgPool2d maps (N,C,H,W) to (N,C); MaxPool2d
/// and Upsample map (N,C,H,W) to (N,C,OH,OW) in x's memory format.
#pragma once

#include <optional>
#include <utility>

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/generator.h"

namespace kz {

/// max(x, 0)
class ReLU : public Module {
 public:
  Variable forward(const Variable& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

/// min(max(x, 0), 6)
class ReLU6 : public Module {
 public:
  Variable forward(const Variable& x) override { return relu6(x); }
  std::string type_name() const override { return "ReLU6"; }
};

/// 1/(1 + e^−x)
class Sigmoid : public Module {
 public:
  Variable forward(const Variable& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

/// tanh(x)
class Tanh : public Module {
 public:
  Variable forward(const Variable& x) override { return tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

/// x for x > 0, else negative_slope·x
class LeakyReLU : public Module {
 public:
  /// PyTorch's default slope.
  explicit LeakyReLU(float negative_slope = 0.01f) : negative_slope_(negative_slope) {}
  Variable forward(const Variable& x) override { return leaky_relu(x, negative_slope_); }
  float negative_slope() const { return negative_slope_; }  ///< the slope for x ≤ 0
  std::string type_name() const override { return "LeakyReLU"; }

 private:
  float negative_slope_;
};

/// Inverted dropout while training (zero with probability p, scale the rest by 1/(1−p));
/// the identity in eval mode. It owns its generator, seeded from `gen` when constructed,
/// so two runs from the same seed drop the same units.
class Dropout : public Module {
 public:
  Dropout(float p, Generator& gen);  ///< p in [0, 1]; its generator seeded from gen
  Variable forward(const Variable& x) override { return dropout(x, p_, is_training(), gen_); }
  float p() const { return p_; }     ///< the probability of zeroing a unit
  Generator& generator() { return gen_; }  ///< to save or restore its state
  std::string type_name() const override { return "Dropout"; }

 private:
  float p_;
  Generator gen_;
};

/// mean over H and W
class GlobalAvgPool2d : public Module {
 public:
  Variable forward(const Variable& x) override { return global_avg_pool2d(x); }
  std::string type_name() const override { return "GlobalAvgPool2d"; }
};

/// PyTorch's nn.MaxPool2d: square windows, stride defaulting to the kernel, floor mode.
class MaxPool2d : public Module {
 public:
  /// Stride = kernel when not given; padding ≤ kernel / 2.
  explicit MaxPool2d(int64_t kernel, std::optional<int64_t> stride = std::nullopt,
                     int64_t padding = 0);
  Variable forward(const Variable& x) override { return max_pool2d(x, params_); }
  const MaxPool2dParams& params() const { return params_; }  ///< the window
  std::string type_name() const override { return "MaxPool2d"; }

 private:
  MaxPool2dParams params_;
};

/// PyTorch's nn.Upsample (align_corners = False), nearest or bilinear.
class Upsample : public Module {
 public:
  /// nn.Upsample(scale_factor=scale): out = floor(in·scale), source step 1/scale.
  Upsample(double scale, UpsampleMode mode);
  /// nn.Upsample(size=(out_h, out_w)).
  Upsample(int64_t out_h, int64_t out_w, UpsampleMode mode);
  Variable forward(const Variable& x) override;
  UpsampleMode mode() const { return mode_; }  ///< nearest or bilinear
  /// The output's (OH, OW) for an input of h×w (as forward computes it).
  std::pair<int64_t, int64_t> output_size(int64_t h, int64_t w) const;
  std::string type_name() const override { return "Upsample"; }

 private:
  double scale_ = 0;  ///< 0: by size
  int64_t out_h_ = 0, out_w_ = 0;
  UpsampleMode mode_;
};

}  // namespace kz
