// Residual MLP memory dual-form chunk step (see chunk_mlp.h).
#include "chunk_mlp.h"

#include <algorithm>

#include "../gemm.h"
#include "engram/threadpool.h"
#include "mem_io.h"

namespace engram {
namespace cpu {
namespace mem {

namespace {
void g(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
       int64_t csb, float* C, int64_t rsc, float alpha, float beta) {
  GemmArgs a;
  a.M = M, a.N = N, a.K = K;
  a.A = A, a.rsa = rsa, a.csa = csa;
  a.B = B, a.rsb = rsb, a.csb = csb;
  a.C = C, a.rsc = rsc;
  a.alpha = alpha, a.beta = beta;
  gemm(a);
}
// fn(s) for every hidden slice: one task each (inline for a single slice).
template <class F>
void slices(int64_t ns, const F& fn) {
  if (ns == 1) {
    fn(0);
    return;
  }
  parallel_for(ns, 1, [&](int64_t a, int64_t e) {
    for (int64_t s = a; s < e; ++s) fn(s);
  });
}
}  // namespace

void mlp_step(const LinChunk& c, int64_t C, int64_t dh, MemAct act, MlpState st, float* Y, MlpScratch& s,
              float* S1l, float* S2l, int64_t ns) {
  const int64_t n = c.n, d = c.dk;
  const bool mom = c.mom;
  const int64_t sw1 = mom ? 2 * dh : dh, sw2 = mom ? 2 * d : d;
  const LinCoeffs cf = lin_coeffs(c, C);
  ns = std::max<int64_t>(1, std::min(ns, dh));
  s.Z.resize((size_t)(n * dh));
  s.Sp.resize((size_t)(n * dh));
  s.E2.resize((size_t)(n * d));
  s.D.resize((size_t)(n * dh));
  s.Hb.resize((size_t)(n * dh));
  s.HAB.resize((size_t)(n * 2 * dh));  // per slice: [A Hb_s | Bv Hb_s], then [-cl Hh_s | -hlast Hh_s]
  s.P2.resize((size_t)(ns * n * n));   // per-slice partials of Hb Hh^T
  s.Ep.resize((size_t)(ns * n * d));   // per-slice partials of Hh W1^T, then of Hb W1^T + ...
  float *Z = s.Z.data(), *Sp = s.Sp.data(), *E2 = s.E2.data(), *D = s.D.data(), *Hb = s.Hb.data();
  float *X1 = st.X1, *X2 = st.X2;
  // the anchor (gradients) vs the current memory (outputs, updates)
  const float* G1 = st.A1 ? st.A1 : X1;
  const float* G2 = st.A2 ? st.A2 : X2;
  const int64_t lg1 = st.A1 ? st.lda1 : sw1, lg2 = st.A2 ? st.lda2 : sw2;
  auto range = [&](int64_t sl, int64_t* j0, int64_t* w) { slice_range(dh, ns, sl, j0, w); };

  // A: Z_s = K W2_s^T, Hh_s = act(Z_s) (in Z), Sp_s = act'(Z_s); partial Hh_s W1_s^T
  slices(ns, [&](int64_t sl) {
    int64_t j0, w;
    range(sl, &j0, &w);
    g(n, w, d, c.K, d, 1, G2 + j0 * lg2, 1, lg2, Z + j0, dh, 1.0f, 0.0f);
    for (int64_t t = 0; t < n; ++t) vact(w, act, Z + t * dh + j0, Z + t * dh + j0, Sp + t * dh + j0);
    g(n, d, w, Z + j0, dh, 1, G1 + j0, 1, lg1, s.Ep.data() + sl * n * d, d, 1.0f, 0.0f);
  });
  // E2 = 2 (Hh W1^T + K - V)
  for (int64_t t = 0; t < n; ++t) {
    float* e = E2 + t * d;
    for (int64_t i = 0; i < d; ++i) e[i] = c.K[t * d + i] - c.V[t * d + i];
    for (int64_t sl = 0; sl < ns; ++sl) vaxpy(d, 1.0f, s.Ep.data() + sl * n * d + t * d, e);
    vscale(d, 2.0f, e);
  }
  // B: D_s = (E2 W1_s) * Sp_s;  Zb_s = [A q | Bv q] [W2_s | S2_s]^T - Wcp D_s;  Hb_s = act(Zb_s);
  //    partials Y_s = [A Hb_s | Bv Hb_s] [W1_s | S1_s]^T and P2_s = Hb_s Hh_s^T
  slices(ns, [&](int64_t sl) {
    int64_t j0, w;
    range(sl, &j0, &w);
    g(n, w, d, E2, d, 1, G1 + j0, lg1, 1, D + j0, dh, 1.0f, 0.0f);
    for (int64_t t = 0; t < n; ++t) vmul(w, Sp + t * dh + j0, D + t * dh + j0);
    g(n, w, sw2, c.QAB, sw2, 1, X2 + j0 * sw2, 1, sw2, Hb + j0, dh, 1.0f, 0.0f);
    g(n, w, n, c.Wcp, n, 1, D + j0, dh, 1, Hb + j0, dh, -1.0f, 1.0f);
    float* hab = s.HAB.data() + 2 * j0 * n;  // this slice's [n, 2w] block
    for (int64_t t = 0; t < n; ++t) {
      float* hb = Hb + t * dh + j0;
      vact(w, act, hb, hb, nullptr);
      for (int64_t j = 0; j < w; ++j) {
        hab[t * 2 * w + j] = cf.A[t] * hb[j];
        hab[t * 2 * w + w + j] = cf.Bv[t] * hb[j];
      }
    }
    float* yp = s.Ep.data() + sl * n * d;
    g(n, d, w, hab, 2 * w, 1, X1 + j0, 1, sw1, yp, d, 1.0f, 0.0f);
    if (mom) g(n, d, w, hab + w, 2 * w, 1, X1 + dh + j0, 1, sw1, yp, d, 1.0f, 1.0f);
    g(n, n, w, Hb + j0, dh, 1, Z + j0, 1, dh, s.P2.data() + sl * n * n, n, 1.0f, 0.0f);
  });
  // Cm * sum_s P2_s (Y itself is finished per column slice in phase C)
  float* P2 = s.P2.data();
  for (int64_t sl = 1; sl < ns; ++sl) vaxpy(n * n, 1.0f, s.P2.data() + sl * n * n, P2);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i <= t; ++i) P2[t * n + i] *= cf.Cm[t * n + i];
    for (int64_t i = t + 1; i < n; ++i) P2[t * n + i] = 0.0f;
  }

