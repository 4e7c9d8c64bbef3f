// TNT module runners on the CPU (see tnt_mods.h).
#include "tnt_mods.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../gemm.h"
#include "chunk_linear.h"
#include "chunk_mlp.h"
#include "engram/tnt_hd.h"
#include "mem_io.h"

namespace engram {
namespace cpu {
namespace tnt {

namespace {

constexpr int64_t kSubBlock = 256;  // rows per GEMM block of the global branch
constexpr int64_t kProjBlock = 32;  // rows per block of the Q-K projection (shard / sequence sums)

int64_t width(const TntModule& md, int64_t dk) { return md.momentum ? 2 * dk : dk; }

// [rows, w] block <-> columns [off, off + w) of rows of X (row stride sw).
void put_cols(float* X, int64_t rows, int64_t w, int64_t sw, int64_t off, const float* src) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(X + r * sw + off, src + r * w, (size_t)w * sizeof(float));
}
void get_cols(const float* X, int64_t rows, int64_t w, int64_t sw, int64_t off, float* dst) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * w, X + r * sw + off, (size_t)w * sizeof(float));
}
// M [dv, dk] (column convention) <-> rows [r0, r0 + dk) of X [*, dv] (M^T).
void put_t(const float* M, int64_t dv, int64_t dk, float* X) {
  for (int64_t j = 0; j < dv; ++j)
    for (int64_t e = 0; e < dk; ++e) X[e * dv + j] = M[j * dk + e];
}
void get_t(const float* X, int64_t dv, int64_t dk, float* M) {
  for (int64_t j = 0; j < dv; ++j)
    for (int64_t e = 0; e < dk; ++e) M[j * dk + e] = X[e * dv + j];
}

// The anchor := the memory part of the state (the chunk starts here).
void take_anchor(const TntModule& md, int64_t dk, int64_t dv, ModState& s) {
  if (!md.mlp()) {
    std::memcpy(s.A.data(), s.X.data(), (size_t)(dk * dv) * sizeof(float));
  } else {
    const int64_t dh = md.hidden;
    get_cols(s.X.data(), dk, dh, width(md, dh), 0, s.A.data());
    get_cols(s.X2.data(), dh, dk, width(md, dk), 0, s.A2.data());
  }
}

void emit(const Sink& out, int64_t b, int64_t h, int64_t t, int64_t n, const float* Y, int64_t ldy) {
  for (int64_t i = 0; i < n; ++i) {
    float* o = out.row(b, t + i, h);
    if (out.add) mem::vaxpy(out.dv, 1.0f, Y + i * ldy, o);
    else std::memcpy(o, Y + i * ldy, (size_t)out.dv * sizeof(float));
  }
}

void load_gates(const TntModule& md, int m, const Source& src, int64_t b, int64_t h, int64_t t, int64_t n, float* th,
                float* al, float* et) {
  mem::load_gate(src.lr[(size_t)m], b, h, t - src.base, n, th);
  if (md.decay) mem::load_gate(src.al[(size_t)m], b, h, t - src.base, n, al);
  if (md.momentum) mem::load_gate(src.et[(size_t)m], b, h, t - src.base, n, et);
}

// K rows scaled by c -> out [n, dk].
void scale_rows(int64_t n, int64_t dk, const float* K, const float* c, float* out) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t e = 0; e < dk; ++e) out[i * dk + e] = c[i] * K[i * dk + e];
}

// ---- global branch ------------------------------------------------------------

