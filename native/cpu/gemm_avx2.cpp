// AVX2/FMA GEMM micro-kernel, up to 6 x 16: 12 ymm accumulators, two B
// vectors per k and one broadcast of A per row. Instantiated for every row
// count m = 1..6 and both A layouts (see gemm_kernels.h); column edges use
// masked loads/stores. Compiled with a target attribute so the rest of the
// binary stays portable.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace engram {
namespace cpu {

#if defined(__x86_64__) && defined(__GNUC__)
#define ENGRAM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace {

template <int M, bool AU>
ENGRAM_AVX2 void ukr(const UkrTile& t) {
  __m256 c0[M], c1[M];
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  const float* a = t.a;
  const float* b = t.b;
  const int64_t a_rs = AU ? 1 : t.a_rs, a_ks = t.a_ks, b_ks = t.b_ks;
  // C is read or written only after the k loop: start bringing it in now.
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(t.c + r * t.rsc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(t.c + r * t.rsc + 15), _MM_HINT_T0);
  }
  int pr = 0;  // row whose A line is prefetched next (row-major A)
  for (int64_t k = 0; k < t.kc; ++k) {
    if (!AU) {  // M row streams: help the hardware prefetcher, one row per k
      _mm_prefetch(reinterpret_cast<const char*>(a + pr * a_rs + 64), _MM_HINT_T0);
      pr = pr + 1 == M ? 0 : pr + 1;
    }
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * a_rs);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
    a += a_ks;
    b += b_ks;
  }
  const __m256 va = _mm256_set1_ps(t.alpha), vb = _mm256_set1_ps(t.beta);
  float* c = t.c;
  if (t.n == 16) {
#pragma GCC unroll 6
    for (int r = 0; r < M; ++r) {
      float* p = c + r * t.rsc;
      __m256 x0 = _mm256_mul_ps(va, c0[r]), x1 = _mm256_mul_ps(va, c1[r]);
      if (t.beta != 0.0f) {
        x0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), x0);
        x1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p + 8), x1);
      }
      _mm256_storeu_ps(p, x0);
      _mm256_storeu_ps(p + 8, x1);
    }
    return;
  }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(t.n), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(t.n - 8), lane);
#pragma GCC unroll 6
  for (int r = 0; r < M; ++r) {
    float* p = c + r * t.rsc;
    __m256 x0 = _mm256_mul_ps(va, c0[r]), x1 = _mm256_mul_ps(va, c1[r]);
    if (t.beta != 0.0f) {
      x0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(p, m0), x0);
      x1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(p + 8, m1), x1);
    }
    _mm256_maskstore_ps(p, m0, x0);
    _mm256_maskstore_ps(p + 8, m1, x1);
  }
}

ENGRAM_AVX2 void ukr_6x16(const UkrTile& t) {
  static constexpr MicroKernel unit[6] = {ukr<1, true>, ukr<2, true>, ukr<3, true>,
                                          ukr<4, true>, ukr<5, true>, ukr<6, true>};
  static constexpr MicroKernel rows[6] = {ukr<1, false>, ukr<2, false>, ukr<3, false>,
                                          ukr<4, false>, ukr<5, false>, ukr<6, false>};
  (t.a_rs == 1 ? unit : rows)[t.m - 1](t);
}

ENGRAM_AVX2 void cvt_f16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

ENGRAM_AVX2 void cvt_bf16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  convert_bf16_generic(src + i, dst + i, n - i);
}

template <int DT>
ENGRAM_AVX2 inline __m256 load8(const void* p, int n) {
  if (n == 8) {
    if (DT == 0) return _mm256_loadu_ps(static_cast<const float*>(p));
    const __m128i h = _mm_loadu_si128(static_cast<const __m128i*>(p));
    if (DT == 1) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  alignas(32) float v[8] = {};
  if (DT == 0) {
    for (int i = 0; i < n; ++i) v[i] = static_cast<const float*>(p)[i];
  } else {
    alignas(16) uint16_t h[8] = {};
    for (int i = 0; i < n; ++i) h[i] = static_cast<const uint16_t*>(p)[i];
    return load8<DT>(h, 8);
  }
  return _mm256_load_ps(v);
}

ENGRAM_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j.
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

template <int DT>
ENGRAM_AVX2 void transpose_t(const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld, int lanes) {
  const size_t es = DT == 0 ? 4 : 2;
  const char* s = static_cast<const char*>(src);
  const __m256i out = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t c0 = 0; c0 < cols; c0 += 8) {
    const int nc = (int)(cols - c0 < 8 ? cols - c0 : 8);
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = i < rows ? load8<DT>(s + (i * ld + c0) * es, nc) : _mm256_setzero_ps();
    transpose8(r);
    for (int c = 0; c < nc; ++c) {
      if (lanes == 8) _mm256_storeu_ps(dst + (c0 + c) * dld, r[c]);
      else _mm256_maskstore_ps(dst + (c0 + c) * dld, out, r[c]);
    }
  }
}