  // C: outputs and state. W1_s = A_n W1_s + Bv_n S1_s - E2^T diag(Cm[n-1]) Hh_s, S1_s = Hc_n S1_s - E2^T diag(hlast) Hh_s;
  //    W2_s, S2_s likewise with D_s^T and K (KCHt^T). Momentum off: the last momentum into S1l/S2l.
  const float An = c.An(), Bvn = c.Bvn(), Hcn = c.Hcn();
  const float* cl = cf.Cm + (n - 1) * n;
  slices(ns, [&](int64_t sl) {
    int64_t j0, w;
    range(sl, &j0, &w);
    // Y[:, cols] = Q + sum_s Y_s - (Cm * P2) E2, for this slice's share of the d output columns
    int64_t c0, cw;
    slice_range(d, ns, sl, &c0, &cw);
    for (int64_t t = 0; t < n; ++t) {
      float* y = Y + t * d + c0;
      for (int64_t i = 0; i < cw; ++i) y[i] = c.Q[t * d + c0 + i];
      for (int64_t q = 0; q < ns; ++q) vaxpy(cw, 1.0f, s.Ep.data() + q * n * d + t * d + c0, y);
    }
    if (cw > 0) g(n, cw, n, P2, n, 1, E2 + c0, d, 1, Y + c0, d, -1.0f, 1.0f);
    if (!mom && S1l && S2l) {
      const float th = cf.hlast[n - 1];
      const float *e = E2 + (n - 1) * d, *hh = Z + (n - 1) * dh, *dd = D + (n - 1) * dh, *k = c.K + (n - 1) * d;
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = j0; j < j0 + w; ++j) S1l[i * dh + j] = -th * e[i] * hh[j];
      for (int64_t j = j0; j < j0 + w; ++j)
        for (int64_t i = 0; i < d; ++i) S2l[j * d + i] = -th * dd[j] * k[i];
    }
    for (int64_t i = 0; i < d; ++i) {  // X1 columns of the slice
      float* x = X1 + i * sw1 + j0;
      if (mom) {
        vaxpby(w, Bvn, x + dh, An, x);
        vscale(w, Hcn, x + dh);
      } else {
        vscale(w, An, x);
      }
    }
    for (int64_t j = j0; j < j0 + w; ++j) {  // X2 rows of the slice
      float* x = X2 + j * sw2;
      if (mom) {
        vaxpby(d, Bvn, x + d, An, x);
        vscale(d, Hcn, x + d);
      } else {
        vscale(d, An, x);
      }
    }
    float* hc = s.HAB.data() + 2 * j0 * n;  // reuse the slice's block: [-cl Hh_s | -hlast Hh_s]
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < w; ++j) {
        const float hh = Z[t * dh + j0 + j];
        hc[t * 2 * w + j] = -cl[t] * hh;
        hc[t * 2 * w + w + j] = -cf.hlast[t] * hh;
      }
    g(d, w, n, E2, 1, d, hc, 2 * w, 1, X1 + j0, sw1, 1.0f, 1.0f);
    if (mom) g(d, w, n, E2, 1, d, hc + w, 2 * w, 1, X1 + dh + j0, sw1, 1.0f, 1.0f);
    g(w, sw2, n, D + j0, 1, dh, c.KCHt, 1, n, X2 + j0 * sw2, sw2, 1.0f, 1.0f);
  });
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
