// AVX2/FMA kernels over encoded blocks (the fast twins of kernels.cpp's
// references; test_quant checks them against the references on odd sizes).
// The core trick: 8 consecutive b-bit codes are exactly b bytes of the
// LSB-first stream, so one b-byte load, a broadcast, a variable shift by
// [0, b, ..., 7b] and a mask give the 8 indices in 8 lanes; a codebook of up
// to 8 entries is one vpermps away (16 entries: two and a blend on bit 3).
// Compiled with target attributes so the binary stays portable.
#include "kernels.h"

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

// b bytes starting at p as a little-endian integer (no over-read).
template <int B>
Q_INLINE uint32_t load_bytes(const uint8_t* p) {
  if (B == 1) return p[0];
  if (B == 2) return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
  if (B == 3) return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
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

// r[m] = Σ_k q[m][k] lut[code_k] over n b-bit codes (M queries, row stride ldq).
template <int B, int M>
Q_INLINE void rot_dot(const float* q, int64_t ldq, const uint8_t* codes, int n, const float* lut, float* r) {
  const __m256 lo = _mm256_loadu_ps(lut), hi = _mm256_loadu_ps(lut + 8);
  __m256 acc[M];
  for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 v = lookup<B>(expand<B>(codes + (k / 8) * B), lo, hi);
    for (int m = 0; m < M; ++m) acc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(q + m * ldq + k), v, acc[m]);
  }
  for (int m = 0; m < M; ++m) {
    float s = hsum(acc[m]);
    for (int kk = k; kk < n; ++kk) s += q[m * ldq + kk] * lut[get_code(codes, kk, B)];
    r[m] = s;
  }
}

template <int M>
Q_INLINE void rot_dot_b(int b, const float* q, int64_t ldq, const uint8_t* codes, int n, const float* lut, float* r) {
  switch (b) {
    case 1: rot_dot<1, M>(q, ldq, codes, n, lut, r); break;
    case 2: rot_dot<2, M>(q, ldq, codes, n, lut, r); break;
    case 3: rot_dot<3, M>(q, ldq, codes, n, lut, r); break;
    default: rot_dot<4, M>(q, ldq, codes, n, lut, r); break;
  }
}

template <int M>
Q_INLINE void sign_dot(const float* q, int64_t ldq, const uint8_t* signs, int n, float* r) {
  __m256 acc[M];
  for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 sm = sign_mask(signs[k / 8]);
    for (int m = 0; m < M; ++m) acc[m] = _mm256_add_ps(acc[m], _mm256_xor_ps(_mm256_loadu_ps(q + m * ldq + k), sm));
  }
  for (int m = 0; m < M; ++m) {
    float s = hsum(acc[m]);
    for (int kk = k; kk < n; ++kk) s += get_code(signs, kk, 1) ? q[m * ldq + kk] : -q[m * ldq + kk];
    r[m] = s;
  }
}

template <int M>
Q_TARGET void scores_sketch(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok,
                            float* s, int64_t lds) {
  const bool f32 = D.f32_scalars != 0;
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    float tot[M] = {}, r[M];
    for (int g = 0; g < D.ngroups; ++g) {
      const TileGroup& G = D.g[g];
      const float nrm = load_scalar(rec + G.norm_off, f32);
      if (G.rot_dim) {
        rot_dot_b<M>(G.bits, qt + G.rot_t, ldq, rec + G.idx_off, G.rot_dim, G.lut, r);
        for (int m = 0; m < M; ++m) tot[m] += nrm * r[m];
      }
      if (G.sk_dim) {
        float sc = nrm * G.sk_scale;
        if (G.rnorm_off >= 0) sc *= load_scalar(rec + G.rnorm_off, f32);
        sign_dot<M>(qt + G.sk_t, ldq, rec + G.sign_off, G.sk_dim, r);
        for (int m = 0; m < M; ++m) tot[m] += sc * r[m];
      }
    }
    for (int m = 0; m < M; ++m) s[m * lds + j] = tot[m];
  }
}

