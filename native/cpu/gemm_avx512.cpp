// AVX-512 micro-kernel, 12 x 32: 24 zmm accumulators; A broadcasts are folded
// into the FMAs as {1to16} memory operands.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace engram {
namespace cpu {

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,fma"))) static void ukr_12x32(int64_t kc, const float* A, const float* B, float* C,
                                                             int64_t rsc, float alpha, float beta) {
  __m512 c[12][2];
  for (int r = 0; r < 12; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);
#pragma GCC unroll 12
    for (int r = 0; r < 12; ++r) {
      __m512 a = _mm512_set1_ps(A[r]);
      c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
    }
    A += 12;
    B += 32;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int r = 0; r < 12; ++r) {
      _mm512_storeu_ps(C + r * rsc, _mm512_mul_ps(va, c[r][0]));
      _mm512_storeu_ps(C + r * rsc + 16, _mm512_mul_ps(va, c[r][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int r = 0; r < 12; ++r) {
      float* p = C + r * rsc;
      _mm512_storeu_ps(p, _mm512_fmadd_ps(va, c[r][0], _mm512_mul_ps(vb, _mm512_loadu_ps(p))));
      _mm512_storeu_ps(p + 16, _mm512_fmadd_ps(va, c[r][1], _mm512_mul_ps(vb, _mm512_loadu_ps(p + 16))));
    }
  }
}

KernelInfo gemm_kernel_avx512() { return {ukr_12x32, 12, 32, "avx512 12x32"}; }
#else
KernelInfo gemm_kernel_avx512() { return gemm_kernel_generic(); }
#endif

}  // namespace cpu
}  // namespace engram
