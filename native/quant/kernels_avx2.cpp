// AVX2/FMA kernels over encoded blocks (the fast twins of kernels.cpp's
// references; test_quant checks them against the references on odd sizes).
// The core trick: 8 consecutive b-bit codes are exactly b bytes of the
// LSB-first stream, so one b-byte load, a broadcast, a variable shift by
// [0, b, ..., 7b] and a mask give the 8 indices in 8 lanes; a codebook of up
// to 8 entries is one vpermps away (16 entries: two and a blend on bit 3).
// Compiled with target attributes so the binary stays portable.
#include "kernels.h"

#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace engram {
namespace quant {
namespace avx2 {

#if defined(__x86_64__) && defined(__GNUC__)

#define Q_TARGET __attribute__((target("avx2,fma,f16c")))
#define Q_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) static inline

namespace {

Q_INLINE float hsum(__m256 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

// b bytes starting at p as a little-endian integer. B = 3 reads a 4th byte
// (its bits are never used): 3-bit streams only occur in TurboQuant records,
// whose index streams are always followed by at least the norms.
template <int B>
Q_INLINE uint32_t load_bytes(const uint8_t* p) {
  if (B == 1) return p[0];
  if (B == 2) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return h;
  }
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// The 8 codes of width B at p (byte-aligned group) in 8 lanes.
template <int B>
Q_INLINE __m256i expand(const uint8_t* p) {
  const __m256i sh = _mm256_setr_epi32(0, B, 2 * B, 3 * B, 4 * B, 5 * B, 6 * B, 7 * B);
  const __m256i w = _mm256_set1_epi32((int)load_bytes<B>(p));
  return _mm256_and_si256(_mm256_srlv_epi32(w, sh), _mm256_set1_epi32((1 << B) - 1));
}

template <int B>
Q_INLINE __m256 lookup(__m256i idx, __m256 lo, __m256 hi) {
  __m256 v = _mm256_permutevar8x32_ps(lo, idx);
  if (B == 4) {
    __m256 h = _mm256_permutevar8x32_ps(hi, idx);
    v = _mm256_blendv_ps(v, h, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
  }
  return v;
}

// ±1 sign masks for 8 sign bits (bit set = +1): XOR with a float flips it.
Q_INLINE __m256 sign_mask(uint8_t byte) {
  const __m256i sh = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i b = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(byte), sh), _mm256_set1_epi32(1));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_xor_si256(b, _mm256_set1_epi32(1)), 31));
}

Q_INLINE __m256 load_row(TileKind k, const uint8_t* p) {
  if (k == TileKind::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (k == TileKind::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// ---- scores -----------------------------------------------------------------

// Stored norms: F16C conversion in the AVX2 kernels.
Q_INLINE float load_norm(const uint8_t* p, bool f32) {
  if (f32) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8)));
}

// Independent accumulators per query: one FMA chain per query would be
// latency-bound at M = 1.
template <int M>
struct NAcc {
  static constexpr int value = M == 1 ? 4 : M == 2 ? 2 : 1;
};

// tot[m] += scale · Σ_k q[m][k] lut[code_k] over n b-bit codes (vector partial
// sums; the n % 8 tail goes to tail[m]).
template <int B, int M>
Q_INLINE void rot_dot(const float* q, int64_t ldq, const uint8_t* codes, int n, const float* lut, float scale, __m256* tot,
                      float* tail) {
  constexpr int NA = NAcc<M>::value;
  const __m256 lo = _mm256_loadu_ps(lut), hi = _mm256_loadu_ps(lut + 8);
  __m256 acc[M][NA];
  for (int m = 0; m < M; ++m)
    for (int a = 0; a < NA; ++a) acc[m][a] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 * NA <= n; k += 8 * NA)
    for (int a = 0; a < NA; ++a) {
      const __m256 v = lookup<B>(expand<B>(codes + (k / 8 + a) * B), lo, hi);
      for (int m = 0; m < M; ++m) acc[m][a] = _mm256_fmadd_ps(_mm256_loadu_ps(q + m * ldq + k + 8 * a), v, acc[m][a]);
    }
  for (; k + 8 <= n; k += 8) {
    const __m256 v = lookup<B>(expand<B>(codes + (k / 8) * B), lo, hi);
    for (int m = 0; m < M; ++m) acc[m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + m * ldq + k), v, acc[m][0]);
  }
  const __m256 sc = _mm256_set1_ps(scale);
  for (int m = 0; m < M; ++m) {
    __m256 t = acc[m][0];
    for (int a = 1; a < NA; ++a) t = _mm256_add_ps(t, acc[m][a]);
    tot[m] = _mm256_fmadd_ps(sc, t, tot[m]);
  }
  for (; k < n; ++k)
    for (int m = 0; m < M; ++m) tail[m] += scale * q[m * ldq + k] * lut[get_code(codes, k, B)];
}

