// The tttMlp token loop of one (batch, head), shared by the CUDA kernel
// (cuda/ops/ttt_mlp.cu) and its CPU block emulation (test_cuda_math), like
// titans_mlp_body.h. Semantics (native/core/ops/ttt.cpp; ref_ttt_mlp in f32):
// mini-batches of C tokens; per token the gradient of
// || LN(act(k W1 + b1) W2 + b2) - (v - k) ||^2 at the mini-batch-start weights
// (the anchors), accumulated with the inner rates eta: G += eta_t grad_t;
// W_t = A - c_t G (c_t = 1, or 1/(i+1) for the i-th token with tokenIdx);
// o_t = q_t + LN(act(q_t W1_t + b1_t) W2_t + b2_t) (residual / LN switchable).
// Row convention of the official code: W1 [dk, dh], W2 [dh, dv] row-major.
#pragma once
#include <cstdint>

#include "titans_mlp_body.h"  // MlpSeq, MlpState, mlp_seq, mlp_state, ENGRAM_HDT

namespace engram {
namespace cuda {

struct TttMlpArgs {
  MlpSeq q, k, v, eta;
  MlpState gamma, beta;                // [H, dv] as (0, h, j, 0); p null: absent
  MlpState W1_0, b1_0, W2_0, b2_0;     // initial state (b: [B, H, n] as (b, h, j, 0))
  MlpState W1f, b1f, W2f, b2f;         // final state (p null: not requested / no bias)
  float* ws;                           // per (b, h): ttt_mlp_ws_floats
  void* o;
  DType odt;
  int B, T, H, dk, dv, dh, C;
  bool layer_norm, residual, bias, token_idx;
  float eps;
  MemAct act;
};

// Workspace floats per (b, h): anchors A1, A2, c1, c2 and gradient sums G1, G2, g1, g2.
ENGRAM_HD int64_t ttt_mlp_ws_floats(int dk, int dv, int dh) {
  return 2 * ((int64_t)dk * dh + (int64_t)dh * dv + dh + dv);
}
// Shared floats: k, q [dk]; v, tgt, z2, zb, gamma, beta [dv]; z1, x2, gz1, xq [dh]; 2 scalars.
ENGRAM_HD int ttt_mlp_smem_floats(int dk, int dv, int dh) { return 2 * dk + 6 * dv + 4 * dh + 2; }

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void ttt_mlp_block(const TttMlpArgs& a, int bh, float* sm, const X& x) {
  const int b = bh / a.H, h = bh % a.H, dk = a.dk, dv = a.dv, dh = a.dh, tid = x.tid(), nt = x.nt();
  const int64_t P1 = (int64_t)dk * dh, P2 = (int64_t)dh * dv;
  float *ks = sm, *qs = ks + dk, *vs = qs + dk, *tg = vs + dv, *z2 = tg + dv, *zb = z2 + dv, *gam = zb + dv,
        *bet = gam + dv, *z1 = bet + dv, *x2 = z1 + dh, *gz1 = x2 + dh, *xq = gz1 + dh, *sc = xq + dh;
  float* A1 = a.ws + (int64_t)bh * ttt_mlp_ws_floats(dk, dv, dh);
  float *G1 = A1 + P1, *A2 = G1 + P1, *G2 = A2 + P2, *c1 = G2 + P2, *g1 = c1 + dh, *c2 = g1 + dh, *g2 = c2 + dv;
  for (int64_t i = tid; i < P1; i += nt) {
    A1[i] = mlp_state(a.W1_0, b, h, i / dh, i % dh);
    G1[i] = 0.0f;
  }
  for (int64_t i = tid; i < P2; i += nt) {
    A2[i] = mlp_state(a.W2_0, b, h, i / dv, i % dv);
    G2[i] = 0.0f;
  }
  for (int j = tid; j < dh; j += nt) {
    c1[j] = a.bias ? mlp_state(a.b1_0, b, h, j, 0) : 0.0f;
    g1[j] = 0.0f;
  }
  for (int j = tid; j < dv; j += nt) {
    c2[j] = a.bias ? mlp_state(a.b2_0, b, h, j, 0) : 0.0f;
    g2[j] = 0.0f;
    gam[j] = a.gamma.p ? mlp_state(a.gamma, 0, h, j, 0) : 1.0f;
    bet[j] = a.beta.p ? mlp_state(a.beta, 0, h, j, 0) : 0.0f;
  }
  x.sync();
  // c_t of the last token of a full mini-batch (the weights it leaves are W = A - c G)
  const float c_full = a.token_idx ? 1.0f / (float)a.C : 1.0f;
  for (int t = 0; t < a.T; ++t) {
    const int i_loc = t % a.C;
    if (i_loc == 0 && t > 0) {  // a new mini-batch: anchors = the weights now, sums reset
      for (int64_t i = tid; i < P1; i += nt) A1[i] -= c_full * G1[i], G1[i] = 0.0f;
      for (int64_t i = tid; i < P2; i += nt) A2[i] -= c_full * G2[i], G2[i] = 0.0f;
      if (a.bias) {
        for (int j = tid; j < dh; j += nt) c1[j] -= c_full * g1[j];
        for (int j = tid; j < dv; j += nt) c2[j] -= c_full * g2[j];
      }
      for (int j = tid; j < dh; j += nt) g1[j] = 0.0f;
      for (int j = tid; j < dv; j += nt) g2[j] = 0.0f;
    }
    for (int i = tid; i < dk; i += nt) {
      ks[i] = mlp_seq(a.k, b, t, h, i);
      qs[i] = mlp_seq(a.q, b, t, h, i);
    }
    for (int j = tid; j < dv; j += nt) {
      vs[j] = mlp_seq(a.v, b, t, h, j);
      tg[j] = vs[j] - (a.residual ? mlp_seq(a.k, b, t, h, j) : 0.0f);
    }
    if (tid == 0) {
      sc[0] = mlp_seq(a.eta, b, t, h, 0);
      sc[1] = a.token_idx ? 1.0f / (float)(i_loc + 1) : 1.0f;
    }
    x.sync();
    // forward at the anchors: z1 = k A1 + c1, x2 = act(z1), z2 = x2 A2 + c2 (a column per index)
    for (int j = tid; j < dh; j += nt) {
      float s = c1[j];
      for (int e = 0; e < dk; ++e) s += ks[e] * A1[(int64_t)e * dh + j];
      z1[j] = s;
      x2[j] = hd_mem_act(a.act, s);
    }
    x.sync();
    for (int j = tid; j < dv; j += nt) {
      float s = c2[j];
      for (int e = 0; e < dh; ++e) s += x2[e] * A2[(int64_t)e * dv + j];
      z2[j] = s;
    }
    x.sync();
    // gz2 = d/dz2 || LN(z2) - tgt ||^2 (in place in z2): the row maths on one index
    if (tid == 0) {
      if (a.layer_norm)
        hd_ln_l2_grad_row(z2, tg, dv, gam, bet, a.eps, z2);
      else
        for (int j = 0; j < dv; ++j) z2[j] = 2.0f * (z2[j] - tg[j]);
    }
    x.sync();
    // gz1 = (A2 gz2) * act'(z1)
    x.rows_dot(A2, z2, dh, dv, gz1);
    x.sync();
    for (int j = tid; j < dh; j += nt) gz1[j] *= hd_mem_act_grad(a.act, z1[j]);
    x.sync();
    const float et = sc[0], ct = sc[1];
    for (int64_t i = tid; i < P1; i += nt) G1[i] += et * ks[i / dh] * gz1[i % dh];
    for (int64_t i = tid; i < P2; i += nt) G2[i] += et * x2[i / dv] * z2[i % dv];
    for (int j = tid; j < dh; j += nt) g1[j] += et * gz1[j];
    for (int j = tid; j < dv; j += nt) g2[j] += et * z2[j];
    x.sync();
    // o = q + LN(act(q W1_t + b1_t) W2_t + b2_t), W_t = A - c_t G
    for (int j = tid; j < dh; j += nt) {
      float s = a.bias ? c1[j] - ct * g1[j] : 0.0f;
      for (int e = 0; e < dk; ++e) s += qs[e] * (A1[(int64_t)e * dh + j] - ct * G1[(int64_t)e * dh + j]);
      xq[j] = hd_mem_act(a.act, s);
    }
    x.sync();
    for (int j = tid; j < dv; j += nt) {
      float s = a.bias ? c2[j] - ct * g2[j] : 0.0f;
      for (int e = 0; e < dh; ++e) s += xq[e] * (A2[(int64_t)e * dv + j] - ct * G2[(int64_t)e * dv + j]);
      zb[j] = s;
    }
    x.sync();
    if (tid == 0 && a.layer_norm) hd_ln_fwd_row(zb, dv, gam, bet, a.eps, zb);
    x.sync();
    for (int j = tid; j < dv; j += nt)
      store_any(a.o, (((int64_t)b * a.T + t) * a.H + h) * dv + j, a.odt, zb[j] + (a.residual ? qs[j] : 0.0f));
    x.sync();  // the next token overwrites the vectors and scalars
  }
  // the weights after the last token: W = A - c G with that token's c
  const float cl = a.T > 0 && a.token_idx ? 1.0f / (float)((a.T - 1) % a.C + 1) : 1.0f;
  for (int64_t i = tid; i < P1; i += nt) mlp_state_put(a.W1f, b, h, i / dh, i % dh, A1[i] - cl * G1[i]);
  for (int64_t i = tid; i < P2; i += nt) mlp_state_put(a.W2f, b, h, i / dv, i % dv, A2[i] - cl * G2[i]);
  if (a.bias) {
    for (int j = tid; j < dh; j += nt) mlp_state_put(a.b1f, b, h, j, 0, c1[j] - cl * g1[j]);
    for (int j = tid; j < dv; j += nt) mlp_state_put(a.b2f, b, h, j, 0, c2[j] - cl * g2[j]);
  }
}

}  // namespace cuda
}  // namespace engram