void global_linear_seg(const TntModule& md, int m, const Source& src, int64_t b, int64_t h, int64_t t, int64_t n,
                       const Dims4& d, ModState& s, const Sink& out) {
  const int64_t dk = d.dk, dv = d.dv;
  const bool mom = md.momentum;
  thread_local std::vector<float> g, QK, V, Y, KC, dM;
  g.resize((size_t)(5 * n));
  float *th = g.data(), *al = th + n, *et = al + n, *cl = et + n, *hl = cl + n;
  load_gates(md, m, src, b, h, t, n, th, al, et);
  float A, Bv, Hc;
  hd_tnt_seg_coeffs((int)n, th, md.decay ? al : nullptr, mom ? et : nullptr, cl, hl, &A, &Bv, &Hc);
  const int64_t SB = std::min(kSubBlock, n);
  QK.resize((size_t)(2 * SB * dk));
  V.resize((size_t)(SB * dv));
  Y.resize((size_t)(2 * SB * dv));
  KC.resize((size_t)(SB * dk));
  dM.assign((size_t)((mom ? 2 : 1) * dk * dv), 0.0f);
  for (int64_t u = 0; u < n; u += SB) {
    const int64_t nb = std::min(SB, n - u), r0 = t + u - src.base;
    mem::load_rows(src.q, b, h, r0, nb, QK.data(), dk);
    mem::load_rows(src.k, b, h, r0, nb, QK.data() + nb * dk, dk);
    mem::load_rows(src.v, b, h, r0, nb, V.data(), dv);
    // [Q; K] V_n^T: the frozen read and the prediction of the gradient, one GEMM
    sgemm(false, false, 2 * nb, dv, dk, 1.0f, QK.data(), dk, s.A.data(), dv, 0.0f, Y.data(), dv);
    emit(out, b, h, t + u, nb, Y.data(), dv);
    float* G = Y.data() + nb * dv;  // G = 2 (K V_n^T - V)
    for (int64_t i = 0; i < nb * dv; ++i) G[i] = 2.0f * (G[i] - V[(size_t)i]);
    const float* K = QK.data() + nb * dk;
    scale_rows(nb, dk, K, cl + u, KC.data());
    sgemm(true, false, dk, dv, nb, 1.0f, KC.data(), dk, G, dv, 1.0f, dM.data(), dv);
    if (mom) {
      scale_rows(nb, dk, K, hl + u, KC.data());
      sgemm(true, false, dk, dv, nb, 1.0f, KC.data(), dk, G, dv, 1.0f, dM.data() + dk * dv, dv);
    }
  }
  float* X = s.X.data();
  for (int64_t e = 0; e < dk; ++e) {
    float* M = X + e * dv;
    const float* dm = dM.data() + e * dv;
    if (mom) {
      float* S = X + (dk + e) * dv;
      const float* ds = dM.data() + (dk + e) * dv;
      for (int64_t j = 0; j < dv; ++j) {
        M[j] = A * M[j] + Bv * S[j] - dm[j];
        S[j] = Hc * S[j] - ds[j];
      }
    } else {
      for (int64_t j = 0; j < dv; ++j) M[j] = A * M[j] - dm[j];
    }
  }
}

