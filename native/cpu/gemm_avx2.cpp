// AVX2/FMA micro-kernel, 6 x 16: 12 ymm accumulators, two B vectors, and
// broadcast loads of A folded into the FMAs. Compiled with a target
// attribute so the rest of the binary stays portable.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace engram {
namespace cpu {

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void ukr_6x16(int64_t kc, const float* A, const float* B, float* C,
                                                         int64_t rsc, float alpha, float beta) {
  __m256 c0a = _mm256_setzero_ps(), c0b = _mm256_setzero_ps();
  __m256 c1a = _mm256_setzero_ps(), c1b = _mm256_setzero_ps();
  __m256 c2a = _mm256_setzero_ps(), c2b = _mm256_setzero_ps();
  __m256 c3a = _mm256_setzero_ps(), c3b = _mm256_setzero_ps();
  __m256 c4a = _mm256_setzero_ps(), c4b = _mm256_setzero_ps();
  __m256 c5a = _mm256_setzero_ps(), c5b = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8);
    __m256 a;
    a = _mm256_broadcast_ss(A + 0); c0a = _mm256_fmadd_ps(a, b0, c0a); c0b = _mm256_fmadd_ps(a, b1, c0b);
    a = _mm256_broadcast_ss(A + 1); c1a = _mm256_fmadd_ps(a, b0, c1a); c1b = _mm256_fmadd_ps(a, b1, c1b);
    a = _mm256_broadcast_ss(A + 2); c2a = _mm256_fmadd_ps(a, b0, c2a); c2b = _mm256_fmadd_ps(a, b1, c2b);
    a = _mm256_broadcast_ss(A + 3); c3a = _mm256_fmadd_ps(a, b0, c3a); c3b = _mm256_fmadd_ps(a, b1, c3b);
    a = _mm256_broadcast_ss(A + 4); c4a = _mm256_fmadd_ps(a, b0, c4a); c4b = _mm256_fmadd_ps(a, b1, c4b);
    a = _mm256_broadcast_ss(A + 5); c5a = _mm256_fmadd_ps(a, b0, c5a); c5b = _mm256_fmadd_ps(a, b1, c5b);
    A += 6;
    B += 16;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  __m256* rows[6][2] = {{&c0a, &c0b}, {&c1a, &c1b}, {&c2a, &c2b}, {&c3a, &c3b}, {&c4a, &c4b}, {&c5a, &c5b}};
  if (beta == 0.0f) {
    for (int r = 0; r < 6; ++r) {
      _mm256_storeu_ps(C + r * rsc, _mm256_mul_ps(va, *rows[r][0]));
      _mm256_storeu_ps(C + r * rsc + 8, _mm256_mul_ps(va, *rows[r][1]));
    }
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
    for (int r = 0; r < 6; ++r) {
      float* c = C + r * rsc;
      _mm256_storeu_ps(c, _mm256_fmadd_ps(va, *rows[r][0], _mm256_mul_ps(vb, _mm256_loadu_ps(c))));
      _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(va, *rows[r][1], _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8))));
    }
  }
}

KernelInfo gemm_kernel_avx2() { return {ukr_6x16, 6, 16, "avx2+fma 6x16"}; }
#else
KernelInfo gemm_kernel_avx2() { return gemm_kernel_generic(); }
#endif

}  // namespace cpu
}  // namespace engram
