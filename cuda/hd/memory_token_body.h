// Token loops of titansLinear and gatedDeltaRule for one (batch, head), shared
// by the CUDA kernels (cuda/ops/memory_token.cu) and their CPU block
// emulation (test_cuda_math), like titans_mlp_body.h. They serve mode
// 'recurrent' and any shape the fused chunk kernels cannot hold in shared
// memory: the token loop computes the same function as the chunk form for
// every chunk size (stale anchors for Titans; the exact recurrence for GDN).
// Each value channel j evolves independently (its row of M, its column of S),
// so one index per channel and no barrier inside a token: the state lives in
// a global workspace laid out [dk, dv] (element (e, j) at e * dv + j, so
// the channels of a warp read consecutive floats).
#pragma once
#include <cstdint>

#include "titans_mlp_body.h"  // MlpSeq, MlpState, mlp_seq, mlp_state, ENGRAM_HDT

namespace engram {
namespace cuda {

// titansLinear (native/core/ops/titans.cpp; ref_titans_linear): M [dv, dk],
// per token u = 2 (A k - v) k^T at the chunk-start anchor A,
// S = eta S - theta u, M = (1 - alpha) M + S, y = M q.
struct LinTokArgs {
  MlpSeq q, k, v, theta, alpha, eta;
  MlpState M0, S0, A0;  // [B|1, H, dv, dk] (p null: absent)
  MlpState Mf, Sf, Af;  // (p null: not requested)
  float* ws;            // 3 dk dv floats per (b, h): M, S, A transposed
  void* o;
  DType odt;
  int B, T, H, dk, dv, C, offset;
  bool mom, decay;
};
ENGRAM_HD int lin_token_smem_floats(int dk) { return 2 * dk + 3; }

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void titans_linear_token_block(const LinTokArgs& a, int bh, float* sm, const X& x) {
  const int b = bh / a.H, h = bh % a.H, dk = a.dk, dv = a.dv, tid = x.tid(), nt = x.nt();
  const int64_t P = (int64_t)dk * dv;
  float *ks = sm, *qs = ks + dk, *sc = qs + dk;
  float* M = a.ws + (int64_t)bh * 3 * P;
  float *S = M + P, *A = S + P;
  const bool anc_in = a.offset > 0 && a.A0.p;  // a chunk a previous call started: its anchor
  for (int j = tid; j < dv; j += nt)
    for (int e = 0; e < dk; ++e) {
      const int64_t i = (int64_t)e * dv + j;
      M[i] = mlp_state(a.M0, b, h, j, e);
      S[i] = mlp_state(a.S0, b, h, j, e);
      A[i] = anc_in ? mlp_state(a.A0, b, h, j, e) : M[i];
    }
  for (int t = 0; t < a.T; ++t) {
    for (int i = tid; i < dk; i += nt) {
      ks[i] = mlp_seq(a.k, b, t, h, i);
      qs[i] = mlp_seq(a.q, b, t, h, i);
    }
    if (tid == 0) {
      sc[0] = mlp_seq(a.theta, b, t, h, 0);
      sc[1] = a.decay ? 1.0f - mlp_seq(a.alpha, b, t, h, 0) : 1.0f;
      sc[2] = a.mom ? mlp_seq(a.eta, b, t, h, 0) : 0.0f;
    }
    x.sync();
    const bool refresh = (a.offset + t) % a.C == 0;  // the stale anchor: memory at the chunk start
    const float th = sc[0], al = sc[1], et = sc[2];
    for (int j = tid; j < dv; j += nt) {
      float mk = 0.0f;
      for (int e = 0; e < dk; ++e) {
        const int64_t i = (int64_t)e * dv + j;
        if (refresh) A[i] = M[i];
        mk += A[i] * ks[e];
      }
      const float r2 = 2.0f * (mk - mlp_seq(a.v, b, t, h, j));
      float y = 0.0f;
      for (int e = 0; e < dk; ++e) {
        const int64_t i = (int64_t)e * dv + j;
        S[i] = et * S[i] - th * (r2 * ks[e]);
        M[i] = al * M[i] + S[i];
        y += M[i] * qs[e];  // write-before-read
      }
      store_any(a.o, (((int64_t)b * a.T + t) * a.H + h) * dv + j, a.odt, y);
    }
    x.sync();  // the next token overwrites ks, qs and the gates
  }
  const bool boundary = (a.offset + a.T) % a.C == 0;  // then the next chunk starts at M
  for (int j = tid; j < dv; j += nt)
    for (int e = 0; e < dk; ++e) {
      const int64_t i = (int64_t)e * dv + j;
      mlp_state_put(a.Mf, b, h, j, e, M[i]);
      mlp_state_put(a.Sf, b, h, j, e, S[i]);
      mlp_state_put(a.Af, b, h, j, e, boundary ? M[i] : A[i]);
    }
}

// gatedDeltaRule (ref_gated_delta_rule, fla's naive recurrence): S [dk, dv],
// S = exp(g) S; u = beta (v - S^T k); S += k u^T; o = scale S^T q.
struct GdnTokArgs {
  MlpSeq q, k, v, g, beta;
  MlpState S0, Sf;  // [B|1, H, dk, dv]
  float* ws;        // dk dv floats per (b, h)
  void* o;
  DType odt;
  int B, T, H, dk, dv;
  float scale;
};
ENGRAM_HD int gdn_token_smem_floats(int dk) { return 2 * dk + 2; }

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void gdn_token_block(const GdnTokArgs& a, int bh, float* sm, const X& x) {
  const int b = bh / a.H, h = bh % a.H, dk = a.dk, dv = a.dv, tid = x.tid(), nt = x.nt();
  float *ks = sm, *qs = ks + dk, *sc = qs + dk;
  float* S = a.ws + (int64_t)bh * dk * dv;
  for (int j = tid; j < dv; j += nt)
    for (int e = 0; e < dk; ++e) S[(int64_t)e * dv + j] = mlp_state(a.S0, b, h, e, j);
  for (int t = 0; t < a.T; ++t) {
    for (int i = tid; i < dk; i += nt) {
      ks[i] = mlp_seq(a.k, b, t, h, i);
      qs[i] = mlp_seq(a.q, b, t, h, i);
    }
    if (tid == 0) {
      sc[0] = expf(mlp_seq(a.g, b, t, h, 0));
      sc[1] = mlp_seq(a.beta, b, t, h, 0);
    }
    x.sync();
    const float dec = sc[0], be = sc[1];
    for (int j = tid; j < dv; j += nt) {
      float kS = 0.0f;
      for (int e = 0; e < dk; ++e) {
        float& s = S[(int64_t)e * dv + j];
        s *= dec;
        kS += ks[e] * s;
      }
      const float u = be * (mlp_seq(a.v, b, t, h, j) - kS);
      float o = 0.0f;
      for (int e = 0; e < dk; ++e) {
        float& s = S[(int64_t)e * dv + j];
        s += ks[e] * u;
        o += qs[e] * s;
      }
      store_any(a.o, (((int64_t)b * a.T + t) * a.H + h) * dv + j, a.odt, a.scale * o);
    }
    x.sync();  // the next token overwrites ks, qs and the gates
  }
  for (int j = tid; j < dv; j += nt)
    for (int e = 0; e < dk; ++e) mlp_state_put(a.Sf, b, h, e, j, S[(int64_t)e * dv + j]);
}

}  // namespace cuda
}  // namespace engram