template <int M>
Q_INLINE void rot_dot_b(int b, const float* q, int64_t ldq, const uint8_t* codes, int n, const float* lut, float scale,
                        __m256* tot, float* tail) {
  switch (b) {
    case 1: rot_dot<1, M>(q, ldq, codes, n, lut, scale, tot, tail); break;
    case 2: rot_dot<2, M>(q, ldq, codes, n, lut, scale, tot, tail); break;
    case 3: rot_dot<3, M>(q, ldq, codes, n, lut, scale, tot, tail); break;
    default: rot_dot<4, M>(q, ldq, codes, n, lut, scale, tot, tail); break;
  }
}

// tot[m] += scale · Σ_k ±q[m][k] (sign bit set = +).
template <int M>
Q_INLINE void sign_dot(const float* q, int64_t ldq, const uint8_t* signs, int n, float scale, __m256* tot, float* tail) {
  constexpr int NA = NAcc<M>::value;
  __m256 acc[M][NA];
  for (int m = 0; m < M; ++m)
    for (int a = 0; a < NA; ++a) acc[m][a] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 * NA <= n; k += 8 * NA)
    for (int a = 0; a < NA; ++a) {
      const __m256 sm = sign_mask(signs[k / 8 + a]);
      for (int m = 0; m < M; ++m)
        acc[m][a] = _mm256_add_ps(acc[m][a], _mm256_xor_ps(_mm256_loadu_ps(q + m * ldq + k + 8 * a), sm));
    }
  for (; k + 8 <= n; k += 8) {
    const __m256 sm = sign_mask(signs[k / 8]);
    for (int m = 0; m < M; ++m) acc[m][0] = _mm256_add_ps(acc[m][0], _mm256_xor_ps(_mm256_loadu_ps(q + m * ldq + k), sm));
  }
  const __m256 sc = _mm256_set1_ps(scale);
  for (int m = 0; m < M; ++m) {
    __m256 t = acc[m][0];
    for (int a = 1; a < NA; ++a) t = _mm256_add_ps(t, acc[m][a]);
    tot[m] = _mm256_fmadd_ps(sc, t, tot[m]);
  }
  for (; k < n; ++k)
    for (int m = 0; m < M; ++m) tail[m] += scale * (get_code(signs, k, 1) ? q[m * ldq + k] : -q[m * ldq + k]);
}

template <int M>
Q_TARGET void scores_sketch(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok,
                            float* s, int64_t lds) {
  const bool f32 = D.f32_scalars != 0;
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    __m256 tot[M];
    float tail[M];
    for (int m = 0; m < M; ++m) tot[m] = _mm256_setzero_ps(), tail[m] = 0.0f;
    for (int g = 0; g < D.ngroups; ++g) {
      const TileGroup& G = D.g[g];
      const float nrm = load_norm(rec + G.norm_off, f32);
      if (G.rot_dim) rot_dot_b<M>(G.bits, qt + G.rot_t, ldq, rec + G.idx_off, G.rot_dim, G.lut, nrm, tot, tail);
      if (G.sk_dim) {
        float sc = nrm * G.sk_scale;
        if (G.rnorm_off >= 0) sc *= load_norm(rec + G.rnorm_off, f32);
        sign_dot<M>(qt + G.sk_t, ldq, rec + G.sign_off, G.sk_dim, sc, tot, tail);
      }
    }
    for (int m = 0; m < M; ++m) s[m * lds + j] = hsum(tot[m]) + tail[m] + (D.bias_t >= 0 ? qt[m * ldq + D.bias_t] : 0.0f);
  }
}

