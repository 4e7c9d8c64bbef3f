// Gated delta rule WY/UT chunk (see chunk_gdn.h).
#include "chunk_gdn.h"

#include <cmath>
#include <cstring>

#include "../gemm.h"
#include "engram/memory_hd.h"
#include "mem_io.h"

namespace engram {
namespace cpu {
namespace mem {

size_t GdnChunk::floats(int64_t C, int64_t dk, int64_t dv) {
  return (size_t)(C * dk * 2 + C * dv + 2 * C + C * dk + C * dv + C * dk + C * C + C * dk + 4 + C + 2 * C * C);
}

void GdnChunk::bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_) {
  n = n_, dk = dk_, dv = dv_;
  float* p = buf;
  Q = p, p += C * dk;
  K = p, p += C * dk;
  V = p, p += C * dv;
  g = p, p += C;
  beta = p, p += C;
  W = p, p += C * dk;
  U = p, p += C * dv;
  Qg = p, p += C * dk;
  Aqk = p, p += C * C;
  Kd = p, p += C * dk;
  scal = p, p += 4;
  tmp = p;
}

void gdn_prep(GdnChunk& c, int64_t C, float scale) {
  const int64_t n = c.n, dk = c.dk, dv = c.dv;
  float* G = c.tmp;
  float* KK = G + C;
  float* Tm = KK + C * C;
  double acc = 0;
  for (int64_t t = 0; t < n; ++t) G[t] = (float)(acc += c.g[t]);
  // Gamma row i: exp(G_i - G_j) for j <= i (vectorised; e^-80 and below flushed to 0)
  float* gam = Tm;  // row scratch; Tm is filled after its last use
  auto gamma_row = [&](int64_t i) {
    for (int64_t j = 0; j <= i; ++j) gam[j] = G[i] - G[j];
    vexp(i + 1, gam, gam);
    for (int64_t j = 0; j <= i; ++j)
      if (G[i] - G[j] < -80.0f) gam[j] = 0.0f;
  };
  // A = tril(diag(beta) (Gamma * K K^T), -1), stored in KK
  sgemm(false, true, n, n, dk, 1.0f, c.K, dk, c.K, dk, 0.0f, KK, n);
  for (int64_t i = 0; i < n; ++i) {
    gamma_row(i);
    float* r = KK + i * n;
    for (int64_t j = 0; j < i; ++j) r[j] *= c.beta[i] * gam[j];
    for (int64_t j = i; j < n; ++j) r[j] = 0.0f;
  }
  // T = (I + A)^{-1} diag(beta), forward substitution row by row (hd_ut_row, vectorised)
  ut_inverse(n, KK, Tm);
  for (int64_t i = 0; i < n; ++i) vmul(i + 1, c.beta, Tm + i * n);
  // W = T (exp(G) K) (Kd holds exp(G) K for now), U = T V
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(G[i]);
    for (int64_t j = 0; j < dk; ++j) c.Kd[i * dk + j] = e * c.K[i * dk + j];
  }
  sgemm(false, false, n, dk, n, 1.0f, Tm, n, c.Kd, dk, 0.0f, c.W, dk);
  sgemm(false, false, n, dv, n, 1.0f, Tm, n, c.V, dv, 0.0f, c.U, dv);
  // Aqk = scale tril(Gamma * Q K^T) (diagonal included), Qg, Kd
  sgemm(false, true, n, n, dk, scale, c.Q, dk, c.K, dk, 0.0f, c.Aqk, n);
  gam = c.Kd;  // row scratch again (Kd is written below)
  for (int64_t i = 0; i < n; ++i) {
    gamma_row(i);
    float* r = c.Aqk + i * n;
    vmul(i + 1, gam, r);
    for (int64_t j = i + 1; j < n; ++j) r[j] = 0.0f;
  }
  const float Gn = G[n - 1];
  for (int64_t i = 0; i < n; ++i) {
    const float eq = scale * std::exp(G[i]), ek = std::exp(Gn - G[i]);
    for (int64_t j = 0; j < dk; ++j) {
      c.Qg[i * dk + j] = eq * c.Q[i * dk + j];
      c.Kd[j * n + i] = ek * c.K[i * dk + j];  // stored transposed: [dk, n]
    }
  }
  c.scal[0] = std::exp(Gn);
}

void gdn_step(const GdnChunk& c, int64_t j0, int64_t w, float* S, int64_t lds, float* Y, int64_t ldy, float* Vn) {
  const int64_t n = c.n, dk = c.dk;
  // Vnew = U[:, j0:j0+w] - W S
  for (int64_t t = 0; t < n; ++t) std::memcpy(Vn + t * w, c.U + t * c.dv + j0, (size_t)w * sizeof(float));
  GemmArgs a;
  a.M = n, a.N = w, a.K = dk;
  a.A = c.W, a.rsa = dk, a.csa = 1;
  a.B = S, a.rsb = lds, a.csb = 1;
  a.C = Vn, a.rsc = w;
  a.alpha = -1.0f, a.beta = 1.0f;
  gemm(a);
  // O = Qg S + Aqk Vnew
  GemmArgs o;
  o.M = n, o.N = w, o.K = dk;
  o.A = c.Qg, o.rsa = dk, o.csa = 1;
  o.B = S, o.rsb = lds, o.csb = 1;
  o.C = Y, o.rsc = ldy;
  gemm(o);
  GemmArgs o2;
  o2.M = n, o2.N = w, o2.K = n;
  o2.A = c.Aqk, o2.rsa = n, o2.csa = 1;
  o2.B = Vn, o2.rsb = w, o2.csb = 1;
  o2.C = Y, o2.rsc = ldy;
  o2.beta = 1.0f;
  gemm(o2);
  // S = exp(G_n) S + Kd^T Vnew
  for (int64_t e = 0; e < dk; ++e) vscale(w, c.scal[0], S + e * lds);
  GemmArgs u;
  u.M = dk, u.N = w, u.K = n;
  u.A = c.Kd, u.rsa = n, u.csa = 1;
  u.B = Vn, u.rsb = w, u.csb = 1;
  u.C = S, u.rsc = lds;
  u.beta = 1.0f;
  gemm(u);
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