void global_mlp_seg(const TntModule& md, int m, const Source& src, int64_t b, int64_t h, int64_t t, int64_t n,
                    const Dims4& d, ModState& s, const Sink& out) {
  const int64_t D = d.dk, dh = md.hidden;
  const bool mom = md.momentum;
  const int64_t sw1 = width(md, dh), sw2 = width(md, D);
  thread_local std::vector<float> g, QK, V, Z, Sp, Y, E2, Dl, Sc, dW;
  g.resize((size_t)(5 * n));
  float *th = g.data(), *al = th + n, *et = al + n, *cl = et + n, *hl = cl + n;
  load_gates(md, m, src, b, h, t, n, th, al, et);
  float A, Bv, Hc;
  hd_tnt_seg_coeffs((int)n, th, md.decay ? al : nullptr, mom ? et : nullptr, cl, hl, &A, &Bv, &Hc);
  const int64_t SB = std::min(kSubBlock, n), P = D * dh;
  QK.resize((size_t)(2 * SB * D));
  V.resize((size_t)(SB * D));
  Z.resize((size_t)(2 * SB * dh));
  Sp.resize((size_t)(SB * dh));
  Y.resize((size_t)(SB * D));
  E2.resize((size_t)(SB * D));
  Dl.resize((size_t)(SB * dh));
  Sc.resize((size_t)(SB * std::max(D, dh)));
  dW.assign((size_t)((mom ? 4 : 2) * P), 0.0f);  // dW1 [D, dh], dW2 [dh, D], (dS1, dS2)
  const float *A1 = s.A.data(), *A2 = s.A2.data();
  for (int64_t u = 0; u < n; u += SB) {
    const int64_t nb = std::min(SB, n - u), r0 = t + u - src.base;
    mem::load_rows(src.q, b, h, r0, nb, QK.data(), D);
    mem::load_rows(src.k, b, h, r0, nb, QK.data() + nb * D, D);
    mem::load_rows(src.v, b, h, r0, nb, V.data(), D);
    const float *Q = QK.data(), *K = QK.data() + nb * D;
    // pre-activations of the read (rows < nb) and of the keys (rows >= nb) at the chunk-start memory
    sgemm(false, true, 2 * nb, dh, D, 1.0f, QK.data(), D, A2, D, 0.0f, Z.data(), dh);
    float *Hq = Z.data(), *Hh = Z.data() + nb * dh;
    for (int64_t i = 0; i < nb; ++i) {
      mem::vact(dh, md.act, Hq + i * dh, Hq + i * dh, nullptr);
      mem::vact(dh, md.act, Hh + i * dh, Hh + i * dh, Sp.data() + i * dh);
    }
    std::memcpy(Y.data(), Q, (size_t)(nb * D) * sizeof(float));  // y = q + W1 act(W2 q)
    sgemm(false, true, nb, D, dh, 1.0f, Hq, dh, A1, dh, 1.0f, Y.data(), D);
    emit(out, b, h, t + u, nb, Y.data(), D);
    for (int64_t i = 0; i < nb * D; ++i) E2[(size_t)i] = K[i] - V[(size_t)i];
    sgemm(false, true, nb, D, dh, 1.0f, Hh, dh, A1, dh, 1.0f, E2.data(), D);
    mem::vscale(nb * D, 2.0f, E2.data());  // E2 = 2 (f(k) - v)
    sgemm(false, false, nb, dh, D, 1.0f, E2.data(), D, A1, dh, 0.0f, Dl.data(), dh);
    mem::vmul(nb * dh, Sp.data(), Dl.data());  // D = (E2 W1) * act'(Z)
    for (int pass = 0; pass < (mom ? 2 : 1); ++pass) {
      const float* c = (pass ? hl : cl) + u;
      float* dW1 = dW.data() + pass * 2 * P;
      float* dW2 = dW1 + P;
      scale_rows(nb, D, E2.data(), c, Sc.data());
      sgemm(true, false, D, dh, nb, 1.0f, Sc.data(), D, Hh, dh, 1.0f, dW1, dh);
      scale_rows(nb, D, K, c, Sc.data());
      sgemm(true, false, dh, D, nb, 1.0f, Dl.data(), dh, Sc.data(), D, 1.0f, dW2, D);
    }
  }
  auto apply = [&](float* X, int64_t rows, int64_t cols, int64_t sw, const float* dw, const float* ds) {
    for (int64_t r = 0; r < rows; ++r) {
      float* w = X + r * sw;
      const float* gw = dw + r * cols;
      if (mom) {
        float* sm = w + cols;
        const float* gs = ds + r * cols;
        for (int64_t j = 0; j < cols; ++j) {
          w[j] = A * w[j] + Bv * sm[j] - gw[j];
          sm[j] = Hc * sm[j] - gs[j];
        }
      } else {
        for (int64_t j = 0; j < cols; ++j) w[j] = A * w[j] - gw[j];
      }
    }
  };
  apply(s.X.data(), D, dh, sw1, dW.data(), mom ? dW.data() + 2 * P : nullptr);
  apply(s.X2.data(), dh, D, sw2, dW.data() + P, mom ? dW.data() + 3 * P : nullptr);
}

// ---- local branch ---------------------------------------------------------------