template <int M>
Q_TARGET void scores_plain(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok,
                           float* s, int64_t lds) {
  constexpr int NA = NAcc<M>::value;
  const int d = D.dim, es = D.kind == TileKind::F32 ? 4 : 2;
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    __m256 acc[M][NA];
    for (int m = 0; m < M; ++m)
      for (int a = 0; a < NA; ++a) acc[m][a] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 * NA <= d; k += 8 * NA)
      for (int a = 0; a < NA; ++a) {
        const __m256 v = load_row(D.kind, rec + (k + 8 * a) * es);
        for (int m = 0; m < M; ++m) acc[m][a] = _mm256_fmadd_ps(_mm256_loadu_ps(qt + m * ldq + k + 8 * a), v, acc[m][a]);
      }
    for (; k + 8 <= d; k += 8) {
      const __m256 v = load_row(D.kind, rec + k * es);
      for (int m = 0; m < M; ++m) acc[m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(qt + m * ldq + k), v, acc[m][0]);
    }
    for (int m = 0; m < M; ++m) {
      __m256 t = acc[m][0];
      for (int a = 1; a < NA; ++a) t = _mm256_add_ps(t, acc[m][a]);
      float r = hsum(t);
      for (int kk = k; kk < d; ++kk) r += qt[m * ldq + kk] * tile_elem(D, rec, 0, kk);
      s[m * lds + j] = r;
    }
  }
}

template <int B, int M>
Q_TARGET void scores_kivi_token(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok,
                                float* s, int64_t lds) {
  const int d = D.dim, G = D.group, sb = D.f32_scalars ? 4 : 2;
  const bool f32 = D.f32_scalars != 0;
  const __m256 ramp_lo = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), ramp_hi = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);
  const int64_t codes = stream_bytes(d, B);
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    __m256 acc[M];
    for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
    int k = 0;
    for (int g0 = 0, gi = 0; g0 < d; g0 += G, ++gi) {
      const uint8_t* st = rec + codes + (int64_t)gi * 2 * sb;
      const __m256 sc = _mm256_set1_ps(load_norm(st, f32)), z = _mm256_set1_ps(load_norm(st + sb, f32));
      const __m256 lo = _mm256_fmadd_ps(sc, ramp_lo, z), hi = _mm256_fmadd_ps(sc, ramp_hi, z);
      const int g1 = g0 + G < d ? g0 + G : d;
      for (k = g0; k + 8 <= g1; k += 8) {
        const __m256 v = lookup<B>(expand<B>(rec + (k / 8) * B), lo, hi);
        for (int m = 0; m < M; ++m) acc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(qt + m * ldq + k), v, acc[m]);
      }
    }
    for (int m = 0; m < M; ++m) {
      float t = hsum(acc[m]);
      for (int kk = k; kk < d; ++kk) t += qt[m * ldq + kk] * tile_elem(D, rec, 0, kk);
      s[m * lds + j] = t;
    }
  }
}

template <int B, int M>
Q_TARGET void scores_kivi_channel(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks,
                                  int64_t n_tok, float* s, int64_t lds) {
  const int d = D.dim, G = D.block_tokens, sb = D.f32_scalars ? 4 : 2;
  const bool f32 = D.f32_scalars != 0;
  std::vector<float> w((size_t)M * d);
  float bias[M];
  for (int64_t b = 0; b < n_tok / G; ++b) {
    const uint8_t* blk = blocks + b * D.block_bytes;
    const uint8_t* st = blk + (int64_t)D.row_bytes * G;
    for (int m = 0; m < M; ++m) {
      double bs = 0;
      for (int c = 0; c < d; ++c) {
        const float sc = load_norm(st + (int64_t)c * 2 * sb, f32), z = load_norm(st + (int64_t)c * 2 * sb + sb, f32);
        w[(size_t)m * d + c] = qt[m * ldq + c] * sc;
        bs += (double)qt[m * ldq + c] * z;
      }
      bias[m] = (float)bs;
    }
    for (int t = 0; t < G; ++t) {
      const uint8_t* row = blk + (int64_t)t * D.row_bytes;
      __m256 acc[M];
      for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
      int k = 0;
      for (; k + 8 <= d; k += 8) {
        const __m256 v = _mm256_cvtepi32_ps(expand<B>(row + (k / 8) * B));
        for (int m = 0; m < M; ++m) acc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(w.data() + (size_t)m * d + k), v, acc[m]);
      }
      for (int m = 0; m < M; ++m) {
        float r = hsum(acc[m]) + bias[m];
        for (int kk = k; kk < d; ++kk) r += w[(size_t)m * d + kk] * (float)get_code(row, kk, B);
        s[m * lds + b * G + t] = r;
      }
    }
  }
}

