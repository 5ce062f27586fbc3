// test_tensor.cpp — Tensor storage, views, factories, element-wise ops with broadcasting,
// reductions, matmul against its naive reference, the generator, printing, the allocator.
// (Forward values of every op against PyTorch are in test_autograd.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "tensor/blas.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/storage.h"
#include "tensor/tensor.h"

using namespace kz;

namespace {
Tensor iota(const Shape& shape) {
  return Tensor::arange(0.0f, static_cast<float>(numel_of(shape))).reshape(shape);
}
}  // namespace

TEST_CASE("tensor: storage is 64-byte aligned and shared by views") {
  Tensor t = Tensor::zeros({3, 5});
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  Tensor v = t.narrow(1, 2, 2);
  v.fill_(7.0f);
  CHECK(t.at({1, 2}) == 7.0f);
  CHECK(t.at({1, 4}) == 0.0f);
  CHECK(v.storage() == t.storage());
  CHECK_FALSE(v.is_contiguous());
  CHECK(v.contiguous().is_contiguous());
}

TEST_CASE("tensor: views — reshape, permute, transpose, narrow, select, squeeze, expand") {
  const Tensor t = iota({2, 3, 4});
  CHECK(t.reshape({6, -1}).shape() == Shape{6, 4});
  CHECK(t.reshape({4, 6}).at({1, 0}) == 6.0f);
  const Tensor p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == t.at({1, 2, 3}));
  CHECK(t.transpose(0, 2).at({3, 2, 1}) == t.at({1, 2, 3}));
  CHECK(t.narrow(2, 1, 2).at({1, 1, 1}) == t.at({1, 1, 2}));
  CHECK(t.select(1, 2).shape() == Shape{2, 4});
  CHECK(t.select(1, 2).at({1, 3}) == t.at({1, 2, 3}));
  CHECK(t.unsqueeze(1).shape() == Shape{2, 1, 3, 4});
  CHECK(t.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(t.unsqueeze(1).squeeze(1).shape() == t.shape());
  const Tensor e = Tensor::from_vector({1, 2, 3}, {3, 1}).expand({2, 3, 4});
  CHECK(e.stride(0) == 0);
  CHECK(e.at({1, 2, 3}) == 3.0f);
  CHECK(t.flatten(1).shape() == Shape{2, 12});
  // A permuted tensor reshapes by copying, in logical order.
  CHECK(p.reshape({-1}).at({1}) == t.at({0, 1, 0}));
  CHECK_THROWS_WITH_AS(t.view({5, 5}), doctest::Contains("cannot view shape (2, 3, 4)"), Error);
  CHECK_THROWS_WITH_AS(t.narrow(1, 2, 2), doctest::Contains("[narrow]"), Error);
  CHECK_THROWS_WITH_AS(t.expand({3, 3, 4}), doctest::Contains("[expand]"), Error);
  CHECK_THROWS_WITH_AS(t.permute({0, 0, 1}), doctest::Contains("repeated"), Error);
}

TEST_CASE("tensor: channels-last is the same logical tensor with NHWC strides") {
  const Tensor t = iota({2, 3, 4, 5});
  const Tensor cl = t.to_channels_last();
  CHECK(cl.is_channels_last());
  CHECK_FALSE(cl.is_contiguous());
  CHECK(cl.strides() == Shape{60, 1, 15, 3});
  CHECK(cl.at({1, 2, 3, 4}) == t.at({1, 2, 3, 4}));
  CHECK(allclose(cl.contiguous(), t));
  CHECK(allclose(add(cl, t), mul(t, 2.0f)));
  CHECK(t.is_dense());
  CHECK(cl.is_dense());
  CHECK_FALSE(t.transpose(2, 3).is_dense());
  CHECK(Tensor::empty_like(cl).is_channels_last());
  CHECK(Tensor::empty_like(t.transpose(2, 3)).is_contiguous());
  // Element-wise results keep channels-last when every operand has it, as PyTorch's do.
  CHECK(add(cl, cl).is_channels_last());
  CHECK(allclose(add(cl, cl), mul(t, 2.0f)));
  CHECK(exp(cl).is_channels_last());
  CHECK(allclose(exp(cl), exp(t)));
  CHECK(add(cl, t).is_contiguous());  // mixed formats: row-major
  Tensor acc = t.to_channels_last();
  add_(acc, cl, 2.0f);
  CHECK(acc.is_channels_last());
  CHECK(allclose(acc, mul(t, 3.0f)));
}