// Q <- Pi Q-rows + tril(Q K^T diag(1/|k|^2)) K and Pi += K^T diag(1/|k|^2) K
// (Pi_t q_t for every row t of the chunk; algorithms.md §4(c)). reset: Pi = 0 first.
void project_block(float* Q, const float* K, int64_t n, int64_t dk, float* pi);
void project(float* Q, const float* K, int64_t n, int64_t dk, float* pi, bool reset) {
  if (reset) std::fill(pi, pi + dk * dk, 0.0f);
  for (int64_t i = 0; i < n; i += kProjBlock)  // sub-blocks: the intra-block terms grow with the block
    project_block(Q + i * dk, K + i * dk, std::min(kProjBlock, n - i), dk, pi);
}
void project_block(float* Q, const float* K, int64_t n, int64_t dk, float* pi) {
  thread_local std::vector<float> sv, P, Qp, KS;
  sv.resize((size_t)n);
  P.resize((size_t)(n * n));
  Qp.resize((size_t)(n * dk));
  KS.resize((size_t)(n * dk));
  for (int64_t i = 0; i < n; ++i) {
    sv[(size_t)i] = hd_tnt_key_weight(mem::vdot(dk, K + i * dk, K + i * dk));
  }
  sgemm(false, true, n, n, dk, 1.0f, Q, dk, K, dk, 0.0f, P.data(), n);
  for (int64_t t = 0; t < n; ++t) {
    float* r = P.data() + t * n;
    for (int64_t i = 0; i <= t; ++i) r[i] *= sv[(size_t)i];
    for (int64_t i = t + 1; i < n; ++i) r[i] = 0.0f;
  }
  sgemm(false, true, n, dk, dk, 1.0f, Q, dk, pi, dk, 0.0f, Qp.data(), dk);  // rows (Pi q_t)^T
  sgemm(false, false, n, dk, n, 1.0f, P.data(), n, K, dk, 1.0f, Qp.data(), dk);
  std::memcpy(Q, Qp.data(), (size_t)(n * dk) * sizeof(float));
  scale_rows(n, dk, K, sv.data(), KS.data());
  sgemm(true, false, dk, dk, n, 1.0f, K, dk, KS.data(), dk, 1.0f, pi, dk);
}

// One chunk segment [t, t + n) of a local memory; phase = position of t inside its chunk.
// qproj: the projected query rows of this segment when computed ahead (blocked), else null.
void local_chunk_seg(const TntModule& md, int m, TntProj proj, const Source& src, int64_t b, int64_t h,
                     int64_t t, int64_t n, int64_t phase, bool last, const Dims4& d, ModState& s, const Sink& out,
                     const float* qproj) {
  const int64_t C = md.chunk, dk = d.dk, dv = d.dv;
  thread_local std::vector<float> buf, Y, R;
  thread_local mem::MlpScratch scr;
  buf.resize(mem::LinChunk::floats(C, dk, dv));
  mem::LinChunk ch;
  ch.bind(buf.data(), C, n, dk, dv, md.momentum);
  const int64_t r0 = t - src.base;
  if (qproj) std::memcpy(ch.Q, qproj, (size_t)(n * dk) * sizeof(float));
  else mem::load_rows(src.q, b, h, r0, n, ch.Q, dk);
  mem::load_rows(src.k, b, h, r0, n, ch.K, dk);
  mem::load_rows(src.v, b, h, r0, n, ch.V, dv);
  load_gates(md, m, src, b, h, t, n, ch.theta(), ch.alpha(C), ch.eta(C));
  if (phase == 0 && last) take_anchor(md, dk, dv, s);  // the anchor the final state reports
  if (!s.pi.empty() && !qproj) project(ch.Q, ch.K, n, dk, s.pi.data(), proj == TntProj::CHUNK && phase == 0);
  mem::lin_prep(ch, C, md.decay);
  Y.resize((size_t)(n * dv));
  if (!md.mlp()) {  // resuming mid-chunk (phase > 0): gradients at the carried anchor
    R.resize((size_t)(n * dv));
    mem::lin_step(ch, 0, dv, s.X.data(), dv, Y.data(), dv, R.data(), nullptr, phase ? s.A.data() : nullptr, dv);
  } else {
    const int64_t dh = md.hidden;
    mem::MlpState st{s.X.data(), s.X2.data()};
    if (phase) {
      st.A1 = s.A.data(), st.lda1 = dh;
      st.A2 = s.A2.data(), st.lda2 = dk;
    }
    mem::mlp_step(ch, C, dh, md.act, st, Y.data(), scr, nullptr, nullptr, 1);
  }
  emit(out, b, h, t, n, Y.data(), dv);
}

