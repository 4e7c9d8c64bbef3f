// AVX-512 GEMM micro-kernel, up to 12 x 32: 24 zmm accumulators, two B
// vectors per k and one broadcast of A per row. Instantiated for every row
// count m = 1..12 (edge tiles run at full speed, no scratch copy) and for the
// two A layouts (unit row stride: packed or column-major; unit k stride:
// row-major read in place). Column edges use masked stores.
#include <immintrin.h>

#include <type_traits>

#include "gemm_kernels.h"

// GCC 12 flags the _mm512_undefined_* inside its own intrinsics headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace engram {
namespace cpu {

#if defined(__x86_64__) && defined(__GNUC__)
#define ENGRAM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

namespace {

template <int M, bool AU>
ENGRAM_AVX512 void ukr(const UkrTile& t) {
  __m512 c0[M], c1[M];
#pragma GCC unroll 12
  for (int r = 0; r < M; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  const float* a = t.a;
  const float* b = t.b;
  const int64_t a_rs = AU ? 1 : t.a_rs, a_ks = t.a_ks, b_ks = t.b_ks;
  // C is read or written only after the k loop: start bringing it in now.
#pragma GCC unroll 12
  for (int r = 0; r < M; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(t.c + r * t.rsc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(t.c + r * t.rsc + 31), _MM_HINT_T0);
  }
  int pr = 0;  // row whose A line is prefetched next (row-major A)
  for (int64_t k = 0; k < t.kc; ++k) {
    // A read in place row by row is M streams the hardware prefetcher loses
    // track of: fetch each row 4 lines ahead, one row per k.
    if (!AU) {
      _mm_prefetch(reinterpret_cast<const char*>(a + pr * a_rs + 64), _MM_HINT_T0);
      pr = pr + 1 == M ? 0 : pr + 1;
    }
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int r = 0; r < M; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * a_rs]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    a += a_ks;
    b += b_ks;
  }
  const __m512 va = _mm512_set1_ps(t.alpha);
  float* c = t.c;
  if (t.n == 32) {
    if (t.beta == 0.0f) {
#pragma GCC unroll 12
      for (int r = 0; r < M; ++r) {
        _mm512_storeu_ps(c + r * t.rsc, _mm512_mul_ps(va, c0[r]));
        _mm512_storeu_ps(c + r * t.rsc + 16, _mm512_mul_ps(va, c1[r]));
      }
    } else {
      const __m512 vb = _mm512_set1_ps(t.beta);
#pragma GCC unroll 12
      for (int r = 0; r < M; ++r) {
        float* p = c + r * t.rsc;
        _mm512_storeu_ps(p, _mm512_fmadd_ps(va, c0[r], _mm512_mul_ps(vb, _mm512_loadu_ps(p))));
        _mm512_storeu_ps(p + 16, _mm512_fmadd_ps(va, c1[r], _mm512_mul_ps(vb, _mm512_loadu_ps(p + 16))));
      }
    }
    return;
  }
  const int n = t.n;
  const __mmask16 k0 = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
  const __mmask16 k1 = n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1u);
  const __m512 vb = _mm512_set1_ps(t.beta);
#pragma GCC unroll 12
  for (int r = 0; r < M; ++r) {
    float* p = c + r * t.rsc;
    __m512 x0 = _mm512_mul_ps(va, c0[r]), x1 = _mm512_mul_ps(va, c1[r]);
    if (t.beta != 0.0f) {
      x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, p), x0);
      x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, p + 16), x1);
    }
    _mm512_mask_storeu_ps(p, k0, x0);
    _mm512_mask_storeu_ps(p + 16, k1, x1);
  }
}

ENGRAM_AVX512 void ukr_12x32(const UkrTile& t) {
  static constexpr MicroKernel unit[12] = {ukr<1, true>, ukr<2, true>, ukr<3, true>, ukr<4, true>,
                                           ukr<5, true>, ukr<6, true>, ukr<7, true>, ukr<8, true>,
                                           ukr<9, true>, ukr<10, true>, ukr<11, true>, ukr<12, true>};
  static constexpr MicroKernel rows[12] = {ukr<1, false>, ukr<2, false>, ukr<3, false>, ukr<4, false>,
                                           ukr<5, false>, ukr<6, false>, ukr<7, false>, ukr<8, false>,
                                           ukr<9, false>, ukr<10, false>, ukr<11, false>, ukr<12, false>};
  (t.a_rs == 1 ? unit : rows)[t.m - 1](t);
}

// f16 -> f32 with F16C (exact; NaNs stay NaN).
ENGRAM_AVX512 void cvt_f16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

// bf16 -> f32 is a 16-bit shift.
ENGRAM_AVX512 void cvt_bf16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
    _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
}

