// synthetic_data.h — the tiny image data set the method tests train on: classes that are easy
// to tell apart, so that a detector that works must separate them.
#pragma once

#include <algorithm>
#include <string>

#include "anomaly/method.h"
#include "data/split.h"
#include "tensor/generator.h"

namespace kz::test {

// 10 classes of 12×12 grey images: class c is a bright square at a class-specific place on
// a noisy background. Train 30 per class, test 20 per class.
inline ImageDataset synthetic(int64_t per_class, uint64_t seed) {
  ImageDataset d;
  d.channels = 1;
  d.height = d.width = 12;
  for (int c = 0; c < 10; ++c) d.class_names.push_back(std::string("c").append(std::to_string(c)));
  Generator gen(seed);
  for (int c = 0; c < 10; ++c) {
    for (int64_t i = 0; i < per_class; ++i) {
      const int64_t r0 = (c % 5) * 2, c0 = (c / 5) * 5;
      for (int64_t y = 0; y < 12; ++y)
        for (int64_t x = 0; x < 12; ++x) {
          const bool on = y >= r0 && y < r0 + 3 && x >= c0 && x < c0 + 4;
          const float v = (on ? 200.0f : 30.0f) + gen.uniform(-25.0f, 25.0f);
          d.pixels.push_back(static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f)));
        }
      d.labels.push_back(c);
    }
  }
  d.source = "synthetic";
  return d;
}

// The images of class `c` of `all`, and an empty reference set of their shape: what a
// one-class detector (kizuki train without --reference) trains on.
struct OneClass {
  ImageDataset normal, reference;
};
inline OneClass one_class(const ImageDataset& all, int64_t c) {
  OneClass o{all.subset(all.indices_of_class(c)), ImageDataset{}};
  o.reference.channels = o.normal.channels;
  o.reference.height = o.normal.height;
  o.reference.width = o.normal.width;
  return o;
}

inline BenchmarkSplit tiny_split(uint64_t seed) {
  TrainTest data{synthetic(30, 1), synthetic(20, 2)};
  return benchmark_split(data, 3, 8, 10, 30, 20, seed);
}

// The options the method tests train with: a MobileNetV2 of width 0.25 on 16×16 images in
// [0, 1], Adam lr 1e-3, 2 epochs of batches of 16.
inline MethodOptions tiny_method(const std::string& name) {
  MethodOptions m;
  m.name = name;
  m.width = 0.25;
  m.preprocess.height = m.preprocess.width = 16;
  m.preprocess.scaling = Scaling::unit;
  m.epochs = 2;
  m.batch_size = 16;
  m.optimizer = "adam";
  m.lr = 1e-3;
  return m;
}

// The options the autoencoder and GAN tests train with: 16×16 grey images in [0, 1], a
// bottleneck of 16, Adam lr 3e-3 without AMSGrad, 6 epochs of batches of 10 (the VAE draws 4
// samples).
inline MethodOptions tiny_autoencoder_method(const std::string& name) {
  MethodOptions m;
  m.name = name;
  m.preprocess.height = m.preprocess.width = 16;
  m.preprocess.rgb = false;
  m.preprocess.scaling = Scaling::unit;
  m.latent_dim = 16;
  m.epochs = 6;
  m.batch_size = 10;
  m.optimizer = "adam";
  m.amsgrad = false;
  m.lr = 3e-3;
  m.vae_samples = 4;
  return m;
}

}  // namespace kz::test