// Chunk size 1: every token is its own chunk (exact online GD), as a token loop.
void local_token_loop(const TntModule& md, int m, TntProj proj, const Source& src, int64_t b, int64_t h,
                      int64_t t0, int64_t t1, const Dims4& d, ModState& s, const Sink& out) {
  const int64_t dk = d.dk, dv = d.dv, TB = 64;
  const bool mom = md.momentum, mlp = md.mlp();
  const int64_t dh = md.hidden;
  thread_local std::vector<float> q, k, v, g, y, qp, r, z, hh, sp, e, dl;
  q.resize((size_t)(TB * dk));
  k.resize((size_t)(TB * dk));
  v.resize((size_t)(TB * dv));
  g.resize((size_t)(3 * TB));
  y.resize((size_t)(TB * dv));
  qp.resize((size_t)dk);
  r.resize((size_t)dv);
  if (mlp) {
    z.resize((size_t)dh);
    hh.resize((size_t)dh);
    sp.resize((size_t)dh);
    e.resize((size_t)dk);
    dl.resize((size_t)dh);
  }
  const bool pi = !s.pi.empty();
  float* Pi = pi ? s.pi.data() : nullptr;
  for (int64_t tb = t0; tb < t1; tb += TB) {
    const int64_t nb = std::min(TB, t1 - tb), r0 = tb - src.base;
    mem::load_rows(src.q, b, h, r0, nb, q.data(), dk);
    mem::load_rows(src.k, b, h, r0, nb, k.data(), dk);
    mem::load_rows(src.v, b, h, r0, nb, v.data(), dv);
    load_gates(md, m, src, b, h, tb, nb, g.data(), g.data() + TB, g.data() + 2 * TB);
    for (int64_t i = 0; i < nb; ++i) {
      if (tb + i == t1 - 1) take_anchor(md, dk, dv, s);
      const float lr = g[(size_t)i], a = md.decay ? 1.0f - g[(size_t)(TB + i)] : 1.0f;
      const float et = mom ? g[(size_t)(2 * TB + i)] : 0.0f;
      const float *kt = k.data() + i * dk, *vt = v.data() + i * dv;
      const float* qt = q.data() + i * dk;
      if (pi) {
        if (proj == TntProj::CHUNK) std::fill(Pi, Pi + dk * dk, 0.0f);
        const float sv = hd_tnt_key_weight(mem::vdot(dk, kt, kt));
        if (sv > 0.0f)
          for (int64_t a2 = 0; a2 < dk; ++a2) mem::vaxpy(dk, kt[a2] * sv, kt, Pi + a2 * dk);
        for (int64_t a2 = 0; a2 < dk; ++a2) qp[(size_t)a2] = mem::vdot(dk, Pi + a2 * dk, qt);
        qt = qp.data();
      }
      float* yt = y.data() + i * dv;
      if (!mlp) {
        float* X = s.X.data();  // rows e: M^T (and S^T at dk + e)
        for (int64_t j = 0; j < dv; ++j) r[(size_t)j] = -vt[j];
        for (int64_t e2 = 0; e2 < dk; ++e2) mem::vaxpy(dv, kt[e2], X + e2 * dv, r.data());
        for (int64_t e2 = 0; e2 < dk; ++e2) {
          float* M = X + e2 * dv;
          const float c = -2.0f * lr * kt[e2];
          if (mom) {
            float* S = X + (dk + e2) * dv;
            mem::vscale(dv, et, S);
            mem::vaxpy(dv, c, r.data(), S);
            mem::vaxpby(dv, 1.0f, S, a, M);
          } else {
            mem::vscale(dv, a, M);
            mem::vaxpy(dv, c, r.data(), M);
          }
        }
        std::fill(yt, yt + dv, 0.0f);
        for (int64_t e2 = 0; e2 < dk; ++e2) mem::vaxpy(dv, qt[e2], X + e2 * dv, yt);
      } else {
        const int64_t D = dk, sw1 = width(md, dh), sw2 = width(md, D);
        float *X1 = s.X.data(), *X2 = s.X2.data();
        for (int64_t j = 0; j < dh; ++j) z[(size_t)j] = mem::vdot(D, X2 + j * sw2, kt);
        mem::vact(dh, md.act, z.data(), hh.data(), sp.data());
        for (int64_t i2 = 0; i2 < D; ++i2) e[(size_t)i2] = kt[i2] - vt[i2] + mem::vdot(dh, X1 + i2 * sw1, hh.data());
        std::fill(dl.begin(), dl.end(), 0.0f);
        for (int64_t i2 = 0; i2 < D; ++i2) mem::vaxpy(dh, e[(size_t)i2], X1 + i2 * sw1, dl.data());
        for (int64_t j = 0; j < dh; ++j) dl[(size_t)j] *= 2.0f * sp[(size_t)j];
        for (int64_t i2 = 0; i2 < D; ++i2) {  // W1 rows: grad 2 e_i h
          float* w = X1 + i2 * sw1;
          const float c = -2.0f * lr * e[(size_t)i2];
          if (mom) {
            mem::vscale(dh, et, w + dh);
            mem::vaxpy(dh, c, hh.data(), w + dh);
            mem::vaxpby(dh, 1.0f, w + dh, a, w);
          } else {
            mem::vscale(dh, a, w);
            mem::vaxpy(dh, c, hh.data(), w);
          }
        }
        for (int64_t j = 0; j < dh; ++j) {  // W2 rows: grad delta_j k
          float* w = X2 + j * sw2;
          const float c = -lr * dl[(size_t)j];
          if (mom) {
            mem::vscale(D, et, w + D);
            mem::vaxpy(D, c, kt, w + D);
            mem::vaxpby(D, 1.0f, w + D, a, w);
          } else {
            mem::vscale(D, a, w);
            mem::vaxpy(D, c, kt, w);
          }
        }
        for (int64_t j = 0; j < dh; ++j) z[(size_t)j] = mem::vdot(D, X2 + j * sw2, qt);
        mem::vact(dh, md.act, z.data(), hh.data(), nullptr);
        for (int64_t i2 = 0; i2 < D; ++i2) yt[i2] = qt[i2] + mem::vdot(dh, X1 + i2 * sw1, hh.data());
      }
    }
    emit(out, b, h, tb, nb, y.data(), dv);
  }
}

}  // namespace