template <int M>
Q_TARGET void scores_plain(const TileDesc& D, const float* qt, int64_t ldq, const uint8_t* blocks, int64_t n_tok,
                           float* s, int64_t lds) {
  const int d = D.dim, es = D.kind == TileKind::F32 ? 4 : 2;
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* rec = blocks + j * D.block_bytes;
    __m256 acc[M];
    for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= d; k += 8) {
      const __m256 v = load_row(D.kind, rec + k * es);
      for (int m = 0; m < M; ++m) acc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(qt + m * ldq + k), v, acc[m]);
    }
    for (int m = 0; m < M; ++m) {
      float t = hsum(acc[m]);
      for (int kk = k; kk < d; ++kk) t += qt[m * ldq + kk] * tile_elem(D, rec, 0, kk);
      s[m * lds + j] = t;
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
      const __m256 sc = _mm256_set1_ps(load_scalar(st, f32)), z = _mm256_set1_ps(load_scalar(st + sb, f32));
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
        const float sc = load_scalar(st + (int64_t)c * 2 * sb, f32), z = load_scalar(st + (int64_t)c * 2 * sb + sb, f32);
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
    const float sc = load_scalar(rec + d, f32);
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

template <int B>
Q_INLINE void rot_axpy(float a, const uint8_t* codes, int n, const float* lut, float* acc) {
  const __m256 lo = _mm256_mul_ps(_mm256_set1_ps(a), _mm256_loadu_ps(lut));
  const __m256 hi = _mm256_mul_ps(_mm256_set1_ps(a), _mm256_loadu_ps(lut + 8));
  int k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), lookup<B>(expand<B>(codes + (k / 8) * B), lo, hi)));
  for (; k < n; ++k) acc[k] += a * lut[get_code(codes, k, B)];
}

Q_INLINE void rot_axpy_b(int b, float a, const uint8_t* codes, int n, const float* lut, float* acc) {
  switch (b) {
    case 1: rot_axpy<1>(a, codes, n, lut, acc); break;
    case 2: rot_axpy<2>(a, codes, n, lut, acc); break;
    case 3: rot_axpy<3>(a, codes, n, lut, acc); break;
    default: rot_axpy<4>(a, codes, n, lut, acc); break;
  }
}

Q_INLINE void sign_axpy(float a, const uint8_t* signs, int n, float* acc) {
  const __m256 va = _mm256_set1_ps(a);
  int k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), _mm256_xor_ps(va, sign_mask(signs[k / 8]))));
  for (; k < n; ++k) acc[k] += get_code(signs, k, 1) ? a : -a;
}

Q_TARGET void acc_sketch(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const bool f32 = D.f32_scalars != 0;
  for (int64_t j = 0; j < n_tok; ++j) {
    if (w[j] == 0.0f) continue;
    const uint8_t* rec = blocks + j * D.block_bytes;
    for (int g = 0; g < D.ngroups; ++g) {
      const TileGroup& G = D.g[g];
      const float a = w[j] * load_scalar(rec + G.norm_off, f32);
      if (G.rot_dim) rot_axpy_b(G.bits, a, rec + G.idx_off, G.rot_dim, G.lut, acc + G.rot_t);
      if (G.sk_dim) {
        float sc = a * G.sk_scale;
        if (G.rnorm_off >= 0) sc *= load_scalar(rec + G.rnorm_off, f32);
        sign_axpy(sc, rec + G.sign_off, G.sk_dim, acc + G.sk_t);
      }
    }
  }
}

Q_TARGET void acc_plain(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const int d = D.dim, es = D.kind == TileKind::F32 ? 4 : 2;
  for (int64_t j = 0; j < n_tok; ++j) {
    if (w[j] == 0.0f) continue;
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
      const __m256 sc = _mm256_set1_ps(w[j] * load_scalar(st, f32)), z = _mm256_set1_ps(w[j] * load_scalar(st + sb, f32));
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
      acc[c] += load_scalar(st + (int64_t)c * 2 * sb, f32) * tmp[(size_t)c] + load_scalar(st + (int64_t)c * 2 * sb + sb, f32) * wsum;
  }
}

Q_TARGET void acc_int8(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  const int d = D.dim;
  const bool f32 = D.f32_scalars != 0;
  for (int64_t j = 0; j < n_tok; ++j) {
    if (w[j] == 0.0f) continue;
    const uint8_t* rec = blocks + j * D.block_bytes;
    const float a = w[j] * load_scalar(rec + d, f32);
    const __m256 va = _mm256_set1_ps(a);
    int k = 0;
    for (; k + 8 <= d; k += 8) {
      const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(rec + k))));
      _mm256_storeu_ps(acc + k, _mm256_fmadd_ps(va, v, _mm256_loadu_ps(acc + k)));
    }
    for (; k < d; ++k) acc[k] += a * (float)(int8_t)rec[k];
  }
}

}  // namespace

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

void tile(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt) {
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

#endif

}  // namespace avx2
}  // namespace quant
}  // namespace engram
