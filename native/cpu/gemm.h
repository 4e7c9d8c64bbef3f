// f32-accumulating GEMM for the CPU backend and every memory kernel:
//   C[i, j] = alpha * sum_k A(i, k) B(k, j) + beta * C[i, j]
// A(i, k) = A[i*rsa + k*csa] and B(k, j) = B[k*rsb + j*csb] (general strides,
// so transposes are stride swaps); C is row-major with row stride rsc.
// A and B may be f32, f16 or bf16 (converted while packing); C is f32.
// beta == 0 never reads C (it may hold NaN poison).
#pragma once
#include <cstdint>

#include "engram/dtype.h"

namespace engram {
namespace cpu {

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const void* A = nullptr;
  DType a_type = DType::F32;
  int64_t rsa = 0, csa = 1;
  const void* B = nullptr;
  DType b_type = DType::F32;
  int64_t rsb = 0, csb = 1;
  float* C = nullptr;
  int64_t rsc = 0;
  float alpha = 1.0f, beta = 0.0f;
};

// Threaded over the pool when called outside a parallel region, single-threaded
// inside one (memory kernels call it per head/chunk from their own tasks).
void gemm(const GemmArgs& g);
// Plain triple loop in double precision: the readable reference.
void gemm_ref(const GemmArgs& g);

// Row-major f32 shorthand: C[M,N] (ldc) = alpha * op(A) op(B) + beta * C.
// A is [M,K] (lda) or, with ta, [K,M]; B is [K,N] (ldb) or, with tb, [N,K].
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Name of the micro-kernel gemm() uses now ("avx512 12x32", ...).
const char* gemm_kernel_name();

}  // namespace cpu
}  // namespace engram