void state_alloc(const TntModule& md, bool pi, int64_t dk, int64_t dv, ModState& s) {
  if (!md.mlp()) {
    s.X.assign((size_t)(width(md, dk) * dv), 0.0f);
    s.A.assign((size_t)(dk * dv), 0.0f);
    s.X2.clear();
    s.A2.clear();
  } else {
    const int64_t dh = md.hidden;
    s.X.assign((size_t)(dk * width(md, dh)), 0.0f);
    s.X2.assign((size_t)(dh * width(md, dk)), 0.0f);
    s.A.assign((size_t)(dk * dh), 0.0f);
    s.A2.assign((size_t)(dh * dk), 0.0f);
  }
  if (pi) s.pi.assign((size_t)(dk * dk), 0.0f);
  else s.pi.clear();
}

void state_load_init(const TntModule& md, const Tensor& init1, const Tensor& init2, int64_t b, int64_t h,
                     int64_t dk, int64_t dv, ModState& s) {
  thread_local std::vector<float> tmp;
  if (!md.mlp()) {
    tmp.resize((size_t)(dk * dv));
    mem::load_state(init1, b, h, dk * dv, tmp.data());
    std::fill(s.X.begin(), s.X.end(), 0.0f);
    put_t(tmp.data(), dv, dk, s.X.data());
  } else {
    const int64_t dh = md.hidden;
    std::fill(s.X.begin(), s.X.end(), 0.0f);
    std::fill(s.X2.begin(), s.X2.end(), 0.0f);
    tmp.resize((size_t)(dk * dh));
    mem::load_state(init1, b, h, dk * dh, tmp.data());
    put_cols(s.X.data(), dk, dh, width(md, dh), 0, tmp.data());
    mem::load_state(init2, b, h, dk * dh, tmp.data());
    put_cols(s.X2.data(), dh, dk, width(md, dk), 0, tmp.data());
  }
  take_anchor(md, dk, dv, s);
  std::fill(s.pi.begin(), s.pi.end(), 0.0f);
}

