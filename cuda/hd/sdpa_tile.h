// Tiling of the CUDA flash-attention kernel (cuda/ops/sdpa.cu) as
// __host__ __device__ phases that test/native/test_cuda_math.cpp replays on
// the CPU thread by thread. Per task (batch b, head h, a tile of BQ queries):
//   begin:      Q tile -> shared memory (f32), O = 0, m = -inf, l = 0
//   for each tile of BK keys up to the causal limit:
//     load_kv:    K, V tiles -> shared memory (f32)
//     scores:     P[i][j] = scale * q_i . k_j          (visible pairs only)
//     softmax:    per row, online update of m, l; P = exp(P - m); corr = exp(m_old - m)
//     accumulate: O[i] = O[i] * corr[i] + P[i] V
//   store:      out = O / l
// Everything is f32; causal: query t sees keys s <= t + (S - T).
// Plain C++ only (no CUDA headers).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "elem.h"
#include "engram/tensor.h"
#include "online.h"

namespace engram {
namespace cuda {

struct SdpaProblem {
  int64_t B, T, H, S, Hkv, D, Dv;
  int64_t qs[4], ks[4], vs[4];  // element strides of q [B,T,H,D], k [B,S,Hkv,D], v [B,S,Hkv,Dv]
  float scale;
  bool causal;
};

// Host: the problem of an sdpa call (q, k, v any strides; out contiguous).
inline SdpaProblem sdpa_problem(const Tensor& Q, const Tensor& K, const Tensor& V, const SdpaParams& sp) {
  SdpaProblem p{};
  p.B = Q.size(0);
  p.T = Q.size(1);
  p.H = Q.size(2);
  p.D = Q.size(3);
  p.S = K.size(1);
  p.Hkv = K.size(2);
  p.Dv = V.size(3);
  for (int i = 0; i < 4; ++i) {
    p.qs[i] = Q.stride(i);
    p.ks[i] = K.stride(i);
    p.vs[i] = V.stride(i);
  }
  p.scale = sp.scale > 0 ? sp.scale : 1.0f / std::sqrt((float)p.D);  // as the CPU kernel
  p.causal = sp.causal;
  return p;
}

// Shared-memory layout (in floats) for a BQ x BK tile. Row strides of the Q/K/V
// tiles are odd so that threads reading different rows hit different banks.
struct SdpaPlan {
  int bq, bk, dp, dvp;
  int64_t q_off, k_off, v_off, p_off, o_off, m_off, l_off, c_off, floats;
  ENGRAM_HD size_t bytes() const { return (size_t)floats * sizeof(float); }
};

ENGRAM_HD SdpaPlan sdpa_plan(int64_t D, int64_t Dv, int bq, int bk) {
  SdpaPlan p;
  p.bq = bq;
  p.bk = bk;
  p.dp = (int)(D | 1);
  p.dvp = (int)(Dv | 1);
  p.q_off = 0;
  p.k_off = p.q_off + (int64_t)bq * p.dp;
  p.v_off = p.k_off + (int64_t)bk * p.dp;
  p.p_off = p.v_off + (int64_t)bk * p.dvp;
  p.o_off = p.p_off + (int64_t)bq * (bk + 1);
  p.m_off = p.o_off + (int64_t)bq * Dv;
  p.l_off = p.m_off + bq;
  p.c_off = p.l_off + bq;
  p.floats = p.c_off + bq;
  return p;
}

// The largest square tile (32, 16, 8 or 4) whose layout fits in max_bytes.
inline bool sdpa_choose(int64_t D, int64_t Dv, size_t max_bytes, SdpaPlan* out) {
  if (D >= (1 << 24) || Dv >= (1 << 24)) return false;
  for (int b : {32, 16, 8, 4}) {
    SdpaPlan p = sdpa_plan(D, Dv, b, b);
    if (p.bytes() <= max_bytes) {
      *out = p;
      return true;
    }
  }
  return false;
}

struct SdpaTask {
  int64_t b, h, hk, q0, kend;
  int nq;
};

// Task index -> (b, h, query tile); kend = keys [0, kend) any query of the tile sees.
ENGRAM_HD SdpaTask sdpa_task(const SdpaProblem& p, int bq, int64_t task) {
  const int64_t qtiles = (p.T + bq - 1) / bq;
  SdpaTask t;
  const int64_t qt = task % qtiles, bh = task / qtiles;
  t.h = bh % p.H;
  t.b = bh / p.H;
  t.hk = t.h / (p.H / p.Hkv);
  t.q0 = qt * bq;
  const int64_t left = p.T - t.q0;
  t.nq = (int)(left < bq ? left : bq);
  if (p.causal) {
    const int64_t lim = t.q0 + t.nq + (p.S - p.T);
    t.kend = lim < p.S ? lim : p.S;
  } else {
    t.kend = p.S;
  }
  return t;
}

ENGRAM_HD int64_t sdpa_tasks(const SdpaProblem& p, int bq) { return p.B * p.H * ((p.T + bq - 1) / bq); }

// Does query q0+i see key k0+j?
ENGRAM_HD bool sdpa_visible(const SdpaProblem& p, const SdpaTask& t, int64_t k0, int i, int j) {
  const int64_t s = k0 + j;
  if (s >= t.kend) return false;
  return !p.causal || s <= t.q0 + i + (p.S - p.T);
}

template <class T>
ENGRAM_HD void sdpa_begin(const SdpaProblem& p, const SdpaPlan& pl, const SdpaTask& t, const T* q, float* sm,
                          int tid, int nthreads) {
  const int64_t base = t.b * p.qs[0] + t.h * p.qs[2];
  const int64_t nqd = (int64_t)pl.bq * p.D;
  for (int64_t e = tid; e < nqd; e += nthreads) {
    const int i = (int)(e / p.D);
    const int64_t d = e % p.D;
    sm[pl.q_off + (int64_t)i * pl.dp + d] = i < t.nq ? to_f32(q[base + (t.q0 + i) * p.qs[1] + d * p.qs[3]]) : 0.0f;
  }
  const int64_t nov = (int64_t)pl.bq * p.Dv;
  for (int64_t e = tid; e < nov; e += nthreads) sm[pl.o_off + e] = 0.0f;
  for (int i = tid; i < pl.bq; i += nthreads) {
    sm[pl.m_off + i] = -INFINITY;
    sm[pl.l_off + i] = 0.0f;
  }
}

template <class T>
ENGRAM_HD void sdpa_load_kv(const SdpaProblem& p, const SdpaPlan& pl, const SdpaTask& t, int64_t k0, const T* k,
                            const T* v, float* sm, int tid, int nthreads) {
  const int64_t kb = t.b * p.ks[0] + t.hk * p.ks[2], vb = t.b * p.vs[0] + t.hk * p.vs[2];
  const int64_t nkd = (int64_t)pl.bk * p.D;
  for (int64_t e = tid; e < nkd; e += nthreads) {
    const int j = (int)(e / p.D);
    const int64_t d = e % p.D, s = k0 + j;
    sm[pl.k_off + (int64_t)j * pl.dp + d] = s < t.kend ? to_f32(k[kb + s * p.ks[1] + d * p.ks[3]]) : 0.0f;
  }
  const int64_t nvd = (int64_t)pl.bk * p.Dv;
  for (int64_t e = tid; e < nvd; e += nthreads) {
    const int j = (int)(e / p.Dv);
    const int64_t d = e % p.Dv, s = k0 + j;
    sm[pl.v_off + (int64_t)j * pl.dvp + d] = s < t.kend ? to_f32(v[vb + s * p.vs[1] + d * p.vs[3]]) : 0.0f;
  }
}

ENGRAM_HD void sdpa_scores(const SdpaProblem& p, const SdpaPlan& pl, const SdpaTask& t, int64_t k0, float* sm,
                           int tid, int nthreads) {
  for (int e = tid; e < pl.bq * pl.bk; e += nthreads) {
    const int i = e / pl.bk, j = e % pl.bk;
    if (i >= t.nq || !sdpa_visible(p, t, k0, i, j)) continue;
    const float* qr = sm + pl.q_off + (int64_t)i * pl.dp;
    const float* kr = sm + pl.k_off + (int64_t)j * pl.dp;
    float dot = 0.0f;
    for (int64_t d = 0; d < p.D; ++d) dot += qr[d] * kr[d];
    sm[pl.p_off + i * (pl.bk + 1) + j] = dot * p.scale;
  }
}

// One thread per query row (BK <= 32 keys: cheap next to the two products).
ENGRAM_HD void sdpa_softmax_rows(const SdpaProblem& p, const SdpaPlan& pl, const SdpaTask& t, int64_t k0, float* sm,
                                 int tid, int nthreads) {
  for (int i = tid; i < t.nq; i += nthreads) {
    float* row = sm + pl.p_off + i * (pl.bk + 1);
    const float m_old = sm[pl.m_off + i];
    float mx = m_old;
    for (int j = 0; j < pl.bk; ++j)
      if (sdpa_visible(p, t, k0, i, j)) mx = fmaxf(mx, row[j]);
    float sum = 0.0f;
    for (int j = 0; j < pl.bk; ++j) {
      const float e = sdpa_visible(p, t, k0, i, j) ? expf(row[j] - mx) : 0.0f;
      row[j] = e;
      sum += e;
    }
    const float corr = online_rescale(m_old, mx);
    sm[pl.c_off + i] = corr;
    sm[pl.l_off + i] = sm[pl.l_off + i] * corr + sum;
    sm[pl.m_off + i] = mx;
  }
}

ENGRAM_HD void sdpa_accumulate(const SdpaProblem& p, const SdpaPlan& pl, const SdpaTask& t, int64_t k0, float* sm,
                               int tid, int nthreads) {
  const int64_t left = t.kend - k0;
  const int nk = (int)(left < pl.bk ? left : pl.bk);
  const int64_t nov = (int64_t)pl.bq * p.Dv;
  for (int64_t e = tid; e < nov; e += nthreads) {
    const int i = (int)(e / p.Dv);
    if (i >= t.nq) continue;
    const int64_t d = e % p.Dv;
    const float* prow = sm + pl.p_off + i * (pl.bk + 1);
    float acc = sm[pl.o_off + e] * sm[pl.c_off + i];
    for (int j = 0; j < nk; ++j) acc += prow[j] * sm[pl.v_off + (int64_t)j * pl.dvp + d];
    sm[pl.o_off + e] = acc;
  }
}

// out [B, T, H, Dv] contiguous.
template <class T>
ENGRAM_HD void sdpa_store(const SdpaProblem& p, const SdpaPlan& pl, const SdpaTask& t, const float* sm, T* out,
                          int tid, int nthreads) {
  const int64_t nov = (int64_t)pl.bq * p.Dv;
  for (int64_t e = tid; e < nov; e += nthreads) {
    const int i = (int)(e / p.Dv);
    if (i >= t.nq) continue;
    const int64_t d = e % p.Dv;
    const float inv = 1.0f / sm[pl.l_off + i];
    out[((t.b * p.T + t.q0 + i) * p.H + t.h) * p.Dv + d] = from_f32<T>(sm[pl.o_off + e] * inv);
  }
}

}  // namespace cuda
}  // namespace engram