template <int M>
Q_TARGET void scores_int8(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok,
                          float* s, int64_t lds) {
  const int d = D.dim;
  const bool f32 = D.f32_scalars != 0;
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    __m256 acc[M];
    for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= d; k += 8) {
      const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(rec + k))));
      for (int m = 0; m < M; ++m) acc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(qt + m * ldq + k), v, acc[m]);
    }
    const float sc = load_norm(rec + d, f32);
    for (int m = 0; m < M; ++m) {
      float t = hsum(acc[m]);
      for (int kk = k; kk < d; ++kk) t += qt[m * ldq + kk] * (float)(int8_t)rec[kk];
      s[m * lds + j] = sc * t;
    }
  }
}

template <int M>
void scores_m(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok, float* s,
              int64_t lds) {
  switch (D.kind) {
    case TileKind::F32:
    case TileKind::F16:
    case TileKind::BF16: return scores_plain<M>(D, qt, ldq, blocks, n_tok, s, lds);
    case TileKind::TURBO:
    case TileKind::QJL: return scores_sketch<M>(D, qt, ldq, blocks, n_tok, s, lds);
    case TileKind::KIVI_TOKEN:
      return D.bits == 2 ? scores_kivi_token<2, M>(D, qt, ldq, blocks, n_tok, s, lds)
                         : scores_kivi_token<4, M>(D, qt, ldq, blocks, n_tok, s, lds);
    case TileKind::KIVI_CHANNEL:
      return D.bits == 2 ? scores_kivi_channel<2, M>(D, qt, ldq, blocks, n_tok, s, lds)
                         : scores_kivi_channel<4, M>(D, qt, ldq, blocks, n_tok, s, lds);
    case TileKind::INT8: return scores_int8<M>(D, qt, ldq, blocks, n_tok, s, lds);
  }
}

// ---- accumulate ---------------------------------------------------------------

// acc += a1·lut[c1] + a2·lut[c2] over n codes of two tokens (a2 = 0: one token).
template <int B>
Q_INLINE void rot_axpy2(float a1, const uint8_t* c1, float a2, const uint8_t* c2, int n, const float* lut, float* acc) {
  const __m256 l = _mm256_loadu_ps(lut), h = _mm256_loadu_ps(lut + 8);
  const __m256 va1 = _mm256_set1_ps(a1), va2 = _mm256_set1_ps(a2);
  const __m256 lo1 = _mm256_mul_ps(va1, l), hi1 = _mm256_mul_ps(va1, h);
  const __m256 lo2 = _mm256_mul_ps(va2, l), hi2 = _mm256_mul_ps(va2, h);
  int k = 0;
  if (a2 != 0.0f) {
    for (; k + 8 <= n; k += 8) {
      const __m256 v = _mm256_add_ps(lookup<B>(expand<B>(c1 + (k / 8) * B), lo1, hi1), lookup<B>(expand<B>(c2 + (k / 8) * B), lo2, hi2));
      _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), v));
    }
    for (int kk = k; kk < n; ++kk) acc[kk] += a2 * lut[get_code(c2, kk, B)];
  } else {
    for (; k + 8 <= n; k += 8)
      _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), lookup<B>(expand<B>(c1 + (k / 8) * B), lo1, hi1)));
  }
  for (; k < n; ++k) acc[k] += a1 * lut[get_code(c1, k, B)];
}