void state_load_packed(const TntModule& md, const TntModLayout& ml, const float* packed, int64_t b, int64_t h,
                       int64_t H, int64_t dk, int64_t dv, ModState& s) {
  if (!md.mlp()) {
    put_t(packed + ml.mem[0].at(b, h, H), dv, dk, s.X.data());
    put_t(packed + ml.anc[0].at(b, h, H), dv, dk, s.A.data());
    if (md.momentum) put_t(packed + ml.mom[0].at(b, h, H), dv, dk, s.X.data() + dk * dv);
  } else {
    const int64_t dh = md.hidden, sw1 = width(md, dh), sw2 = width(md, dk);
    put_cols(s.X.data(), dk, dh, sw1, 0, packed + ml.mem[0].at(b, h, H));
    put_cols(s.X2.data(), dh, dk, sw2, 0, packed + ml.mem[1].at(b, h, H));
    std::memcpy(s.A.data(), packed + ml.anc[0].at(b, h, H), (size_t)(dk * dh) * sizeof(float));
    std::memcpy(s.A2.data(), packed + ml.anc[1].at(b, h, H), (size_t)(dk * dh) * sizeof(float));
    if (md.momentum) {
      put_cols(s.X.data(), dk, dh, sw1, dh, packed + ml.mom[0].at(b, h, H));
      put_cols(s.X2.data(), dh, dk, sw2, dk, packed + ml.mom[1].at(b, h, H));
    }
  }
  if (ml.pi.per) std::memcpy(s.pi.data(), packed + ml.pi.at(b, h, H), (size_t)(dk * dk) * sizeof(float));
}

void state_store_packed(const TntModule& md, const TntModLayout& ml, const ModState& s, int64_t b, int64_t h,
                        int64_t H, int64_t dk, int64_t dv, float* packed) {
  if (!md.mlp()) {
    get_t(s.X.data(), dv, dk, packed + ml.mem[0].at(b, h, H));
    get_t(s.A.data(), dv, dk, packed + ml.anc[0].at(b, h, H));
    if (md.momentum) get_t(s.X.data() + dk * dv, dv, dk, packed + ml.mom[0].at(b, h, H));
  } else {
    const int64_t dh = md.hidden, sw1 = width(md, dh), sw2 = width(md, dk);
    get_cols(s.X.data(), dk, dh, sw1, 0, packed + ml.mem[0].at(b, h, H));
    get_cols(s.X2.data(), dh, dk, sw2, 0, packed + ml.mem[1].at(b, h, H));
    std::memcpy(packed + ml.anc[0].at(b, h, H), s.A.data(), (size_t)(dk * dh) * sizeof(float));
    std::memcpy(packed + ml.anc[1].at(b, h, H), s.A2.data(), (size_t)(dk * dh) * sizeof(float));
    if (md.momentum) {
      get_cols(s.X.data(), dk, dh, sw1, dh, packed + ml.mom[0].at(b, h, H));
      get_cols(s.X2.data(), dh, dk, sw2, dk, packed + ml.mom[1].at(b, h, H));
    }
  }
  if (ml.pi.per) std::memcpy(packed + ml.pi.at(b, h, H), s.pi.data(), (size_t)(dk * dk) * sizeof(float));
}

