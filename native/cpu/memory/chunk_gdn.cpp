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
  return (size_t)(2 * C * dk + C * (dk + dv) + 2 * C + 2 * C * C + 2 * C * (dk + dv) + dk * C + 4 + C + C * C);
}

void GdnChunk::bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_) {
  n = n_, dk = dk_, dv = dv_, ldz = dk_ + dv_;
  float* p = buf;
  K = p, Q = p + n * dk, p += 2 * C * dk;  // [K; Q]: one GEMM gives K K^T and Q K^T
  KgV = p, V = p + dk, p += C * ldz;        // [e^G K | V]: one GEMM gives W and U
  g = p, p += C;
  beta = p, p += C;
  P2 = p, p += 2 * C * C;
  Z = p, p += 2 * C * ldz;
  Kd = p, p += dk * C;
  scal = p, p += 4;
  tmp = p;
}

void gdn_prep(GdnChunk& c, int64_t C, float scale) {
  const int64_t n = c.n, dk = c.dk, ldz = c.ldz;
  float* G = c.tmp;
  float* Tm = G + C;
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
  // [K; Q] K^T: the top half becomes A = tril(diag(beta) (Gamma * K K^T), -1),
  // the bottom half Aqk = scale tril(Gamma * Q K^T) (diagonal included)
  float *A = c.P2, *Aqk = c.P2 + n * n;
  sgemm(false, true, 2 * n, n, dk, 1.0f, c.K, dk, c.K, dk, 0.0f, c.P2, n);
  for (int64_t i = 0; i < n; ++i) {
    gamma_row(i);
    float *r = A + i * n, *q = Aqk + i * n;
    for (int64_t j = 0; j < i; ++j) r[j] *= c.beta[i] * gam[j];
    for (int64_t j = i; j < n; ++j) r[j] = 0.0f;
    for (int64_t j = 0; j <= i; ++j) q[j] *= scale * gam[j];
    for (int64_t j = i + 1; j < n; ++j) q[j] = 0.0f;
  }
  // T = (I + A)^{-1} diag(beta), forward substitution (hd_ut_row, vectorised)
  ut_inverse(n, A, Tm);
  for (int64_t i = 0; i < n; ++i) vmul(i + 1, c.beta, Tm + i * n);
  // [W | U] = T [e^G K | V] into the top of Z; the bottom of Z gets Qg = scale e^G Q
  const float Gn = G[n - 1];
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(G[i]), ek = std::exp(Gn - G[i]);
    float* kg = c.KgV + i * ldz;
    float* qg = c.Z + (n + i) * ldz;
    for (int64_t j = 0; j < dk; ++j) {
      kg[j] = e * c.K[i * dk + j];
      qg[j] = scale * e * c.Q[i * dk + j];
      c.Kd[j * n + i] = ek * c.K[i * dk + j];  // (e^{G_n - G} K)^T [dk, n]
    }
  }
  sgemm(false, false, n, ldz, n, 1.0f, Tm, n, c.KgV, ldz, 0.0f, c.Z, ldz);
  c.scal[0] = std::exp(Gn);
}

void gdn_step(const GdnChunk& c, int64_t j0, int64_t w, float* S, int64_t lds, float* Y, int64_t ldy, float* SC) {
  const int64_t n = c.n, dk = c.dk, ldz = c.ldz;
  // SC = [W; Qg] S  ([2n, w]): W S on top, Qg S below
  GemmArgs a;
  a.M = 2 * n, a.N = w, a.K = dk;
  a.A = c.Z, a.rsa = ldz, a.csa = 1;
  a.B = S, a.rsb = lds, a.csb = 1;
  a.C = SC, a.rsc = w;
  gemm(a);
  // Vnew = U[:, j0:j0+w] - W S (in the top of SC); O = Qg S + Aqk Vnew
  float* Vn = SC;
  for (int64_t t = 0; t < n; ++t) {
    const float* u = c.Z + t * ldz + dk + j0;
    float* v = Vn + t * w;
    for (int64_t j = 0; j < w; ++j) v[j] = u[j] - v[j];
    std::memcpy(Y + t * ldy, SC + (n + t) * w, (size_t)w * sizeof(float));
  }
  GemmArgs o;
  o.M = n, o.N = w, o.K = n;
  o.A = c.P2 + n * n, o.rsa = n, o.csa = 1;
  o.B = Vn, o.rsb = w, o.csb = 1;
  o.C = Y, o.rsc = ldy;
  o.beta = 1.0f;
  gemm(o);
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