ENGRAM_AVX2 void transpose(int dtype, const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld,
                           int lanes) {
  if (dtype == 0) transpose_t<0>(src, ld, rows, cols, dst, dld, lanes);
  else if (dtype == 1) transpose_t<1>(src, ld, rows, cols, dst, dld, lanes);
  else transpose_t<2>(src, ld, rows, cols, dst, dld, lanes);
}

// M rows of A against columns j, j+1 of the transposed B (see gemm_avx512.cpp).
ENGRAM_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Finishes one dot: lanes summed, the k tail [k0, K) added in scalar.
ENGRAM_AVX2 inline void put_dot(float* c, __m256 acc, const float* a, const float* b, int64_t k0, int64_t K,
                                float alpha, float beta) {
  float d = hsum8(acc);
  for (int64_t k = k0; k < K; ++k) d += a[k] * b[k];
  *c = beta == 0.0f ? alpha * d : alpha * d + beta * *c;
}

template <int M>
ENGRAM_AVX2 void dot_m(int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                       int64_t rsc, float alpha, float beta) {
  const int64_t K8 = K & ~int64_t(7);
  int64_t j = 0;
  for (; j + 2 <= n; j += 2) {
    __m256 s0[M], s1[M];
    for (int i = 0; i < M; ++i) s0[i] = s1[i] = _mm256_setzero_ps();
    const float* b0 = B + j * ldb;
    const float* b1 = b0 + ldb;
    for (int64_t k = 0; k < K8; k += 8) {
      const __m256 x0 = _mm256_loadu_ps(b0 + k), x1 = _mm256_loadu_ps(b1 + k);
      for (int i = 0; i < M; ++i) {
        const __m256 a = _mm256_loadu_ps(A + i * lda + k);
        s0[i] = _mm256_fmadd_ps(a, x0, s0[i]);
        s1[i] = _mm256_fmadd_ps(a, x1, s1[i]);
      }
    }
    for (int i = 0; i < M; ++i) {
      put_dot(C + i * rsc + j, s0[i], A + i * lda, b0, K8, K, alpha, beta);
      put_dot(C + i * rsc + j + 1, s1[i], A + i * lda, b1, K8, K, alpha, beta);
    }
  }
  if (j < n) {
    __m256 s0[M];
    for (int i = 0; i < M; ++i) s0[i] = _mm256_setzero_ps();
    const float* b0 = B + j * ldb;
    for (int64_t k = 0; k < K8; k += 8) {
      const __m256 x0 = _mm256_loadu_ps(b0 + k);
      for (int i = 0; i < M; ++i) s0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(A + i * lda + k), x0, s0[i]);
    }
    for (int i = 0; i < M; ++i) put_dot(C + i * rsc + j, s0[i], A + i * lda, b0, K8, K, alpha, beta);
  }
}

ENGRAM_AVX2 void dot(int m, int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                     int64_t rsc, float alpha, float beta) {
  static constexpr void (*fns[4])(int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t,
                                  float, float) = {dot_m<1>, dot_m<2>, dot_m<3>, dot_m<4>};
  fns[m - 1](n, K, A, lda, B, ldb, C, rsc, alpha, beta);
}

}  // namespace

KernelInfo gemm_kernel_avx2() {
  return {ukr_6x16, 6, 16, "avx2+fma 6x16", 256, 120, 1024, cvt_f16, cvt_bf16, transpose, 8, dot};
}
#else
KernelInfo gemm_kernel_avx2() { return gemm_kernel_generic(); }
#endif

}  // namespace cpu
}  // namespace engram