TEST_CASE("tensor: factories") {
  CHECK(Tensor::full({2, 2}, 3.0f).to_vector() == std::vector<float>{3, 3, 3, 3});
  CHECK(Tensor::arange(1.0f, 2.0f, 0.25f).to_vector() ==
        std::vector<float>{1.0f, 1.25f, 1.5f, 1.75f});
  CHECK(Tensor::scalar(2.5f).dim() == 0);
  CHECK(Tensor::scalar(2.5f).item() == 2.5f);
  Generator g1(5), g2(5);
  CHECK(allclose(Tensor::normal({100}, 1.0f, 2.0f, g1), Tensor::normal({100}, 1.0f, 2.0f, g2)));
  Generator g(11);
  const Tensor n = Tensor::normal({20000}, 1.0f, 2.0f, g);
  CHECK(mean(n).item() == doctest::Approx(1.0f).epsilon(0.05));
  CHECK(std::sqrt(var(n).item()) == doctest::Approx(2.0f).epsilon(0.03));
  const Tensor u = Tensor::uniform({20000}, -3.0f, 5.0f, g);
  CHECK(min_all(u) >= -3.0f);
  CHECK(max_all(u) < 5.0f);
  CHECK(mean(u).item() == doctest::Approx(1.0f).epsilon(0.05));
  CHECK_THROWS_WITH_AS(Tensor::from_vector({1, 2, 3}, {2, 2}),
                       "[from_vector] 3 values do not fill shape (2, 2)", Error);
}

