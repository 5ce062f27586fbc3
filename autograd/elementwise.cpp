// elementwise.cpp — differentiable element-wise ops, forward and backward side by side.
// Binary ops broadcast; each input's gradient is summed back to its shape (sum_to).
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace kz {

Variable add(const Variable& a, const Variable& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return make_result(add(a.data(), b.data()), "add", {a, b}, [sa, sb](const Tensor& dout) {
    return std::vector<Tensor>{sum_to(dout, sa), sum_to(dout, sb)};
  });
}

Variable sub(const Variable& a, const Variable& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return make_result(sub(a.data(), b.data()), "sub", {a, b}, [sa, sb](const Tensor& dout) {
    return std::vector<Tensor>{sum_to(dout, sa), sum_to(neg(dout), sb)};
  });
}

Variable mul(const Variable& a, const Variable& b) {
  const Tensor x = a.data(), y = b.data();
  const bool da = a.requires_grad(), db = b.requires_grad();
  return make_result(mul(x, y), "mul", {a, b}, [x, y, da, db](const Tensor& dout) {
    return std::vector<Tensor>{da ? sum_to(mul(dout, y), x.shape()) : Tensor(),
                               db ? sum_to(mul(dout, x), y.shape()) : Tensor()};
  });
}

Variable div(const Variable& a, const Variable& b) {
  const Tensor x = a.data(), y = b.data();
  const bool da = a.requires_grad(), db = b.requires_grad();
  return make_result(div(x, y), "div", {a, b}, [x, y, da, db](const Tensor& dout) {
    // d(x/y)/dx = 1/y, d(x/y)/dy = −x/y²
    return std::vector<Tensor>{
        da ? sum_to(div(dout, y), x.shape()) : Tensor(),
        db ? sum_to(neg(div(mul(dout, x), mul(y, y))), y.shape()) : Tensor()};
  });
}

namespace {
// max/min: the gradient goes to the winner; on a tie it is split half and half (PyTorch).
Variable extremum(const Variable& a, const Variable& b, bool is_max) {
  const Tensor x = a.data(), y = b.data();
  Tensor out = is_max ? maximum(x, y) : minimum(x, y);
  return make_result(out, is_max ? "maximum" : "minimum", {a, b},
                     [x, y, is_max](const Tensor& dout) {
                       const Tensor wins_x = is_max ? gt(x, y) : lt(x, y);
                       const Tensor tie = mul(eq(x, y), 0.5f);
                       const Tensor wx = add(wins_x, tie);
                       const Tensor wy = add(mul(wx, -1.0f), 1.0f);  // 1 − wx
                       return std::vector<Tensor>{sum_to(mul(dout, wx), x.shape()),
                                                  sum_to(mul(dout, wy), y.shape())};
                     });
}
}  // namespace

Variable maximum(const Variable& a, const Variable& b) { return extremum(a, b, true); }
Variable minimum(const Variable& a, const Variable& b) { return extremum(a, b, false); }

Variable add(const Variable& a, float s) {
  return make_result(add(a.data(), s), "add_scalar", {a},
                     [](const Tensor& dout) { return std::vector<Tensor>{dout}; });
}

Variable mul(const Variable& a, float s) {
  return make_result(mul(a.data(), s), "mul_scalar", {a}, [s](const Tensor& dout) {
    return std::vector<Tensor>{mul(dout, s)};
  });
}

Variable pow(const Variable& a, float e) {
  const Tensor x = a.data();
  return make_result(pow(x, e), "pow", {a}, [x, e](const Tensor& dout) {
    return std::vector<Tensor>{mul(dout, mul(pow(x, e - 1.0f), e))};  // e·x^(e−1)
  });
}

Variable clamp(const Variable& a, float low, float high) {
  const Tensor x = a.data();
  return make_result(clamp(x, low, high), "clamp", {a}, [x, low, high](const Tensor& dout) {
    const Tensor inside =
        unary_map(x, [=](float v) { return (v >= low && v <= high) ? 1.0f : 0.0f; });
    return std::vector<Tensor>{mul(dout, inside)};
  });
}

Variable neg(const Variable& a) {
  return make_result(neg(a.data()), "neg", {a},
                     [](const Tensor& dout) { return std::vector<Tensor>{neg(dout)}; });
}

Variable exp(const Variable& a) {
  const Tensor y = exp(a.data());
  return make_result(y, "exp", {a}, [y](const Tensor& dout) {
    return std::vector<Tensor>{mul(dout, y)};  // d e^x = e^x
  });
}

Variable log(const Variable& a) {
  const Tensor x = a.data();
  return make_result(log(x), "log", {a}, [x](const Tensor& dout) {
    return std::vector<Tensor>{div(dout, x)};
  });
}

Variable sqrt(const Variable& a) {
  const Tensor y = sqrt(a.data());
  return make_result(y, "sqrt", {a}, [y](const Tensor& dout) {
    return std::vector<Tensor>{div(dout, mul(y, 2.0f))};  // 1/(2√x)
  });
}

}  // namespace kz
