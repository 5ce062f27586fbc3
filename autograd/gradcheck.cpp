// gradcheck.cpp — central-difference gradient check (see gradcheck.h).
#include "autograd/gradcheck.h"

#include <cmath>

#include "tensor/generator.h"
#include "tensor/ops.h"

namespace kz {

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, float eps, float atol,
                          float rtol) {
  // Copies that keep each input's memory format (a channels-last x stays channels-last, as
  // ops may take another path for it); x.data()[i] below is then the i-th element in storage
  // order, and the analytic gradient is read in the same order.
  auto channels_last = [](const Tensor& t) { return t.is_channels_last() && !t.is_contiguous(); };
  auto copy_of = [&](const Tensor& t) {
    return channels_last(t) ? t.clone().to_channels_last() : t.clone();
  };
  std::vector<Variable> vars;
  for (const Tensor& t : inputs) vars.emplace_back(copy_of(t), true);
  const Variable out = f(vars);
  Generator gen(1234);
  const Tensor w = Tensor::uniform(out.shape(), -1.0f, 1.0f, gen);

  // L = Σ out·w, analytic gradient by backward.
  out.backward(w);

  auto loss = [&](const std::vector<Variable>& v) {
    NoGradGuard no_grad;
    const Tensor o = f(v).data();
    const std::vector<float> ov = o.to_vector(), wv = w.to_vector();
    double s = 0.0;
    for (size_t i = 0; i < ov.size(); ++i) s += double(ov[i]) * wv[i];
    return s;
  };

  for (size_t k = 0; k < vars.size(); ++k) {
    std::vector<Variable> probe;
    for (const Variable& v : vars) probe.emplace_back(copy_of(v.data()), false);
    Tensor& x = probe[k].data();
    const Tensor grad = vars[k].grad().defined() ? vars[k].grad() : Tensor::zeros(x.shape());
    const Tensor analytic = channels_last(x) ? grad.to_channels_last() : grad.contiguous();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float saved = x.data()[i];
      x.data()[i] = saved + eps;
      const double plus = loss(probe);
      x.data()[i] = saved - eps;
      const double minus = loss(probe);
      x.data()[i] = saved;
      const double numeric = (plus - minus) / (2.0 * eps);
      const double a = analytic.data()[i];
      if (!(std::fabs(a - numeric) <= atol + rtol * std::fabs(numeric))) {
        return {false, fmt::format("input {} element {}: analytic {:.6g} vs numeric {:.6g}", k,
                                   i, a, numeric)};
      }
    }
  }
  return {};
}

}  // namespace kz
