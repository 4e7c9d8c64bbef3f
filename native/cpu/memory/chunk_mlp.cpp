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
// Row-parallel elementwise pass (inline when already inside a parallel region).
template <class F>
void rows(int64_t n, int64_t width, const F& f) {
  parallel_for(n, std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)), [&](int64_t a, int64_t e) {
    for (int64_t t = a; t < e; ++t) f(t);
  });
}

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
}  // namespace

void mlp_step(const LinChunk& c, int64_t C, int64_t dh, MemAct act, MlpState st, float* Y, MlpScratch& s,
              float* S1l, float* S2l) {
  const int64_t n = c.n, d = c.dk;
  const bool mom = c.mom;
  const int64_t sw1 = mom ? 2 * dh : dh, sw2 = mom ? 2 * d : d;
  const LinCoeffs cf = lin_coeffs(c, C);
  s.Z.resize((size_t)(n * dh));
  s.Sp.resize((size_t)(n * dh));
  s.E2.resize((size_t)(n * d));
  s.D.resize((size_t)(n * dh));
  s.Hb.resize((size_t)(n * dh));
  s.HAB.resize((size_t)(n * sw1));
  s.P2.resize((size_t)(n * n));
  s.HC.resize((size_t)(n * sw1));
  float *Z = s.Z.data(), *Sp = s.Sp.data(), *E2 = s.E2.data(), *D = s.D.data(), *Hb = s.Hb.data();
  float *HAB = s.HAB.data(), *P2 = s.P2.data(), *HC = s.HC.data();
  float *X1 = st.X1, *X2 = st.X2;

  // Z = K W2^T; Hh = act(Z) (in Z), Sp = act'(Z)
  g(n, dh, d, c.K, d, 1, X2, 1, sw2, Z, dh, 1.0f, 0.0f);
  rows(n, dh, [&](int64_t t) { vact(dh, act, Z + t * dh, Z + t * dh, Sp + t * dh); });
  // E2 = 2 (Hh W1^T + K - V)
  g(n, d, dh, Z, dh, 1, X1, 1, sw1, E2, d, 2.0f, 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    vaxpy(d, 2.0f, c.K + t * d, E2 + t * d);
    vaxpy(d, -2.0f, c.V + t * d, E2 + t * d);
  }
  // D = (E2 W1) * act'(Z)
  g(n, dh, d, E2, d, 1, X1, sw1, 1, D, dh, 1.0f, 0.0f);
  rows(n, dh, [&](int64_t t) { vmul(dh, Sp + t * dh, D + t * dh); });
  // Zb = [A q | Bv q] [W2 | S2]^T - Wcp D;  Hb = act(Zb)
  g(n, dh, sw2, c.QAB, sw2, 1, X2, 1, sw2, Hb, dh, 1.0f, 0.0f);
  g(n, dh, n, c.Wcp, n, 1, D, dh, 1, Hb, dh, -1.0f, 1.0f);
  rows(n, dh, [&](int64_t t) {
    float* hb = Hb + t * dh;
    vact(dh, act, hb, hb, nullptr);
    float* ha = HAB + t * sw1;
    for (int64_t j = 0; j < dh; ++j) ha[j] = cf.A[t] * hb[j];
    if (mom)
      for (int64_t j = 0; j < dh; ++j) ha[dh + j] = cf.Bv[t] * hb[j];
  });
  // Y = Q + [A Hb | Bv Hb] [W1 | S1]^T - (Cm * Hb Hh^T) E2
  g(n, d, sw1, HAB, sw1, 1, X1, 1, sw1, Y, d, 1.0f, 0.0f);
  g(n, n, dh, Hb, dh, 1, Z, 1, dh, P2, n, 1.0f, 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i <= t; ++i) P2[t * n + i] *= cf.Cm[t * n + i];
    for (int64_t i = t + 1; i < n; ++i) P2[t * n + i] = 0.0f;
    vaxpy(d, 1.0f, c.Q + t * d, Y + t * d);
  }
  g(n, d, n, P2, n, 1, E2, d, 1, Y, d, -1.0f, 1.0f);

  // Momentum after the last token without momentum carry: -theta_{n-1} u_{n-1}.
  if (!mom && S1l && S2l) {
    const float th = cf.hlast[n - 1];
    const float *e = E2 + (n - 1) * d, *hh = Z + (n - 1) * dh, *dd = D + (n - 1) * dh, *k = c.K + (n - 1) * d;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < dh; ++j) S1l[i * dh + j] = -th * e[i] * hh[j];
    for (int64_t j = 0; j < dh; ++j)
      for (int64_t i = 0; i < d; ++i) S2l[j * d + i] = -th * dd[j] * k[i];
  }
  // State: X <- [A_n W + Bv_n S | Hc_n S] + grads
  const float An = c.An(), Bvn = c.Bvn(), Hcn = c.Hcn();
  auto decay_rows = [&](float* X, int64_t nrows, int64_t w, int64_t sw) {
    rows(nrows, w, [&](int64_t r) {
      float* x = X + r * sw;
      if (mom) {
        vaxpby(w, Bvn, x + w, An, x);
        vscale(w, Hcn, x + w);
      } else {
        vscale(w, An, x);
      }
    });
  };
  decay_rows(X1, d, dh, sw1);
  decay_rows(X2, dh, d, sw2);
  // X1 += E2^T [-Cm[n-1] Hh | -hlast Hh];  X2 += D^T [-Cm[n-1] k | -hlast k] (= KCHt^T)
  const float* cl = cf.Cm + (n - 1) * n;
  for (int64_t t = 0; t < n; ++t) {
    const float* hh = Z + t * dh;
    float* hc = HC + t * sw1;
    for (int64_t j = 0; j < dh; ++j) hc[j] = -cl[t] * hh[j];
    if (mom)
      for (int64_t j = 0; j < dh; ++j) hc[dh + j] = -cf.hlast[t] * hh[j];
  }
  g(d, sw1, n, E2, 1, d, HC, sw1, 1, X1, sw1, 1.0f, 1.0f);
  g(dh, sw2, n, D, 1, dh, c.KCHt, 1, n, X2, sw2, 1.0f, 1.0f);
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