Q_INLINE void rot_axpy2_b(int b, float a1, const uint8_t* c1, float a2, const uint8_t* c2, int n, const float* lut, float* acc) {
  switch (b) {
    case 1: rot_axpy2<1>(a1, c1, a2, c2, n, lut, acc); break;
    case 2: rot_axpy2<2>(a1, c1, a2, c2, n, lut, acc); break;
    case 3: rot_axpy2<3>(a1, c1, a2, c2, n, lut, acc); break;
    default: rot_axpy2<4>(a1, c1, a2, c2, n, lut, acc); break;
  }
}

Q_INLINE void sign_axpy2(float a1, const uint8_t* s1, float a2, const uint8_t* s2, int n, float* acc) {
  const __m256 va1 = _mm256_set1_ps(a1), va2 = _mm256_set1_ps(a2);
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 v = _mm256_add_ps(_mm256_xor_ps(va1, sign_mask(s1[k / 8])), _mm256_xor_ps(va2, sign_mask(s2[k / 8])));
    _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), v));
  }
  for (; k < n; ++k) acc[k] += (get_code(s1, k, 1) ? a1 : -a1) + (get_code(s2, k, 1) ? a2 : -a2);
}

Q_TARGET void acc_sketch(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const bool f32 = D.f32_scalars != 0;
  int64_t j = 0;
  while (j < n_tok) {
    // the next two tokens with a non-zero weight (the second may be absent)
    while (j < n_tok && w[j] == 0.0f) ++j;
    if (j >= n_tok) break;
    int64_t j2 = j + 1;
    while (j2 < n_tok && w[j2] == 0.0f) ++j2;
    const uint8_t* r1 = blocks + j * D.block_bytes;
    const bool two = j2 < n_tok;
    const uint8_t* r2 = two ? blocks + j2 * D.block_bytes : r1;
    for (int g = 0; g < D.ngroups; ++g) {
      const TileGroup& G = D.g[g];
      const float a1 = w[j] * load_norm(r1 + G.norm_off, f32), a2 = two ? w[j2] * load_norm(r2 + G.norm_off, f32) : 0.0f;
      if (G.rot_dim) rot_axpy2_b(G.bits, a1, r1 + G.idx_off, a2, r2 + G.idx_off, G.rot_dim, G.lut, acc + G.rot_t);
      if (G.sk_dim) {
        float s1 = a1 * G.sk_scale, s2 = a2 * G.sk_scale;
        if (G.rnorm_off >= 0) {
          s1 *= load_norm(r1 + G.rnorm_off, f32);
          s2 *= two ? load_norm(r2 + G.rnorm_off, f32) : 0.0f;
        }
        sign_axpy2(s1, r1 + G.sign_off, s2, r2 + G.sign_off, G.sk_dim, acc + G.sk_t);
      }
    }
    if (D.bias_t >= 0) acc[D.bias_t] += w[j] + (two ? w[j2] : 0.0f);
    j = two ? j2 + 1 : n_tok;
  }
}

Q_TARGET void acc_plain(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const int d = D.dim, es = D.kind == TileKind::F32 ? 4 : 2;
  int64_t j = 0;
  for (; j + 2 <= n_tok; j += 2) {
    const uint8_t* r1 = blocks + j * D.block_bytes;
    const uint8_t* r2 = r1 + D.block_bytes;
    const __m256 a1 = _mm256_set1_ps(w[j]), a2 = _mm256_set1_ps(w[j + 1]);
    int k = 0;
    for (; k + 8 <= d; k += 8) {
      __m256 v = _mm256_fmadd_ps(a1, load_row(D.kind, r1 + k * es), _mm256_loadu_ps(acc + k));
      _mm256_storeu_ps(acc + k, _mm256_fmadd_ps(a2, load_row(D.kind, r2 + k * es), v));
    }
    for (; k < d; ++k) acc[k] += w[j] * tile_elem(D, r1, 0, k) + w[j + 1] * tile_elem(D, r2, 0, k);
  }
  for (; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    const __m256 a = _mm256_set1_ps(w[j]);
    int k = 0;
    for (; k + 8 <= d; k += 8)
      _mm256_storeu_ps(acc + k, _mm256_fmadd_ps(a, load_row(D.kind, rec + k * es), _mm256_loadu_ps(acc + k)));
    for (; k < d; ++k) acc[k] += w[j] * tile_elem(D, rec, 0, k);
  }
}