TEST_CASE("tensor: PCG32 matches the reference implementation's published outputs") {
  // pcg32-demo (O'Neill's pcg-c-basic), pcg32_srandom_r(&rng, 42u, 54u), first six outputs.
  Generator gen(42, 54);
  const uint32_t want[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                           0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (uint32_t w : want) CHECK(gen.next_u32() == w);
  // State round trip reproduces the stream exactly.
  Generator a(9);
  a.normal();
  const Generator::State s = a.get_state();
  const float next = a.normal(), after = a.uniform();
  Generator b(0);
  b.set_state(s);
  CHECK(b.normal() == next);
  CHECK(b.uniform() == after);
  // Permutations are permutations, and seeded.
  Generator p1(3), p2(3);
  const auto perm = random_permutation(50, p1);
  CHECK(perm == random_permutation(50, p2));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(sorted[size_t(i)] == i);
}

TEST_CASE("tensor: element-wise ops broadcast and compare") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from_vector({10, 20, 30}, {3});
  CHECK(add(a, b).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(sub(b, a).to_vector() == std::vector<float>{9, 18, 27, 6, 15, 24});
  const Tensor col = Tensor::from_vector({2, 3}, {2, 1});
  CHECK(mul(a, col).to_vector() == std::vector<float>{2, 4, 6, 12, 15, 18});
  CHECK(div(a, col).at({1, 2}) == 2.0f);
  CHECK(gt(a, Tensor::scalar(3.0f)).to_vector() == std::vector<float>{0, 0, 0, 1, 1, 1});
  CHECK(le(a, Tensor::scalar(3.0f)).to_vector() == std::vector<float>{1, 1, 1, 0, 0, 0});
  CHECK(eq(a, a.transpose(0, 1).transpose(0, 1)).to_vector() ==
        std::vector<float>(6, 1.0f));
  CHECK(maximum(a, Tensor::scalar(3.5f)).to_vector() ==
        std::vector<float>{3.5f, 3.5f, 3.5f, 4, 5, 6});
  CHECK(clamp(a, 2.0f, 4.0f).to_vector() == std::vector<float>{2, 2, 3, 4, 4, 4});
  CHECK(pow(a, 2.0f).at({1, 2}) == 36.0f);
  CHECK(sqrt(pow(a, 2.0f)).at({1, 0}) == doctest::Approx(4.0f));
  CHECK(log(exp(a)).at({0, 1}) == doctest::Approx(2.0f));
  // Strided inputs give the same results as contiguous ones.
  const Tensor t = iota({3, 4}).transpose(0, 1);
  CHECK(allclose(add(t, t), add(t.contiguous(), t.contiguous())));
  Tensor acc = Tensor::zeros({2, 3});
  add_(acc, b, 2.0f);
  CHECK(acc.at({1, 2}) == 60.0f);
}

TEST_CASE("tensor: reductions along dimensions, with keepdim") {
  const Tensor t = iota({2, 3, 4});
  CHECK(sum(t).item() == 276.0f);
  CHECK(sum(t, {1}).shape() == Shape{2, 4});
  CHECK(sum(t, {1}).at({1, 2}) == 14.0f + 18.0f + 22.0f);
  CHECK(sum(t, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(mean(t, {-1}).at({1, 0}) == doctest::Approx(13.5f));
  CHECK(var(t, {2}).at({0, 0}) == doctest::Approx(5.0f / 3.0f));          // var(0,1,2,3)
  CHECK(var(t, {2}, false, 0).at({0, 0}) == doctest::Approx(1.25f));
  const Tensor m = Tensor::from_vector({3, 9, 1, 9, 0, -2}, {2, 3});
  CHECK(max(m, 1).to_vector() == std::vector<float>{9, 9});
  CHECK(argmax(m, 1).to_vector() == std::vector<float>{1, 0});  // ties: first index
  CHECK(argmin(m, 0, true).shape() == Shape{1, 3});
  CHECK(min(m, 0).to_vector() == std::vector<float>{3, 0, -2});
  CHECK(argmax(t, 0).shape() == Shape{3, 4});
  CHECK(argmax(t.permute({2, 1, 0}), 1).at({3, 0}) == 2.0f);
  CHECK(sum_to(Tensor::ones({2, 3, 4}), {3, 1}).to_vector() == std::vector<float>{8, 8, 8});
  CHECK(std::isnan(max(Tensor::from_vector({1, NAN, 3}, {3}), 0).item()));
  CHECK_THROWS_WITH_AS(sum(t, {3}), doctest::Contains("[sum] dimension 3 out of range"), Error);
}

TEST_CASE("tensor: matmul and batched matmul equal the naive reference") {
  Generator gen(1);
  for (const auto& [m, k, n] : {std::tuple{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 48, 80}}) {
    const Tensor a = Tensor::uniform({m, k}, -1, 1, gen), b = Tensor::uniform({k, n}, -1, 1, gen);
    CHECK(allclose(matmul(a, b), matmul_naive(a, b), 1e-4f, 1e-5f));
    // Transposed views go to BLAS without a copy and give the same product.
    const Tensor at = a.transpose(0, 1).contiguous().transpose(0, 1);
    CHECK(allclose(matmul(at, b), matmul_naive(a, b), 1e-4f, 1e-5f));
  }
  const Tensor a = Tensor::uniform({3, 4, 5}, -1, 1, gen), b = Tensor::uniform({3, 5, 2}, -1, 1, gen);
  const Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{3, 4, 2});
  CHECK(allclose(c.select(0, 2), matmul_naive(a.select(0, 2), b.select(0, 2)), 1e-4f, 1e-5f));
  CHECK(allclose(matmul(a, b.select(0, 0)), matmul_naive(a, b.select(0, 0).unsqueeze(0).expand({3, 5, 2})), 1e-4f, 1e-5f));
  CHECK_THROWS_WITH_AS(matmul(Tensor::ones({2, 3}), Tensor::ones({4, 2})),
                       "[matmul] inner sizes differ: (2, 3) @ (4, 2)", Error);
}

TEST_CASE("tensor: cat, index_select0, printing, allclose") {
  const Tensor a = iota({2, 2}), b = add(iota({2, 1}), 10.0f);
  const Tensor c = cat({a, b}, 1);
  CHECK(c.shape() == Shape{2, 3});
  CHECK(c.to_vector() == std::vector<float>{0, 1, 10, 2, 3, 11});
  CHECK(index_select0(iota({3, 2}), {2, 0}).to_vector() == std::vector<float>{4, 5, 0, 1});
  CHECK(a.to_string() == "tensor([[0, 1], [2, 3]], shape=(2, 2))");
  CHECK(iota({20}).to_string().find("...") != std::string::npos);
  CHECK(allclose(add(a, 1.0f), add(a, 1.0f + 1e-6f)));
  CHECK_FALSE(allclose(a, add(a, 1e-2f)));
  CHECK_FALSE(allclose(a, a.reshape({4})));
  CHECK_FALSE(allclose(Tensor::full({1}, NAN), Tensor::full({1}, NAN)));
}

TEST_CASE("tensor: the caching allocator reuses freed buffers") {
  const int64_t before = storage_cache_stats().system_allocations;
  for (int i = 0; i < 50; ++i) {
    Tensor t = Tensor::empty({1000, 1000});
    t.data()[0] = 1.0f;
  }
  CHECK(storage_cache_stats().system_allocations - before <= 1);
}

TEST_CASE("tensor: sgemm (oneDNN) and sgemm_openblas equal the naive loop, all transposes") {
  Generator gen(8);
  const int64_t M = 13, N = 7, K = 21, pad = 3;  // leading dimensions with padding
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
      const Tensor A = Tensor::uniform({(ta ? K : M) * lda}, -1, 1, gen);
      const Tensor B = Tensor::uniform({(tb ? N : K) * ldb}, -1, 1, gen);
      const Tensor C0 = Tensor::uniform({M * ldc}, -1, 1, gen);
      Tensor fast = C0.clone(), blas = C0.clone(), naive = C0.clone();
      sgemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 2.0f, fast.data(), ldc);
      sgemm_openblas(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 2.0f, blas.data(), ldc);
      sgemm_naive(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 2.0f, naive.data(), ldc);
      CHECK(allclose(fast, naive, 1e-5f, 1e-5f));
      CHECK(allclose(blas, naive, 1e-5f, 1e-5f));
    }
}
