// blas.h — the one place kizuki calls OpenBLAS.
//
// sgemm: C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is (M,K), op(B) is (K,N),
// C is (M,N); lda/ldb/ldc are the row strides of A, B, C as stored.
// sgemm_naive is the reference triple loop with the same contract (test oracle, baseline).
#pragma once

#include <cstdint>
#include <string>

namespace kz {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);
void sgemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                 float* C, int64_t ldc);

std::string blas_info();          // OpenBLAS's config string (version, core, threading)
int blas_num_threads();
void blas_set_num_threads(int threads);

}  // namespace kz