template <int DT>
ENGRAM_AVX512 inline __m512 load16(const void* p, __mmask16 m) {
  if (DT == 0) return _mm512_maskz_loadu_ps(m, p);
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  if (DT == 1) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// 16 x 16 in-register transpose: unpack pairs, 4x4 blocks in each 128-bit
// lane, then two rounds of 128-bit lane shuffles.
ENGRAM_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j.
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512 x0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), x1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    const __m512 y0 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88),
                 y1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    t[j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
    t[4 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

template <int DT>
ENGRAM_AVX512 void transpose_t(const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld,
                               int lanes) {
  using E = typename std::conditional<DT == 0, float, uint16_t>::type;
  const E* s = static_cast<const E*>(src);
  const __mmask16 out = (__mmask16)((1u << lanes) - 1u);
  for (int64_t c0 = 0; c0 < cols; c0 += 16) {
    const int nc = (int)(cols - c0 < 16 ? cols - c0 : 16);
    const __mmask16 in = (__mmask16)((1u << nc) - 1u);
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? load16<DT>(s + i * ld + c0, in) : _mm512_setzero_ps();
    transpose16(r);
    for (int c = 0; c < nc; ++c) _mm512_mask_storeu_ps(dst + (c0 + c) * dld, out, r[c]);
  }
}

ENGRAM_AVX512 void transpose(int dtype, const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld,
                             int lanes) {
  if (dtype == 0) transpose_t<0>(src, ld, rows, cols, dst, dld, lanes);
  else if (dtype == 1) transpose_t<1>(src, ld, rows, cols, dst, dld, lanes);
  else transpose_t<2>(src, ld, rows, cols, dst, dld, lanes);
}

// M rows of A against columns j, j+1 of the transposed B: 2M accumulators,
// one A load per row feeds two FMAs.
ENGRAM_AVX512 inline void put_dot(float* c, __m512 acc, float alpha, float beta) {
  const float d = _mm512_reduce_add_ps(acc);
  *c = beta == 0.0f ? alpha * d : alpha * d + beta * *c;
}

template <int M>
ENGRAM_AVX512 void dot_m(int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                         int64_t rsc, float alpha, float beta) {
  const int64_t K16 = K & ~int64_t(15);
  const __mmask16 tail = (__mmask16)((1u << (K - K16)) - 1u);
  int64_t j = 0;
  for (; j + 2 <= n; j += 2) {
    __m512 s0[M], s1[M];
    for (int i = 0; i < M; ++i) s0[i] = s1[i] = _mm512_setzero_ps();
    const float* b0 = B + j * ldb;
    const float* b1 = b0 + ldb;
    for (int64_t k = 0; k < K16; k += 16) {
      const __m512 x0 = _mm512_loadu_ps(b0 + k), x1 = _mm512_loadu_ps(b1 + k);
      for (int i = 0; i < M; ++i) {
        const __m512 a = _mm512_loadu_ps(A + i * lda + k);
        s0[i] = _mm512_fmadd_ps(a, x0, s0[i]);
        s1[i] = _mm512_fmadd_ps(a, x1, s1[i]);
      }
    }
    if (tail) {
      const __m512 x0 = _mm512_maskz_loadu_ps(tail, b0 + K16), x1 = _mm512_maskz_loadu_ps(tail, b1 + K16);
      for (int i = 0; i < M; ++i) {
        const __m512 a = _mm512_maskz_loadu_ps(tail, A + i * lda + K16);
        s0[i] = _mm512_fmadd_ps(a, x0, s0[i]);
        s1[i] = _mm512_fmadd_ps(a, x1, s1[i]);
      }
    }
    for (int i = 0; i < M; ++i) {
      put_dot(C + i * rsc + j, s0[i], alpha, beta);
      put_dot(C + i * rsc + j + 1, s1[i], alpha, beta);
    }
  }
  if (j < n) {
    __m512 s0[M];
    for (int i = 0; i < M; ++i) s0[i] = _mm512_setzero_ps();
    const float* b0 = B + j * ldb;
    for (int64_t k = 0; k < K16; k += 16) {
      const __m512 x0 = _mm512_loadu_ps(b0 + k);
      for (int i = 0; i < M; ++i) s0[i] = _mm512_fmadd_ps(_mm512_loadu_ps(A + i * lda + k), x0, s0[i]);
    }
    if (tail) {
      const __m512 x0 = _mm512_maskz_loadu_ps(tail, b0 + K16);
      for (int i = 0; i < M; ++i)
        s0[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, A + i * lda + K16), x0, s0[i]);
    }
    for (int i = 0; i < M; ++i) put_dot(C + i * rsc + j, s0[i], alpha, beta);
  }
}

ENGRAM_AVX512 void dot(int m, int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                       float* C, int64_t rsc, float alpha, float beta) {
  static constexpr void (*fns[4])(int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t,
                                  float, float) = {dot_m<1>, dot_m<2>, dot_m<3>, dot_m<4>};
  fns[m - 1](n, K, A, lda, B, ldb, C, rsc, alpha, beta);
}

}  // namespace

KernelInfo gemm_kernel_avx512() {
  return {ukr_12x32, 12, 32, "avx512 12x32", 256, 144, 2048, cvt_f16, cvt_bf16, transpose, 16, dot};
}
#else
KernelInfo gemm_kernel_avx512() { return gemm_kernel_generic(); }
#endif

}  // namespace cpu
}  // namespace engram
