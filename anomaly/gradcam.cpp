// gradcam.cpp — Grad-CAM of the nearest-normal cosine distance over MobileNetV2's last block
// (see gradcam.h).
#include "anomaly/gradcam.h"

#include <limits>

#include "anomaly/methods/backbone.h"
#include "autograd/functions.h"
#include "tensor/ops.h"
#include "tensor/upsample.h"

namespace kz {

Variable nearest_cosine_distance(const Variable& features, const Tensor& normal) {
  KZ_CHECK(features.dim() == 2 && normal.dim() == 2 && features.size(1) == normal.size(1) &&
               normal.size(0) >= 1,
           "gradcam", "features {} and normal features {}: expected (N,F) and (M,F), M >= 1",
           shape_str(features.shape()), shape_str(normal.shape()));
  constexpr float kEps = 1e-12f;
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor t = normal.contiguous();
  const Tensor t_norm = clamp(sqrt(sum(mul(t, t), {1}, true)), kEps, inf);
  const Tensor t_unit = div(t, t_norm);
  const Variable f_norm = clamp(sqrt(sum(mul(features, features), {1}, true)), kEps, inf);
  const Variable f_unit = div(features, f_norm);
  const Variable cosine = matmul(f_unit, Variable(t_unit.transpose(0, 1).contiguous()));
  return add(neg(max(cosine, 1)), 1.0f);
}

GradCam gradcam(MobileNetV2& backbone, const Tensor& x, const Tensor& normal, int64_t out_h,
                int64_t out_w, int64_t block) {
  return gradcam(backbone, x,
                 [&normal](const Variable& f) { return nearest_cosine_distance(f, normal); },
                 out_h, out_w, block);
}

GradCam gradcam(MobileNetV2& backbone, const Tensor& x, const FeatureScoreFn& score_of,
                int64_t out_h, int64_t out_w, int64_t block) {
  KZ_CHECK(x.dim() == 4 && out_h >= 1 && out_w >= 1, "gradcam",
           "images {} to maps {}x{}: expected (N,C,H,W) and a size of at least 1x1",
           shape_str(x.shape()), out_h, out_w);
  Sequential& features = backbone.features();
  KZ_CHECK(block >= -1 && block < features.size(), "gradcam",
           "block {} is not one of features.0 … features.{} (or -1: automatic)", block,
           features.size() - 1);
  backbone.eval();
  // Every block's output without gradients, then the chosen block's as a leaf.
  std::vector<Tensor> outputs;
  std::vector<std::pair<int64_t, int64_t>> sizes;
  {
    NoGradGuard no_grad;
    Variable h(x.to_channels_last());
    for (int64_t b = 0; b < features.size(); ++b) {
      h = features.at(b)->forward(h);
      outputs.push_back(h.data());
      sizes.emplace_back(h.size(2), h.size(3));
    }
  }
  if (block < 0) block = gradcam_block(sizes);
  const Tensor activation = outputs[static_cast<size_t>(block)];
  outputs.clear();
  // The parameters get no gradients: only ∂s/∂A is wanted.
  std::vector<Variable> params = backbone.parameters();
  std::vector<bool> wanted;
  for (Variable& p : params) {
    wanted.push_back(p.requires_grad());
    p.set_requires_grad(false);
  }
  const Variable a(activation, true);
  Variable score;
  try {
    Variable h = a;
    for (int64_t b = block + 1; b < features.size(); ++b) h = features.at(b)->forward(h);
    score = score_of(global_avg_pool2d(h));
    KZ_CHECK(score.defined() && score.dim() == 1 && score.size(0) == x.size(0), "gradcam",
             "the score of {} images is {}, not one per image", x.size(0),
             score.defined() ? shape_str(score.shape()) : std::string("undefined"));
    sum(score).backward();  // image i's score depends on its own activation alone
  } catch (...) {
    for (size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(wanted[i]);
    throw;
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(wanted[i]);
  const Tensor act = activation.contiguous();
  const Tensor weights = mean(a.grad().contiguous(), {2, 3}, true);  // (N,K,1,1)
  const Tensor cam = clamp(sum(mul(weights, act), {1}, true), 0.0f,  // ReLU, (N,1,h,w)
                           std::numeric_limits<float>::infinity());
  Upsample2dParams p;
  p.out_h = out_h;
  p.out_w = out_w;
  p.mode = UpsampleMode::bilinear;
  const Tensor up = upsample2d_forward(cam.contiguous(), p).contiguous();
  GradCam out;
  out.maps = up.reshape({x.size(0), out_h, out_w});
  out.scores = score.data().contiguous();
  out.gradient = a.grad().contiguous();
  out.block = block;
  return out;
}

int64_t gradcam_block(const std::vector<std::pair<int64_t, int64_t>>& sizes) {
  KZ_CHECK(!sizes.empty(), "gradcam", "a backbone without blocks");
  for (auto b = static_cast<int64_t>(sizes.size()) - 1; b >= 0; --b)
    if (std::min(sizes[static_cast<size_t>(b)].first, sizes[static_cast<size_t>(b)].second) >= 2)
      return b;
  return static_cast<int64_t>(sizes.size()) - 1;  // even the first is 1×1: the last, all 0
}

bool gives_gradcam(const Method& method) {
  const auto* b = dynamic_cast<const BackboneMethod*>(&method);
  if (b == nullptr || b->networks().empty() || dynamic_cast<MobileNetV2*>(&b->network()) == nullptr)
    return false;
  return method.kind() == MethodKind::embedding || b->has_feature_score();
}

bool gradcam_needs_normal_features(const Method& method) {
  return method.kind() == MethodKind::embedding;
}

Tensor gradcam_maps(const Method& method, const ImageDataset& data, const Tensor& normal_features) {
  KZ_CHECK(gives_gradcam(method), "gradcam",
           "the method '{}' is not a trained embedding method on a MobileNetV2 backbone, nor a "
           "scoring one with a differentiable score of its features: Grad-CAM maps need one "
           "(use --map-kind occlusion, which takes any method)", method.name());
  const auto& b = dynamic_cast<const BackboneMethod&>(method);
  FeatureScoreFn score;
  if (gradcam_needs_normal_features(method)) {
    KZ_CHECK(normal_features.defined(), "gradcam", "the embedding method '{}' needs the normal "
             "training features for Grad-CAM", method.name());
    score = [&normal_features](const Variable& f) { return nearest_cosine_distance(f, normal_features); };
  } else {
    score = [&b](const Variable& f) { return b.feature_score(f); };
  }
  KZ_CHECK(!data.table, "gradcam", "{}: a table has no pixels to map", data.source);
  auto& backbone = b.backbone();
  const Preprocess& pre = method.options().preprocess;
  std::vector<Tensor> parts;
  constexpr int64_t kChunk = 64;
  for (int64_t start = 0; start < data.size(); start += kChunk) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(data.size(), start + kChunk); ++i) idx.push_back(i);
    const Tensor x = preprocess(data.subset(idx), pre).to_channels_last();
    parts.push_back(gradcam(backbone, x, score, x.size(2), x.size(3)).maps);
  }
  KZ_CHECK(!parts.empty(), "gradcam", "{}: no images", data.source);
  return cat(parts, 0);
}

}  // namespace kz
