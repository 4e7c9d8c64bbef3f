// AVX-512 instantiation of the row kernels (vec.h, maths in vec_impl.h):
// 16 lanes, k-masks for tails, F16C / integer-rounding casts.
#include <immintrin.h>

#include <cstdint>

#include "engram/dtype.h"
#include "vec.h"

// GCC 12 flags the _mm512_undefined_* inside its own intrinsics headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// GCC warns that lambdas inside the target region change the vector ABI;
// they are all inlined into the kernels below.
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")

namespace engram {
namespace cpu {
namespace {

struct V512 {
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  struct D {
    __m512d a, b;
  };
  static constexpr int W = 16;
  static M lanes_lt(int n) { return (M)((1u << n) - 1u); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes_lt(n), p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void storen(float* p, F v, int n) { _mm512_mask_storeu_ps(p, lanes_lt(n), v); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F zero() { return _mm512_setzero_ps(); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F sqrt(F a) { return _mm512_sqrt_ps(a); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
  static F fmsub(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F abs(F a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff))); }
  static F round(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M isnan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M mor(M a, M b) { return (M)(a | b); }
  static bool any(M a) { return a != 0; }
  static F blend(M m, F a, F b) { return _mm512_mask_blend_ps(m, a, b); }
  static I cvt_i(F a) { return _mm512_cvtps_epi32(a); }
  static F cvt_f(I a) { return _mm512_cvtepi32_ps(a); }
  static I cast_i(F a) { return _mm512_castps_si512(a); }
  static F cast_f(I a) { return _mm512_castsi512_ps(a); }
  static I add_i(I a, I b) { return _mm512_add_epi32(a, b); }
  static I sub_i(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I and_i(I a, I b) { return _mm512_and_si512(a, b); }
  static I or_i(I a, I b) { return _mm512_or_si512(a, b); }
  static I set1_i(int v) { return _mm512_set1_epi32(v); }
  static I srai(I a, int n) { return _mm512_srai_epi32(a, (unsigned)n); }
  static I srli(I a, int n) { return _mm512_srli_epi32(a, (unsigned)n); }
  static I slli(I a, int n) { return _mm512_slli_epi32(a, (unsigned)n); }
  static float hsum(F a) { return _mm512_reduce_add_ps(a); }
  static float hmax(F a) { return _mm512_reduce_max_ps(a); }
  static __m512d lo8(F a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
  static __m512d hi8(F a) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)); }
  static D dzero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
  static D dadd(D d, F v) { return {_mm512_add_pd(d.a, lo8(v)), _mm512_add_pd(d.b, hi8(v))}; }
  static D dfma_sq(D d, F v) {
    const __m512d l = lo8(v), h = hi8(v);
    return {_mm512_fmadd_pd(l, l, d.a), _mm512_fmadd_pd(h, h, d.b)};
  }
  static double dsum(D d) { return _mm512_reduce_add_pd(_mm512_add_pd(d.a, d.b)); }
  static void dacc(double* p, F v, int n) {
    const __mmask8 ml = (__mmask8)(n >= 8 ? 0xff : (1u << n) - 1u);
    const __mmask8 mh = (__mmask8)(n <= 8 ? 0 : (n >= 16 ? 0xff : (1u << (n - 8)) - 1u));
    _mm512_mask_storeu_pd(p, ml, _mm512_add_pd(_mm512_maskz_loadu_pd(ml, p), lo8(v)));
    _mm512_mask_storeu_pd(p + 8, mh, _mm512_add_pd(_mm512_maskz_loadu_pd(mh, p + 8), hi8(v)));
  }
};

#include "vec_impl.h"

void unary(const UnaryParams& p, const float* x, float* y, int64_t n) { unary_row<V512>(p, x, y, n); }
void binary(BinaryFn fn, const float* a, bool as, const float* b, bool bs, float* o, int64_t n) {
  binary_row<V512>(fn, a, as, b, bs, o, n);
}
float vmax(const float* x, int64_t n) { return max_row<V512>(x, n); }
double vsum(const float* x, int64_t n) { return sum_row<V512>(x, n); }
double vsumsq(const float* x, float c, int64_t n) { return sumsq_row<V512>(x, c, n); }
void acc_sum(double* acc, const float* x, int64_t n) { acc_sum_row<V512>(acc, x, n); }
void acc_max(float* acc, const float* x, int64_t n) { acc_max_row<V512>(acc, x, n); }
float exp_sum(const float* x, float m, float* y, int64_t n) { return exp_sum_row<V512>(x, m, y, n); }
void scale(const float* x, float s, float* y, int64_t n) { scale_row<V512>(x, s, y, n); }
void norm(const float* x, float mean, float inv, const float* w, const float* b, float* y, int64_t n) {
  norm_row<V512>(x, mean, inv, w, b, y, n);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  if (i < n) {
    const __mmask16 m = V512::lanes_lt((int)(n - i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
  }
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (i < n) {
    const __mmask16 m = V512::lanes_lt((int)(n - i));
    _mm256_mask_storeu_epi16(y + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
  if (i < n) {
    const __mmask16 m = V512::lanes_lt((int)(n - i));
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
}

// Round to nearest even on the integer bits (exactly f32_to_bf16): add
// 0x7fff + lsb, keep the high half; NaN -> quiet NaN.
inline __m256i bf16_round(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb)), 16);
  const __mmask16 nan =
      _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  r = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
  return _mm512_cvtepi32_epi16(r);
}

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), bf16_round(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = V512::lanes_lt((int)(n - i));
    _mm256_mask_storeu_epi16(y + i, m, bf16_round(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace

const VecKernels* vec_kernels_avx512() {
  static const VecKernels k = {"avx512", unary,      binary,     vmax,       vsum,       vsumsq,    acc_sum,
                               acc_max,  exp_sum,    scale,      norm,       f16_to_f32, f32_to_f16, bf16_to_f32,
                               f32_to_bf16};
  return &k;
}

}  // namespace cpu
}  // namespace engram

#pragma GCC pop_options
#else
namespace engram {
namespace cpu {
const VecKernels* vec_kernels_avx512() { return nullptr; }
}  // namespace cpu
}  // namespace engram
#endif