template <int B>
Q_TARGET void acc_kivi_token(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const int d = D.dim, G = D.group, sb = D.f32_scalars ? 4 : 2;
  const bool f32 = D.f32_scalars != 0;
  const __m256 ramp_lo = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), ramp_hi = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);
  const int64_t codes = stream_bytes(d, B);
  for (int64_t j = 0; j < n_tok; ++j) {
    if (w[j] == 0.0f) continue;
    const uint8_t* rec = blocks + j * D.block_bytes;
    int k = 0;
    for (int g0 = 0, gi = 0; g0 < d; g0 += G, ++gi) {
      const uint8_t* st = rec + codes + (int64_t)gi * 2 * sb;
      const __m256 sc = _mm256_set1_ps(w[j] * load_norm(st, f32)), z = _mm256_set1_ps(w[j] * load_norm(st + sb, f32));
      const __m256 lo = _mm256_fmadd_ps(sc, ramp_lo, z), hi = _mm256_fmadd_ps(sc, ramp_hi, z);
      const int g1 = g0 + G < d ? g0 + G : d;
      for (k = g0; k + 8 <= g1; k += 8)
        _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), lookup<B>(expand<B>(rec + (k / 8) * B), lo, hi)));
    }
    for (; k < d; ++k) acc[k] += w[j] * tile_elem(D, rec, 0, k);
  }
}

template <int B>
Q_TARGET void acc_kivi_channel(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const int d = D.dim, G = D.block_tokens, sb = D.f32_scalars ? 4 : 2;
  const bool f32 = D.f32_scalars != 0;
  std::vector<float> tmp((size_t)d);
  for (int64_t b = 0; b < n_tok / G; ++b) {
    const uint8_t* blk = blocks + b * D.block_bytes;
    std::fill(tmp.begin(), tmp.end(), 0.0f);
    float wsum = 0;
    for (int t = 0; t < G; ++t) {
      const float wt = w[b * G + t];
      if (wt == 0.0f) continue;
      wsum += wt;
      const uint8_t* row = blk + (int64_t)t * D.row_bytes;
      const __m256 a = _mm256_set1_ps(wt);
      int k = 0;
      for (; k + 8 <= d; k += 8)
        _mm256_storeu_ps(tmp.data() + k, _mm256_fmadd_ps(a, _mm256_cvtepi32_ps(expand<B>(row + (k / 8) * B)),
                                                         _mm256_loadu_ps(tmp.data() + k)));
      for (; k < d; ++k) tmp[(size_t)k] += wt * (float)get_code(row, k, B);
    }
    const uint8_t* st = blk + (int64_t)D.row_bytes * G;
    for (int c = 0; c < d; ++c)
      acc[c] += load_norm(st + (int64_t)c * 2 * sb, f32) * tmp[(size_t)c] + load_norm(st + (int64_t)c * 2 * sb + sb, f32) * wsum;
  }
}

Q_TARGET void acc_int8(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const int d = D.dim;
  const bool f32 = D.f32_scalars != 0;
  for (int64_t j = 0; j < n_tok; ++j) {
    if (w[j] == 0.0f) continue;
    const uint8_t* rec = blocks + j * D.block_bytes;
    const float a = w[j] * load_norm(rec + d, f32);
    const __m256 va = _mm256_set1_ps(a);
    int k = 0;
    for (; k + 8 <= d; k += 8) {
      const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(rec + k))));
      _mm256_storeu_ps(acc + k, _mm256_fmadd_ps(va, v, _mm256_loadu_ps(acc + k)));
    }
    for (; k < d; ++k) acc[k] += a * (float)(int8_t)rec[k];
  }
}

// e^x for x <= 0 (softmax numerators): x = n ln2 + r, |r| <= ln2/2, degree-6
// polynomial for e^r (Cephes expf), times 2^n; e^x underflows to 0 below -87.
Q_INLINE __m256 exp_neg(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

Q_TARGET float exp_sum_avx2(float* row, int64_t n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm));
    _mm256_storeu_ps(row + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float s = hsum(acc);
  for (; j < n; ++j) s += row[j] = std::exp(row[j] - m);
  return s;
}

