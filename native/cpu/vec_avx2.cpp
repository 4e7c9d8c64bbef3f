// AVX2/FMA instantiation of the row kernels (vec.h, maths in vec_impl.h):
// 8 lanes, vector masks (maskload/maskstore) for tails, F16C casts.
#include <immintrin.h>

#include <cstdint>

#include "engram/dtype.h"
#include "vec.h"

// GCC warns that lambdas inside the target region change the vector ABI;
// they are all inlined into the kernels below.
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace engram {
namespace cpu {
namespace {

struct V256 {
  using F = __m256;
  using I = __m256i;
  using M = __m256;  // all-ones lanes
  struct D {
    __m256d a, b;
  };
  static constexpr int W = 8;
  static __m256i lanes_i(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static M lanes_lt(int n) { return _mm256_castsi256_ps(lanes_i(n)); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F loadn(const float* p, int n) { return _mm256_maskload_ps(p, lanes_i(n)); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void storen(float* p, F v, int n) { _mm256_maskstore_ps(p, lanes_i(n), v); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F zero() { return _mm256_setzero_ps(); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
  static F fmsub(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F abs(F a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static F round(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M le(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M isnan(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static bool any(M a) { return _mm256_movemask_ps(a) != 0; }
  static F blend(M m, F a, F b) { return _mm256_blendv_ps(a, b, m); }
  static I cvt_i(F a) { return _mm256_cvtps_epi32(a); }
  static F cvt_f(I a) { return _mm256_cvtepi32_ps(a); }
  static I cast_i(F a) { return _mm256_castps_si256(a); }
  static F cast_f(I a) { return _mm256_castsi256_ps(a); }
  static I add_i(I a, I b) { return _mm256_add_epi32(a, b); }
  static I sub_i(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I and_i(I a, I b) { return _mm256_and_si256(a, b); }
  static I or_i(I a, I b) { return _mm256_or_si256(a, b); }
  static I set1_i(int v) { return _mm256_set1_epi32(v); }
  static I srai(I a, int n) { return _mm256_srai_epi32(a, n); }
  static I srli(I a, int n) { return _mm256_srli_epi32(a, n); }
  static I slli(I a, int n) { return _mm256_slli_epi32(a, n); }
  static float hsum(F a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(F a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static __m256d lo4(F a) { return _mm256_cvtps_pd(_mm256_castps256_ps128(a)); }
  static __m256d hi4(F a) { return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)); }
  static D dzero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
  static D dadd(D d, F v) { return {_mm256_add_pd(d.a, lo4(v)), _mm256_add_pd(d.b, hi4(v))}; }
  static D dfma_sq(D d, F v) {
    const __m256d l = lo4(v), h = hi4(v);
    return {_mm256_fmadd_pd(l, l, d.a), _mm256_fmadd_pd(h, h, d.b)};
  }
  static double dsum(D d) {
    const __m256d s = _mm256_add_pd(d.a, d.b);
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
  }
  static void dacc(double* p, F v, int n) {
    if (n == 8) {
      _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), lo4(v)));
      _mm256_storeu_pd(p + 4, _mm256_add_pd(_mm256_loadu_pd(p + 4), hi4(v)));
      return;
    }
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    for (int i = 0; i < n; ++i) p[i] += (double)t[i];
  }
};

#include "vec_impl.h"

void unary(const UnaryParams& p, const float* x, float* y, int64_t n) { unary_row<V256>(p, x, y, n); }
void binary(BinaryFn fn, const float* a, bool as, const float* b, bool bs, float* o, int64_t n) {
  binary_row<V256>(fn, a, as, b, bs, o, n);
}
float vmax(const float* x, int64_t n) { return max_row<V256>(x, n); }
double vsum(const float* x, int64_t n) { return sum_row<V256>(x, n); }
double vsumsq(const float* x, float c, int64_t n) { return sumsq_row<V256>(x, c, n); }
void acc_sum(double* acc, const float* x, int64_t n) { acc_sum_row<V256>(acc, x, n); }
void acc_max(float* acc, const float* x, int64_t n) { acc_max_row<V256>(acc, x, n); }
float exp_sum(const float* x, float m, float* y, int64_t n) { return exp_sum_row<V256>(x, m, y, n); }
void scale(const float* x, float s, float* y, int64_t n) { scale_row<V256>(x, s, y, n); }
void norm(const float* x, float mean, float inv, const float* w, const float* b, float* y, int64_t n) {
  norm_row<V256>(x, mean, inv, w, b, y, n);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  for (; i < n; ++i) y[i] = engram::f16_to_f32(x[i]);
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = engram::f32_to_f16(x[i]);
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; i < n; ++i) y[i] = engram::bf16_to_f32(x[i]);
}

// Round to nearest even on the integer bits (exactly f32_to_bf16).
void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
    const __m256i nan =
        _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40)), nan);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
  }
  for (; i < n; ++i) y[i] = engram::f32_to_bf16(x[i]);
}

}  // namespace

const VecKernels* vec_kernels_avx2() {
  static const VecKernels k = {"avx2", unary,   binary, vmax, vsum,       vsumsq,     acc_sum,    acc_max,
                               exp_sum, scale, norm,   f16_to_f32, f32_to_f16, bf16_to_f32, f32_to_bf16};
  return &k;
}

}  // namespace cpu
}  // namespace engram

#pragma GCC pop_options
#else
namespace engram {
namespace cpu {
const VecKernels* vec_kernels_avx2() { return nullptr; }
}  // namespace cpu
}  // namespace engram
#endif
