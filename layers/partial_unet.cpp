// partial_unet.cpp — Liu et al.'s partial-convolution U-Net and its loss (see partial_unet.h).
#include "layers/partial_unet.h"

#include "layers/sequential.h"
#include "tensor/ops.h"

namespace kz {

namespace {

// One partial convolution with its optional batch norm: children "conv" and "bn".
class PartialConvBlock : public Module {
 public:
  PartialConvBlock(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bn,
                   Generator& gen) {
    conv = register_module("conv", std::make_shared<PartialConv2d>(in, out, kernel, stride,
                                                                   kernel / 2, !bn, gen));
    if (bn) this->bn = register_module("bn", std::make_shared<BatchNorm2d>(out));
  }
  std::string type_name() const override { return "PartialConvBlock"; }
  std::shared_ptr<PartialConv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

// (N,1,H,W) mask -> (N,c,H,W), the same in every channel.
Tensor mask_channels(const Tensor& m, int64_t c) {
  return m.expand({m.size(0), c, m.size(2), m.size(3)}).contiguous();
}

}  // namespace

PartialUNet::PartialUNet(const PartialUNetOptions& o, Generator& gen) : options_(o) {
  KZ_CHECK(o.channels >= 1 && !o.widths.empty() && o.widths.size() <= 8, "PartialUNet",
           "channels {} and {} levels: need channels ≥ 1 and 1 … 8 levels", o.channels,
           o.widths.size());
  for (const int64_t w : o.widths)
    KZ_CHECK(w >= 1 && w <= 4096, "PartialUNet", "level width {} is out of range", w);
  const size_t levels = o.widths.size();
  auto enc = register_module("enc", std::make_shared<Sequential>());
  auto dec = register_module("dec", std::make_shared<Sequential>());
  int64_t in = o.channels;
  for (size_t i = 0; i < levels; ++i) {
    const int64_t k = i == 0 ? 5 : 3;
    auto b = enc->add(std::make_shared<PartialConvBlock>(in, o.widths[i], k, 2, i > 0, gen));
    enc_.push_back({b->conv, b->bn});
    in = o.widths[i];
  }
  // dec_[j] makes d_j from d_{j+1} (e_L for the deepest) and e_j; drawn deepest first.
  std::vector<std::shared_ptr<PartialConvBlock>> blocks(levels);
  for (size_t j = levels; j-- > 0;) {
    const int64_t skip = j == 0 ? o.channels : o.widths[j - 1];
    const int64_t out = j == 0 ? o.channels : o.widths[j - 1];
    blocks[j] = std::make_shared<PartialConvBlock>(o.widths[j] + skip, out, 3, 1, j > 0, gen);
  }
  for (size_t j = 0; j < levels; ++j) {
    dec->add(blocks[j]);
    dec_.push_back({blocks[j]->conv, blocks[j]->bn});
  }
}

Variable PartialUNet::forward(const Variable& x, const Tensor& mask) {
  const size_t levels = options_.widths.size();
  KZ_CHECK(x.dim() == 4 && x.size(1) == options_.channels && mask.dim() == 4 &&
               mask.size(0) == x.size(0) && mask.size(1) == 1 && mask.size(2) == x.size(2) &&
               mask.size(3) == x.size(3),
           "PartialUNet", "x {} and mask {}: expected (N,{},H,W) and (N,1,H,W)",
           shape_str(x.shape()), shape_str(mask.shape()), options_.channels);
  KZ_CHECK(x.size(2) >= (int64_t{1} << levels) && x.size(3) >= (int64_t{1} << levels),
           "PartialUNet", "{}×{} images are too small for {} levels that each halve them",
           x.size(2), x.size(3), levels);
  // e_0 … e_L and m_0 … m_L.
  std::vector<Variable> e{x};
  std::vector<Tensor> m{mask};
  for (size_t i = 0; i < levels; ++i) {
    PartialConv p = enc_[i].conv->forward(e.back(), m.back());
    Variable h = p.out;
    if (enc_[i].bn) h = enc_[i].bn->forward(h);
    e.push_back(relu(h));
    m.push_back(p.mask);
  }
  Variable d = e.back();
  Tensor dm = m.back();
  for (size_t j = levels; j-- > 0;) {
    const int64_t oh = e[j].size(2), ow = e[j].size(3);
    const Variable u = upsample2d(d, oh, ow, UpsampleMode::nearest);
    Upsample2dParams up;
    up.out_h = oh;
    up.out_w = ow;
    const Tensor um = upsample2d_forward(dm, up);
    const Tensor joint = cat({mask_channels(um, u.size(1)), mask_channels(m[j], e[j].size(1))}, 1);
    PartialConv p = dec_[j].conv->forward(cat({u, e[j]}, 1), joint);
    d = p.out;
    dm = p.mask;
    if (j == 0) break;  // the last layer: no batch norm, no activation
    d = leaky_relu(dec_[j].bn->forward(d), 0.2f);
  }
  return d;
}

Variable inpainting_loss(const Variable& out, const Tensor& target, const Tensor& mask,
                         float hole_weight) {
  KZ_CHECK(out.dim() == 4 && out.shape() == target.shape() && mask.dim() == 4 &&
               mask.size(0) == out.size(0) && mask.size(1) == 1 &&
               mask.size(2) == out.size(2) && mask.size(3) == out.size(3),
           "inpainting_loss", "out {}, target {} and mask {}: expected (N,C,H,W) twice and (N,1,H,W)",
           shape_str(out.shape()), shape_str(target.shape()), shape_str(mask.shape()));
  const Tensor valid = mask_channels(mask.contiguous(), out.size(1));
  const Tensor hole = sub(Tensor::ones(valid.shape()), valid);
  const Variable diff = sub(out, Variable(target));
  const Variable err = maximum(diff, neg(diff));  // |diff|, gradient sign(diff) (0 at 0)
  return add(mean(mul(err, Variable(valid))), mul(mean(mul(err, Variable(hole))), hole_weight));
}

}  // namespace kz
