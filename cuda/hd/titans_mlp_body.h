// The titansMlp token loop of one (batch, head), written once for two
// executors: the CUDA kernel (cuda/ops/titans_mlp.cu: a block of threads,
// X::sync() = __syncthreads(), X::rows_dot one warp per row) and its CPU
// replay (test/native/test_cuda_math.cpp: one "thread" that runs every index
// of each phase, sync() a no-op), which is checked against the CPU reference
// ref_titans_mlp. Plain C++ apart from the executor, so the maths, the
// indexing, the anchors and the state outputs are tested without a GPU; the
// phases are separated by X::sync() wherever one index reads what another
// wrote (each phase writes only its own indices).
//
// Semantics (native/core/ops/titans.cpp; ref_titans_mlp in f32): per token,
// gradients of ||k + W1 act(W2 k) - v||^2 at the chunk-start anchors (A1, A2),
//   S = eta S - theta u;  W = (1 - alpha) W + S;  y = q + W1 act(W2 q).
// Memories: W1 [d, dh], W2 [dh, d] row-major in a per-(b, h) workspace of
// 6 d dh floats (W1, W2, S1, S2, A1, A2).
#pragma once
#include <cstdint>

#include "elem.h"
#include "engram/memory_hd.h"

#ifdef __CUDACC__
#define ENGRAM_HDT __host__ __device__
#else
#define ENGRAM_HDT
#endif

