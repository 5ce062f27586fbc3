/// \file
/// blas.h — kizuki's GEMM, and the one place it calls OpenBLAS.
///
/// sgemm: C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is (M,K), op(B) is (K,N),
/// C is (M,N); lda/ldb/ldc are the row strides of A, B, C as stored.
/// sgemm runs oneDNN's dnnl_sgemm: it dispatches AVX-512 by itself, where this machine's
/// OpenBLAS is pinned to its Haswell (AVX2) kernels (OPENBLAS_CORETYPE, DESIGN.md §4), about
/// half the speed. sgemm_openblas is the same call through OpenBLAS, kept for the benchmark;
/// sgemm_naive is the reference triple loop (test oracle, baseline).
#pragma once

#include <cstdint>
#include <string>

namespace kz {

/// C = alpha·op(A)·op(B) + beta·C through oneDNN's dnnl_sgemm; op transposes when trans_*.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);
/// The same call through OpenBLAS's cblas_sgemm (the benchmark's peer).
void sgemm_openblas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc);
/// The same call as a triple loop: the test oracle and the baseline.
void sgemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                 float* C, int64_t ldc);

std::string blas_info();          ///< OpenBLAS's config string (version, core, threading)
int blas_num_threads();                  ///< OpenBLAS's thread count
void blas_set_num_threads(int threads);  ///< sets OpenBLAS's thread count

}  // namespace kz
