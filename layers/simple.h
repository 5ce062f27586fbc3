// simple.h — the layers without parameters: ReLU, ReLU6, Sigmoid, Tanh, LeakyReLU, Dropout,
// GlobalAvgPool2d.
//
// Shapes: x is any shape for the activations and Dropout (the output has x's shape and, for
// the activations, its memory format); GlobalAvgPool2d maps (N,C,H,W) to (N,C).
#pragma once

#include "autograd/functions.h"
#include "layers/module.h"
#include "tensor/generator.h"

namespace kz {

class ReLU : public Module {
 public:
  Variable forward(const Variable& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

class ReLU6 : public Module {  // min(max(x, 0), 6)
 public:
  Variable forward(const Variable& x) override { return relu6(x); }
  std::string type_name() const override { return "ReLU6"; }
};

class Sigmoid : public Module {  // 1/(1 + e^−x)
 public:
  Variable forward(const Variable& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Variable forward(const Variable& x) override { return tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

class LeakyReLU : public Module {  // x for x > 0, else negative_slope·x
 public:
  explicit LeakyReLU(float negative_slope = 0.01f) : negative_slope_(negative_slope) {}
  Variable forward(const Variable& x) override { return leaky_relu(x, negative_slope_); }
  float negative_slope() const { return negative_slope_; }
  std::string type_name() const override { return "LeakyReLU"; }

 private:
  float negative_slope_;
};

// Inverted dropout while training (zero with probability p, scale the rest by 1/(1−p));
// the identity in eval mode. It owns its generator, seeded from `gen` when constructed,
// so two runs from the same seed drop the same units.
class Dropout : public Module {
 public:
  Dropout(float p, Generator& gen);
  Variable forward(const Variable& x) override { return dropout(x, p_, is_training(), gen_); }
  float p() const { return p_; }
  Generator& generator() { return gen_; }  // to save or restore its state
  std::string type_name() const override { return "Dropout"; }

 private:
  float p_;
  Generator gen_;
};

class GlobalAvgPool2d : public Module {  // mean over H and W
 public:
  Variable forward(const Variable& x) override { return global_avg_pool2d(x); }
  std::string type_name() const override { return "GlobalAvgPool2d"; }
};

}  // namespace kz