// Cells by counting thresholds below each of 8 values (padded +inf never
// counts), dequantised values by lookup, 8 codes packed into b bytes.
template <int B>
Q_TARGET void pack_cells_b(float* y, int n, const float* thr, const float* lut, uint8_t* out) {
  constexpr int NT = (1 << B) - 1;
  __m256 t[NT];
  for (int i = 0; i < NT; ++i) t[i] = _mm256_set1_ps(thr[i]);
  // The lookup table has 2^B entries: copy it into 16 zero-padded lanes rather
  // than reading 8 (16) floats past a shorter table.
  alignas(32) float lp[16] = {};
  if (lut) std::memcpy(lp, lut, sizeof(float) << B);
  const __m256 lo = _mm256_load_ps(lp);
  const __m256 hi = _mm256_load_ps(lp + 8);
  const __m256i sh = _mm256_setr_epi32(0, B, 2 * B, 3 * B, 4 * B, 5 * B, 6 * B, 7 * B);
  for (int k = 0; k + 8 <= n; k += 8) {
    const __m256 v = _mm256_loadu_ps(y + k);
    __m256i c = _mm256_setzero_si256();
    for (int i = 0; i < NT; ++i) c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(v, t[i], _CMP_GT_OQ)));
    if (lut) _mm256_storeu_ps(y + k, lookup<B>(c, lo, hi));
    __m256i p = _mm256_sllv_epi32(c, sh);
    __m128i q = _mm_or_si128(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    q = _mm_or_si128(q, _mm_shuffle_epi32(q, 0x4E));
    q = _mm_or_si128(q, _mm_shuffle_epi32(q, 0xB1));
    const uint32_t w = (uint32_t)_mm_cvtsi128_si32(q);
    std::memcpy(out + (k / 8) * B, &w, B);
  }
}

}  // namespace

float exp_sum(float* row, int64_t n, float m) { return exp_sum_avx2(row, n, m); }

// Eight running maxima (max_ps(x, acc) keeps acc when x is NaN, as the
// reference's x > m ? x : m does), then the lanes and the tail.
Q_TARGET float row_max_avx2(const float* row, int64_t n, float init) {
  __m256 a0 = _mm256_set1_ps(init), a1 = a0;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    a0 = _mm256_max_ps(_mm256_loadu_ps(row + j), a0);
    a1 = _mm256_max_ps(_mm256_loadu_ps(row + j + 8), a1);
  }
  for (; j + 8 <= n; j += 8) a0 = _mm256_max_ps(_mm256_loadu_ps(row + j), a0);
  alignas(32) float lanes[16];
  _mm256_store_ps(lanes, a0);
  _mm256_store_ps(lanes + 8, a1);
  float m = init;
  for (float x : lanes) m = x > m ? x : m;
  for (; j < n; ++j) m = row[j] > m ? row[j] : m;
  return m;
}
float row_max(const float* row, int64_t n, float init) { return row_max_avx2(row, n, init); }

void pack_cells(float* y, int n, const float* thr, int b, const float* lut, uint8_t* out) {
  switch (b) {
    case 1: return pack_cells_b<1>(y, n, thr, lut, out);
    case 2: return pack_cells_b<2>(y, n, thr, lut, out);
    case 3: return pack_cells_b<3>(y, n, thr, lut, out);
    default: return pack_cells_b<4>(y, n, thr, lut, out);
  }
}

bool supports(const TileDesc& D) {
  if (D.kind == TileKind::KIVI_TOKEN) return D.group % 8 == 0;
  return true;
}

void scores(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* blocks, int64_t n_tok, float* s,
            int64_t lds) {
  int m = 0;
  for (; m + 4 <= M; m += 4) scores_m<4>(D, qt + m * ldq, ldq, blocks, n_tok, s + m * lds, lds);
  switch (M - m) {
    case 3: scores_m<3>(D, qt + m * ldq, ldq, blocks, n_tok, s + m * lds, lds); break;
    case 2: scores_m<2>(D, qt + m * ldq, ldq, blocks, n_tok, s + m * lds, lds); break;
    case 1: scores_m<1>(D, qt + m * ldq, ldq, blocks, n_tok, s + m * lds, lds); break;
    default: break;
  }
}

