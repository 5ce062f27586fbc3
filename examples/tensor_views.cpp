// tensor_views.cpp — chapter 1 of docs/walkthrough.md: a Tensor is a block of floats seen
// through a shape, strides and an offset (tensor/tensor.h). Views change only those three
// numbers, so they cost nothing and share the storage; contiguous() copies.
//
// Element [i0, i1, …] of a tensor lives at storage[offset + Σ_d i_d·stride_d].
// Shapes: a (2,3) matrix; x (N,C,H,W) = (1,2,2,3) an image batch in NCHW order.
#include "examples/example.h"

namespace kz::example {
namespace {

void show(const char* what, const Tensor& t) {
  std::printf("%-30s shape %-13s strides %-14s offset %lld  %s  %s\n", what,
              shape_str(t.shape()).c_str(), shape_str(t.strides()).c_str(),
              static_cast<long long>(t.offset()), t.is_contiguous() ? "row-major" : "strided  ",
              t.to_string().c_str());
}

int run(const Args&) {
  Tensor a = Tensor::arange(0, 6).view({2, 3});  // storage: 0 1 2 3 4 5
  show("a = arange(6).view({2,3})", a);
  show("a.transpose(0, 1)", a.transpose(0, 1));        // strides swap: (1, 3)
  show("a.select(1, 2)  (column 2)", a.select(1, 2));  // offset 2, stride 3
  show("a.narrow(1, 1, 2)", a.narrow(1, 1, 2));        // offset 1, rows still 3 apart
  show("a.select(0, 0).expand({3,3})", a.select(0, 0).expand({3, 3}));  // stride 0 repeats

  // A view shares storage: writing through it changes a.
  Tensor column = a.select(1, 2);
  column.fill_(-1);
  show("a, after column.fill_(-1)", a);
  std::printf("same storage: %s\n", column.storage() == a.storage() ? "yes" : "no");

  // contiguous() copies a view into fresh row-major storage.
  const Tensor t = a.transpose(0, 1).contiguous();
  show("a.transpose(0,1).contiguous()", t);
  std::printf("same storage: %s\n\n", t.storage() == a.storage() ? "yes" : "no");

  // Images: the same (N,C,H,W) tensor in two memory formats (DESIGN: channels-last is only
  // other strides; oneDNN's fast convolutions want it, so MobileNetV2 converts once).
  const Tensor x = Tensor::arange(0, 12).view({1, 2, 2, 3});
  show("x (N,C,H,W), NCHW", x);
  const Tensor y = x.to_channels_last();
  show("x.to_channels_last()", y);
  std::printf("equal values: %s; y's storage in order: %s\n", allclose(x, y) ? "yes" : "no",
              Tensor::from_data(y.data(), {12}).to_string(12).c_str());
  return 0;
}

}  // namespace
}  // namespace kz::example

int main(int argc, char** argv) {
  return kz::example::run_example(argc, argv, "tensor_views", kz::example::run);
}
