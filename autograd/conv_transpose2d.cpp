// conv_transpose2d.cpp — the differentiable 2-D transposed convolution (kernels in
// tensor/conv_transpose2d.h).
//   y = conv_transpose(x, W) + bias   x (N,C,H,W), W (C,O/G,kH,kW), bias (O), y (N,O,OH,OW)
//   dx = conv_transpose_backward_data(dy, W)       needs W
//   dW = conv_transpose_backward_weights(dy, x)    needs x
//   dbias = Σ_{n,oh,ow} dy                         needs nothing saved
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

Variable conv_transpose2d(const Variable& x, const Variable& weight, const Variable& bias,
                          const ConvTranspose2dParams& p) {
  KZ_CHECK(x.defined() && weight.defined(), "conv_transpose2d", "x and weight must be defined");
  Tensor out = conv_transpose2d_forward(x.data(), weight.data(),
                                        bias.defined() ? bias.data() : Tensor(), p);
  const bool dx_needed = x.requires_grad(), dw_needed = weight.requires_grad();
  const bool db_needed = bias.defined() && bias.requires_grad();
  // Save only what backward will read.
  const Tensor xd = dw_needed ? x.data() : Tensor(), w = dx_needed ? weight.data() : Tensor();
  const Shape x_shape = x.shape(), w_shape = weight.shape();
  return make_result(
      std::move(out), "conv_transpose2d", {x, weight, bias},
      [xd, w, x_shape, w_shape, p, dx_needed, dw_needed, db_needed](const Tensor& dout) {
        Tensor dx, dweight, dbias;
        if (dx_needed) dx = conv_transpose2d_backward_data(dout, w, x_shape, p);
        if (dw_needed)
          dweight = conv_transpose2d_backward_weights(dout, xd, w_shape, p,
                                                      db_needed ? &dbias : nullptr);
        else if (db_needed)
          dbias = sum(dout, {0, 2, 3});
        return std::vector<Tensor>{dx, dweight, dbias};
      });
}

}  // namespace kz