void run_global(const TntModule& md, int m, const Source& src, int64_t b, int64_t h, int64_t pos0, int64_t t0,
                int64_t t1, const Dims4& d, ModState& s, const Sink& out) {
  const int64_t C = md.chunk;
  for (int64_t t = t0; t < t1;) {
    const int64_t phase = (pos0 + t) % C, n = std::min(t1 - t, C - phase);
    if (phase == 0) take_anchor(md, d.dk, d.dv, s);  // V_n: read and gradient anchor of this chunk
    if (md.mlp()) global_mlp_seg(md, m, src, b, h, t, n, d, s, out);
    else global_linear_seg(md, m, src, b, h, t, n, d, s, out);
    t += n;
  }
}

void run_local(const TntModule& md, int m, TntProj proj, const Source& src, int64_t b, int64_t h, int64_t pos0,
               int64_t t0, int64_t t1, const Dims4& d, ModState& s, const Sink& out) {
  const int64_t C = md.chunk;
  if (C == 1) {
    local_token_loop(md, m, proj, src, b, h, t0, t1, d, s, out);
    return;
  }
  // Pi does not depend on the memory, so with a shard-long (or sequence-long) sum the projected
  // queries are formed ahead in blocks of >= kProjBlock rows (whole chunks): the same maths as per
  // chunk, in larger GEMMs. The 'chunk' projection resets with every chunk and stays per chunk.
  const bool ahead = !s.pi.empty() && proj != TntProj::CHUNK;
  thread_local std::vector<float> QP, KP;
  int64_t pb0 = t0, pb1 = t0;
  for (int64_t t = t0; t < t1;) {
    const int64_t phase = (pos0 + t) % C, n = std::min(t1 - t, C - phase);
    if (ahead && t >= pb1) {
      pb0 = t;
      pb1 = std::min(t1, t + n + std::max<int64_t>(0, (kProjBlock - n + C - 1) / C) * C);
      const int64_t nb = pb1 - pb0;
      QP.resize((size_t)(nb * d.dk));
      KP.resize((size_t)(nb * d.dk));
      mem::load_rows(src.q, b, h, pb0 - src.base, nb, QP.data(), d.dk);
      mem::load_rows(src.k, b, h, pb0 - src.base, nb, KP.data(), d.dk);
      project(QP.data(), KP.data(), nb, d.dk, s.pi.data(), false);
    }
    local_chunk_seg(md, m, proj, src, b, h, t, n, phase, t + n == t1, d, s, out,
                    ahead ? QP.data() + (t - pb0) * d.dk : nullptr);
    t += n;
  }
}

void add_key_outer(const Source& src, int64_t b, int64_t h, int64_t t0, int64_t t1, int64_t dk, float* pi) {
  const int64_t TB = 256;
  std::vector<float> K((size_t)(TB * dk)), KS((size_t)(TB * dk));
  for (int64_t t = t0; t < t1; t += TB) {
    const int64_t n = std::min(TB, t1 - t);
    mem::load_rows(src.k, b, h, t - src.base, n, K.data(), dk);
    for (int64_t i = 0; i < n; ++i) {
      const float sv = hd_tnt_key_weight(mem::vdot(dk, K.data() + i * dk, K.data() + i * dk));
      for (int64_t e = 0; e < dk; ++e) KS[(size_t)(i * dk + e)] = sv * K[(size_t)(i * dk + e)];
    }
    sgemm(true, false, dk, dk, n, 1.0f, K.data(), dk, KS.data(), dk, 1.0f, pi, dk);
  }
}

}  // namespace tnt
}  // namespace cpu
}  // namespace engram