namespace engram {
namespace cuda {

// A [B, T, H, D] sequence or [B, T, H] gate (any float dtype, any strides); p null: absent.
struct MlpSeq {
  const void* p;
  DType dt;
  int64_t sb, st, sh, sd;
};
// An f32 state [B or 1, H, R, Cc] (sb = 0 broadcasts batch 1); p null: absent / not requested.
struct MlpState {
  float* p;
  int64_t sb, sh, sr, sc;
};

struct TitansMlpArgs {
  MlpSeq q, k, v, theta, alpha, eta;
  MlpState W1_0, W2_0, S1_0, S2_0, A1_0, A2_0;  // initial state (inputs 6..11)
  MlpState W1f, W2f, S1f, S2f, A1f, A2f;        // final state (outputs 1..6)
  float* ws;                                    // 6 d dh floats per (b, h)
  void* o;
  DType odt;
  int B, T, H, d, dh, C, offset;
  bool mom, decay;
  MemAct act;
};

// Shared-memory floats the loop needs: k, v, q, e, y [d]; z, hh, dl, hq [dh]; 3 gates.
ENGRAM_HD int titans_mlp_smem_floats(int d, int dh) { return 5 * d + 4 * dh + 3; }

ENGRAM_HD float mlp_seq(const MlpSeq& s, int64_t b, int64_t t, int64_t h, int64_t i) {
  return load_any(s.p, b * s.sb + t * s.st + h * s.sh + i * s.sd, s.dt);
}
ENGRAM_HD float mlp_state(const MlpState& s, int64_t b, int64_t h, int64_t r, int64_t c) {
  return s.p ? s.p[b * s.sb + h * s.sh + r * s.sr + c * s.sc] : 0.0f;
}
ENGRAM_HD void mlp_state_put(const MlpState& s, int64_t b, int64_t h, int64_t r, int64_t c, float v) {
  if (s.p) s.p[b * s.sb + h * s.sh + r * s.sr + c * s.sc] = v;
}


// ---- the residual MLP memory's phases (also used by the TNT token loop) ----
// Memories W1 [d, dh], W2 [dh, d] row-major; each phase ends with x.sync().

// One write: the gradient u of ||k + A1 act(A2 k) - v||^2 at the anchors (A1,
// A2), then S = eta S - theta u, W = (1 - alpha) W + S; g3 = {theta, 1 -
// alpha, eta} (read after the caller's sync). S1/S2 null: no momentum
// (W = (1 - alpha) W - theta u). Scratch: z, hh, dl [dh], e [d].
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void mlp_write_step(const X& x, int d, int dh, MemAct act, const float* A1, const float* A2, const float* ks,
                               const float* vs, const float* g3, float* W1, float* W2, float* S1, float* S2, float* z,
                               float* hh, float* e, float* dl) {
  const int tid = x.tid(), nt = x.nt();
  const int64_t P = (int64_t)d * dh;
  // forward of the anchor memory on k: z = A2 k, hh = act(z), e = k + A1 hh - v
  x.rows_dot(A2, ks, dh, d, z);
  x.sync();
  for (int j = tid; j < dh; j += nt) hh[j] = hd_mem_act(act, z[j]);
  x.sync();
  x.rows_dot(A1, hh, d, dh, e);
  x.sync();
  for (int i = tid; i < d; i += nt) e[i] += ks[i] - vs[i];
  x.sync();
  // dl = 2 (A1^T e) * act'(z) (a column of A1 per index: coalesced across threads)
  for (int j = tid; j < dh; j += nt) {
    float s = 0.0f;
    for (int i = 0; i < d; ++i) s += A1[(int64_t)i * dh + j] * e[i];
    dl[j] = 2.0f * s * hd_mem_act_grad(act, z[j]);
  }
  x.sync();
  // u1 = 2 e hh^T, u2 = dl k^T
  const float th = g3[0], al = g3[1], et = g3[2];
  for (int64_t i = tid; i < P; i += nt) {
    const int64_t r1 = i / dh, c1 = i % dh, r2 = i / d, c2 = i % d;
    const float u1 = th * (2.0f * e[r1] * hh[c1]), u2 = th * (dl[r2] * ks[c2]);
    if (S1) {
      S1[i] = et * S1[i] - u1;
      W1[i] = al * W1[i] + S1[i];
      S2[i] = et * S2[i] - u2;
      W2[i] = al * W2[i] + S2[i];
    } else {
      W1[i] = al * W1[i] - u1;
      W2[i] = al * W2[i] - u2;
    }
  }
  x.sync();
}

// y = xin + W1 act(W2 xin). Scratch: z, hq [dh]. y must not alias xin.
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void mlp_read(const X& x, int d, int dh, MemAct act, const float* W1, const float* W2, const float* xin,
                         float* z, float* hq, float* y) {
  const int tid = x.tid(), nt = x.nt();
  x.rows_dot(W2, xin, dh, d, z);
  x.sync();
  for (int j = tid; j < dh; j += nt) hq[j] = hd_mem_act(act, z[j]);
  x.sync();
  x.rows_dot(W1, hq, d, dh, y);
  x.sync();
  for (int i = tid; i < d; i += nt) y[i] += xin[i];
  x.sync();
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void titans_mlp_block(const TitansMlpArgs& a, int bh, float* sm, const X& x) {
  const int b = bh / a.H, h = bh % a.H, d = a.d, dh = a.dh, tid = x.tid(), nt = x.nt();
  const int64_t P = (int64_t)d * dh;
  float *ks = sm, *vs = ks + d, *qs = vs + d, *e = qs + d, *y = e + d;
  float *z = y + d, *hh = z + dh, *dl = hh + dh, *hq = dl + dh, *sc = hq + dh;
  float* W1 = a.ws + (int64_t)bh * 6 * P;
  float *W2 = W1 + P, *S1 = W2 + P, *S2 = S1 + P, *A1 = S2 + P, *A2 = A1 + P;
  const bool anc_in = a.offset > 0;  // a chunk a previous call started: its anchors (absent: the memory)
  for (int64_t i = tid; i < P; i += nt) {
    const int64_t r1 = i / dh, c1 = i % dh, r2 = i / d, c2 = i % d;  // W1 [d, dh], W2 [dh, d]
    W1[i] = mlp_state(a.W1_0, b, h, r1, c1);
    W2[i] = mlp_state(a.W2_0, b, h, r2, c2);
    S1[i] = mlp_state(a.S1_0, b, h, r1, c1);
    S2[i] = mlp_state(a.S2_0, b, h, r2, c2);
    A1[i] = anc_in && a.A1_0.p ? mlp_state(a.A1_0, b, h, r1, c1) : W1[i];
    A2[i] = anc_in && a.A2_0.p ? mlp_state(a.A2_0, b, h, r2, c2) : W2[i];
  }
  x.sync();
  for (int t = 0; t < a.T; ++t) {
    if ((a.offset + t) % a.C == 0)  // a new chunk: its gradients are taken at the memory now
      for (int64_t i = tid; i < P; i += nt) A1[i] = W1[i], A2[i] = W2[i];
    for (int i = tid; i < d; i += nt) {
      ks[i] = mlp_seq(a.k, b, t, h, i);
      vs[i] = mlp_seq(a.v, b, t, h, i);
      qs[i] = mlp_seq(a.q, b, t, h, i);
    }
    if (tid == 0) {
      sc[0] = mlp_seq(a.theta, b, t, h, 0);
      sc[1] = a.decay ? 1.0f - mlp_seq(a.alpha, b, t, h, 0) : 1.0f;
      sc[2] = a.mom ? mlp_seq(a.eta, b, t, h, 0) : 0.0f;
    }
    x.sync();
    mlp_write_step(x, d, dh, a.act, A1, A2, ks, vs, sc, W1, W2, S1, S2, z, hh, e, dl);
    // y = q + W1 act(W2 q) with the memory after this token's write
    mlp_read(x, d, dh, a.act, W1, W2, qs, z, hq, y);
    for (int i = tid; i < d; i += nt)
      store_any(a.o, (((int64_t)b * a.T + t) * a.H + h) * d + i, a.odt, y[i]);
    x.sync();  // the next token overwrites ks, qs, z, y and the gates
  }
  // the anchors of the chunk in progress, or the memory when the call ends on a chunk boundary
  const bool boundary = (a.offset + a.T) % a.C == 0;
  for (int64_t i = tid; i < P; i += nt) {
    const int64_t r1 = i / dh, c1 = i % dh, r2 = i / d, c2 = i % d;
    mlp_state_put(a.W1f, b, h, r1, c1, W1[i]);
    mlp_state_put(a.W2f, b, h, r2, c2, W2[i]);
    mlp_state_put(a.S1f, b, h, r1, c1, S1[i]);
    mlp_state_put(a.S2f, b, h, r2, c2, S2[i]);
    mlp_state_put(a.A1f, b, h, r1, c1, boundary ? W1[i] : A1[i]);
    mlp_state_put(a.A2f, b, h, r2, c2, boundary ? W2[i] : A2[i]);
  }
}

}  // namespace cuda
}  // namespace engram
