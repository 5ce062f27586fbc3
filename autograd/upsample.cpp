// upsample.cpp — the differentiable 2-D resize, nearest or bilinear (kernels in
// tensor/upsample.h).
//   y = resize(x)                x (N,C,H,W), y (N,C,OH,OW)
//   dx = resize_backward(dy)     needs only the shapes: the weights depend on sizes alone
#include "autograd/functions.h"

namespace kz {

Variable upsample2d(const Variable& x, int64_t out_h, int64_t out_w, UpsampleMode mode,
                    double scale_h, double scale_w) {
  KZ_CHECK(x.defined(), "upsample2d", "x must be defined");
  const Upsample2dParams p{out_h, out_w, mode, scale_h, scale_w};
  Tensor y = upsample2d_forward(x.data(), p);
  if (!needs_grad({x})) return make_result(std::move(y), "upsample2d", {x}, nullptr);
  const Shape x_shape = x.shape();
  return make_result(std::move(y), "upsample2d", {x}, [x_shape, p](const Tensor& dout) {
    return std::vector<Tensor>{upsample2d_backward(dout, x_shape, p)};
  });
}

}  // namespace kz
