// Linear-memory dual-form chunk step (see chunk_linear.h).
#include "chunk_linear.h"

#include <algorithm>

#include "../gemm.h"
#include "engram/memory_hd.h"
#include "mem_io.h"

namespace engram {
namespace cpu {
namespace mem {

size_t LinChunk::floats(int64_t C, int64_t dk, int64_t dv) {
  return (size_t)(C * dk * 2 + C * dv + C * dk * 4 + C * C + dk + 4 + 3 * C + C * C + 9 * C);
}

void LinChunk::bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_, bool mom_) {
  n = n_;
  dk = dk_;
  dv = dv_;
  mom = mom_;
  float* p = buf;
  Q = p, p += C * dk;
  K = p, p += C * dk;
  V = p, p += C * dv;
  QAB = p, p += C * 2 * dk;
  KCHt = p, p += C * 2 * dk;
  Wcp = p, p += C * C;
  khlast = p, p += dk;
  scal = p, p += 4;
  gates = p;
}

namespace {
struct CoeffScratch {
  float *Cm, *A, *Bv, *Hc, *hlast, *La, *Lh, *tmp;
  int *Za, *Zh;
};
CoeffScratch coeff_scratch(const LinChunk& c, int64_t C) {
  float* p = c.gates + 3 * C;
  CoeffScratch s;
  s.Cm = p, p += C * C;
  s.A = p, p += C;
  s.Bv = p, p += C;
  s.Hc = p, p += C;
  s.hlast = p, p += C;
  s.La = p, p += C;
  s.Lh = p, p += C;
  s.tmp = p, p += C;
  s.Za = reinterpret_cast<int*>(p), p += C;
  s.Zh = reinterpret_cast<int*>(p);
  return s;
}
}  // namespace

// hd_titans_coeffs (memory_hd.h) with the exponentials vectorised: the same
// log-prefix segment products and Cm/Bv recurrences, row by row.
void titans_coeffs_fast(int64_t n, const float* alpha, const float* eta, const float* theta, const TitansCoeffView& c,
                        float* La, int* Za, float* Lh, int* Zh, float* tmp) {
  const bool decay = alpha != nullptr, mom = eta != nullptr;
  if (decay) hd_log_prefix((int)n, alpha, 1, true, La, Za);
  if (mom) hd_log_prefix((int)n, eta, 1, false, Lh, Zh);
  auto prefix = [&](bool on, const float* L, const int* Z, float* out, float off) {
    if (!on) {
      for (int64_t t = 0; t < n; ++t) out[t] = off;
      return;
    }
    vexp(n, L, out);
    for (int64_t t = 0; t < n; ++t)
      if (Z[t] >= 0 || L[t] < -80.0f) out[t] = 0.0f;
  };
  prefix(decay, La, Za, c.A, 1.0f);
  prefix(mom, Lh, Zh, c.Hc, 0.0f);
  // seg(L, Z, t, row): row[i] = prod_{i<j<=t} x_j for i < t
  auto seg = [&](const float* L, const int* Z, int64_t t, float* row) {
    for (int64_t i = 0; i < t; ++i) tmp[i] = L[t] - L[i];
    vexp(t, tmp, row);
    // exact zeros past a zero gate; products below e^-80 flushed (no denormals in the GEMMs)
    for (int64_t i = 0; i < t; ++i)
      if (i < Z[t] || tmp[i] < -80.0f) row[i] = 0.0f;
  };
  for (int64_t t = 0; t < n; ++t) {
    float* row = c.Cm + t * c.ldc;
    if (!mom) {
      if (decay) seg(La, Za, t, row);
      else
        for (int64_t i = 0; i < t; ++i) row[i] = 1.0f;
      row[t] = 1.0f;
      for (int64_t i = 0; i <= t; ++i) row[i] *= theta[i];
      c.Bv[t] = 0.0f;
    } else {
      const float at = decay ? 1.0f - alpha[t] : 1.0f;
      const float* prev = c.Cm + (t - 1) * c.ldc;  // X[t-1, :], unscaled until the end
      seg(Lh, Zh, t, row);
      for (int64_t i = 0; i < t; ++i) row[i] += at * prev[i];
      row[t] = 1.0f;
      c.Bv[t] = (t ? at * c.Bv[t - 1] : 0.0f) + c.Hc[t];
    }
    for (int64_t i = t + 1; i < c.ldc; ++i) row[i] = 0.0f;
  }
  if (mom) {
    for (int64_t t = 0; t < n; ++t) vmul(t + 1, theta, c.Cm + t * c.ldc);
    seg(Lh, Zh, n - 1, c.hlast);
    c.hlast[n - 1] = 1.0f;
    vmul(n, theta, c.hlast);
  } else {
    for (int64_t i = 0; i < n; ++i) c.hlast[i] = i == n - 1 ? theta[i] : 0.0f;
  }
}

LinCoeffs lin_coeffs(const LinChunk& c, int64_t C) {
  CoeffScratch s = coeff_scratch(c, C);
  return {s.Cm, s.A, s.Bv, s.Hc, s.hlast};
}

void lin_prep(LinChunk& c, int64_t C, bool decay) {
  const int64_t n = c.n, dk = c.dk, sw = c.sw();
  CoeffScratch s = coeff_scratch(c, C);
  TitansCoeffView v{(int)n, s.Cm, (int)n, s.A, s.Bv, s.Hc, s.hlast};
  titans_coeffs_fast(n, decay ? c.alpha(C) : nullptr, c.mom ? c.eta(C) : nullptr, c.theta(), v, s.La, s.Za, s.Lh,
                     s.Zh, s.tmp);
  // Wcp = Cm * (Q K^T), lower triangle only (upper is zero in Cm).
  sgemm(false, true, n, n, dk, 1.0f, c.Q, dk, c.K, dk, 0.0f, c.Wcp, n);
  for (int64_t t = 0; t < n; ++t) {
    float* w = c.Wcp + t * n;
    const float* cm = s.Cm + t * n;
    for (int64_t i = 0; i <= t; ++i) w[i] *= cm[i];
    for (int64_t i = t + 1; i < n; ++i) w[i] = 0.0f;
  }
  for (int64_t t = 0; t < n; ++t) {
    const float* q = c.Q + t * dk;
    const float* k = c.K + t * dk;
    float* qa = c.QAB + t * sw;
    const float ct = -s.Cm[(n - 1) * n + t], ht = -s.hlast[t];
    for (int64_t j = 0; j < dk; ++j) {
      qa[j] = s.A[t] * q[j];
      c.KCHt[j * n + t] = ct * k[j];
    }
    if (c.mom)
      for (int64_t j = 0; j < dk; ++j) {
        qa[dk + j] = s.Bv[t] * q[j];
        c.KCHt[(dk + j) * n + t] = ht * k[j];
      }
  }
  for (int64_t j = 0; j < dk; ++j) c.khlast[j] = -s.hlast[n - 1] * c.K[(n - 1) * dk + j];
  c.scal[0] = s.A[n - 1];
  c.scal[1] = s.Bv[n - 1];
  c.scal[2] = s.Hc[n - 1];
}

void lin_apply(const LinChunk& c, int64_t w, float* X, int64_t ldx, const float* G, float* Y, int64_t ldy) {
  const int64_t n = c.n, dk = c.dk, sw = c.sw();
  // Y = QAB X  (= diag(A) Q M0^T + diag(Bv) Q S0^T)
  GemmArgs y;
  y.M = n, y.N = w, y.K = sw;
  y.A = c.QAB, y.rsa = sw, y.csa = 1;
  y.B = X, y.rsb = ldx, y.csb = 1;
  y.C = Y, y.rsc = ldy;
  gemm(y);
  // Y -= Wcp G
  GemmArgs a;
  a.M = n, a.N = w, a.K = n;
  a.A = c.Wcp, a.rsa = n, a.csa = 1;
  a.B = G, a.rsb = w, a.csb = 1;
  a.C = Y, a.rsc = ldy;
  a.alpha = -1.0f, a.beta = 1.0f;
  gemm(a);
  // X <- [A_n M^T + Bv_n S^T ; Hc_n S^T] + KCH^T G
  for (int64_t e = 0; e < dk; ++e) {
    float* m = X + e * ldx;
    if (c.mom) {
      vaxpby(w, c.Bvn(), m + dk * ldx, c.An(), m);
      vscale(w, c.Hcn(), m + dk * ldx);
    } else {
      vscale(w, c.An(), m);
    }
  }
  GemmArgs u;
  u.M = sw, u.N = w, u.K = n;
  u.A = c.KCHt, u.rsa = n, u.csa = 1;
  u.B = G, u.rsb = w, u.csb = 1;
  u.C = X, u.rsc = ldx;
  u.beta = 1.0f;
  gemm(u);
}

void lin_step(const LinChunk& c, int64_t j0, int64_t w, float* X, int64_t ldx, float* Y, int64_t ldy, float* R,
              float* Slast, const float* Anc, int64_t lda) {
  const int64_t n = c.n, dk = c.dk;
  // G = 2 (K M0^T - V[:, j0:j0+w]) (M0: the anchor)
  GemmArgs r;
  r.M = n, r.N = w, r.K = dk;
  r.A = c.K, r.rsa = dk, r.csa = 1;
  r.B = Anc ? Anc : X, r.rsb = Anc ? lda : ldx, r.csb = 1;
  r.C = R, r.rsc = w;
  r.alpha = 2.0f;
  gemm(r);
  for (int64_t t = 0; t < n; ++t) vaxpy(w, -2.0f, c.V + t * c.dv + j0, R + t * w);
  lin_apply(c, w, X, ldx, R, Y, ldy);
  if (!c.mom && Slast)
    for (int64_t e = 0; e < dk; ++e) {
      float* s = Slast + e * ldx;
      const float* g = R + (n - 1) * w;
      for (int64_t j = 0; j < w; ++j) s[j] = c.khlast[e] * g[j];
    }
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