void accumulate(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  switch (D.kind) {
    case TileKind::F32:
    case TileKind::F16:
    case TileKind::BF16: return acc_plain(D, w, blocks, n_tok, acc);
    case TileKind::TURBO:
    case TileKind::QJL: return acc_sketch(D, w, blocks, n_tok, acc);
    case TileKind::KIVI_TOKEN:
      return D.bits == 2 ? acc_kivi_token<2>(D, w, blocks, n_tok, acc) : acc_kivi_token<4>(D, w, blocks, n_tok, acc);
    case TileKind::KIVI_CHANNEL:
      return D.bits == 2 ? acc_kivi_channel<2>(D, w, blocks, n_tok, acc) : acc_kivi_channel<4>(D, w, blocks, n_tok, acc);
    case TileKind::INT8: return acc_int8(D, w, blocks, n_tok, acc);
  }
}

// KIVI per-channel rows: the block's channel scales and zero points once per
// block, then s * code + z per row (multiply, then add: tile_elem's rounding).
template <int B>
Q_TARGET void tile_kivi_channel(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt) {
  const int d = D.dim, G = D.block_tokens, sb = D.f32_scalars ? 4 : 2;
  const bool f32 = D.f32_scalars != 0;
  std::vector<float> sc((size_t)d), zr((size_t)d);
  int64_t cur = -1;
  for (int64_t j = 0; j < n_tok; ++j) {
    const int64_t b = j / G;
    const uint8_t* blk = blocks + b * D.block_bytes;
    if (b != cur) {
      const uint8_t* st = blk + (int64_t)D.row_bytes * G;
      for (int c = 0; c < d; ++c) {
        sc[(size_t)c] = load_norm(st + (int64_t)c * 2 * sb, f32);
        zr[(size_t)c] = load_norm(st + (int64_t)c * 2 * sb + sb, f32);
      }
      cur = b;
    }
    const uint8_t* row = blk + (int64_t)(j % G) * D.row_bytes;
    float* out = t + j * ldt;
    int k = 0;
    for (; k + 8 <= d; k += 8)
      _mm256_storeu_ps(out + k, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(sc.data() + k),
                                                            _mm256_cvtepi32_ps(expand<B>(row + (k / 8) * B))),
                                              _mm256_loadu_ps(zr.data() + k)));
    for (; k < d; ++k) out[k] = sc[(size_t)k] * (float)get_code(row, k, B) + zr[(size_t)k];
  }
}

void tile(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt) {
  if (D.kind == TileKind::KIVI_CHANNEL && (D.bits == 2 || D.bits == 4))
    return D.bits == 2 ? tile_kivi_channel<2>(D, blocks, n_tok, t, ldt) : tile_kivi_channel<4>(D, blocks, n_tok, t, ldt);
  // A row is the accumulation of one token with weight 1 into zeros.
  std::vector<float> one((size_t)D.block_tokens, 0.0f);
  for (int64_t j = 0; j < n_tok; ++j) {
    float* row = t + j * ldt;
    std::fill(row, row + D.t_dim, 0.0f);
    const int64_t b = j / D.block_tokens;
    const int tok = (int)(j % D.block_tokens);
    one[(size_t)tok] = 1.0f;
    avx2::accumulate(D, one.data(), blocks + b * D.block_bytes, D.block_tokens, row);
    one[(size_t)tok] = 0.0f;
  }
}

#else  // not x86-64 GCC/Clang: no fast path

bool supports(const TileDesc&) { return false; }
void scores(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* b, int64_t n, float* s, int64_t lds) {
  scores_ref(D, qt, ldq, M, b, n, s, lds);
}
void accumulate(const TileDesc& D, const float* w, const uint8_t* b, int64_t n, float* acc) { accumulate_ref(D, w, b, n, acc); }
void tile(const TileDesc& D, const uint8_t* b, int64_t n, float* t, int64_t ldt) { tile_ref(D, b, n, t, ldt); }
float exp_sum(float* row, int64_t n, float m) { return exp_sum_ref(row, n, m); }
float row_max(const float* row, int64_t n, float init) { return row_max_ref(row, n, init); }
void pack_cells(float*, int, const float*, int, const float*, uint8_t*) {}

#endif

}  // namespace avx2
}  // namespace quant
}  // namespace engram
