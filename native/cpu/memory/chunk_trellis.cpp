// The phases of the trellis chunk form (see chunk_trellis.h).
#include "chunk_trellis.h"

#include <algorithm>
#include <cmath>

#include "../gemm.h"
#include "engram/memory_hd.h"
#include "engram/trellis_hd.h"
#include "mem_io.h"

namespace engram {
namespace cpu {
namespace mem {

size_t TrChunk::floats(int64_t C, int64_t dk, int64_t dv, int64_t m) {
  return LinChunk::floats(C, dk, m) + (size_t)(C * dv + 2 * C * m + 2 * C * C + 6 * C);
}

void TrChunk::bind(float* buf, int64_t C_, int64_t n_, int64_t dk_, int64_t dv_, int64_t m_, bool mom_, bool slot_,
                   bool decay_) {
  C = C_, n = n_, dk = dk_, dv = dv_, m = m_;
  mom = mom_, slot = slot_, decay = decay_;
  lin.bind(buf, C, n, dk, m, mom);
  float* p = buf + LinChunk::floats(C, dk, m);
  V = p, p += C * dv;
  alpha = p, p += C * m;
  bslot = p, p += C * m;
  P = p, p += C * C;
  GH = p, p += C * C;
  Hc = p, p += C;
  hlast = p, p += C;
  scratch = p;
}

void tr_prep(TrChunk& c) {
  if (!c.slot) {  // scalar forget gate: the linear-memory chunk machinery as is
    lin_prep(c.lin, c.C, c.decay);
    return;
  }
  const int64_t n = c.n;
  sgemm(false, true, n, n, c.dk, 1.0f, c.lin.Q, c.dk, c.lin.K, c.dk, 0.0f, c.P, n);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = t + 1; i < n; ++i) c.P[t * n + i] = 0.0f;
  const float* gam = c.gamma();
  if (c.mom) {
    float* L = c.scratch;
    int* Z = reinterpret_cast<int*>(c.scratch + c.C);
    hd_log_prefix((int)n, c.eta(), 1, false, L, Z);
    for (int64_t t = 0; t < n; ++t) {
      c.Hc[t] = hd_segprod(L, Z, (int)t, -1);
      for (int64_t i = 0; i < n; ++i) c.GH[t * n + i] = hd_segprod(L, Z, (int)t, (int)i);
    }
    for (int64_t i = 0; i < n; ++i) c.hlast[i] = c.GH[(n - 1) * n + i] * gam[i];
  } else {
    for (int64_t i = 0; i < n; ++i) {
      c.Hc[i] = 0.0f;
      c.hlast[i] = i == n - 1 ? gam[i] : 0.0f;
    }
  }
}

size_t TrHead::floats(int64_t C, int64_t dk, int64_t dv, int64_t m, bool mom, int64_t ns) {
  const int64_t w = mom ? 2 : 1;
  return (size_t)(w * dk * m + w * m * dv + dk * m + m * dv + 8 * C * m + ns * C * C + ns * C * dv + C * dv);
}

void TrHead::bind(float* buf, int64_t C, int64_t dk, int64_t dv, int64_t m, bool mom, int64_t ns) {
  const int64_t w = mom ? 2 : 1;
  float* p = buf;
  KX = p, p += w * dk * m;
  VX = p, p += w * m * dv;
  AKt = p, p += dk * m;
  AV = p, p += m * dv;
  float** s[] = {&Z, &Z2, &U, &U2, &Y1, &As, &Bs, &Cml};
  for (float** x : s) *x = p, p += C * m;
  W2p = p, p += ns * C * C;
  Yp = p, p += ns * C * dv;
  Yo = p;
}

size_t tr_scratch_floats(int64_t C, int64_t dk, int64_t m, int64_t w) {
  (void)dk;
  (void)m;
  return (size_t)(6 * C * w + 4 * w + C * C);
}

void tr_p1(const TrChunk& c, TrHead& h, int64_t j0, int64_t w, bool anchored, bool save_anchor) {
  const int64_t n = c.n, m = c.m, dk = c.dk, dv = c.dv;
  if (save_anchor && !anchored) {
    for (int64_t e = 0; e < dk; ++e) std::copy(h.KX + e * m + j0, h.KX + e * m + j0 + w, h.AKt + e * m + j0);
    std::copy(h.VX + j0 * dv, h.VX + (j0 + w) * dv, h.AV + j0 * dv);
  }
  const float* AKt = anchored ? h.AKt : h.KX;
  const float* AV = anchored ? h.AV : h.VX;
  sgemm(false, false, n, w, dk, 1.0f, c.lin.K, dk, AKt + j0, m, 0.0f, h.Z + j0, m);
  sgemm(false, true, n, w, dv, 1.0f, c.V, dv, AV + j0 * dv, dv, 0.0f, h.Z2 + j0, m);
}

void tr_p2(const TrChunk& c, const TrellisParams& p, TrHead& h, int64_t t0, int64_t t1) {
  const int64_t m = c.m;
  for (int64_t t = t0; t < t1; ++t) {
    const float* a = c.alpha + t * m;
    if (p.write == TrellisWrite::ADDITIVE) {
      for (int64_t r = 0; r < m; ++r) h.U[t * m + r] = h.U2[t * m + r] = -a[r];
    } else {
      tr_phi_grad_row<float>(p.phi, (int)m, h.Z + t * m, a, p.eps, h.U + t * m);
      tr_phi_grad_row<float>(p.phi, (int)m, h.Z2 + t * m, a, p.eps, h.U2 + t * m);
    }
  }
}

namespace {

// Per-slot gate: advances the coefficient rows X[i, :] (i < t) of the slice to
// token t: X[i] = a_t X[i] + GH[t, i], X[t] = 1 (Cm_r[t, i] = gamma_i X[i, r]).
inline void slot_coeff_row(const TrChunk& c, int64_t t, const float* a, float* X, int64_t w) {
  for (int64_t i = 0; i < t; ++i) {
    float* x = X + i * w;
    const float gh = c.mom ? c.GH[t * c.n + i] : 0.0f;
    for (int64_t r = 0; r < w; ++r) {
      const float v = a[r] * x[r] + gh;
      x[r] = std::fabs(v) < 1e-30f ? 0.0f : v;  // no denormals in the sweeps
    }
  }
  std::fill(X + t * w, X + (t + 1) * w, 1.0f);
}

// M rows of a slice at the end of the chunk: M = A M + Bv S; S = Hc S (row
// pointer m, momentum s (or null), per-column coefficient vectors A and Bv).
inline void decay_rows(int64_t len, float* mrow, float* srow, const float* A, const float* Bv, float Hc) {
  if (srow) {
    for (int64_t r = 0; r < len; ++r) {
      mrow[r] = A[r] * mrow[r] + Bv[r] * srow[r];
      srow[r] *= Hc;
    }
  } else {
    for (int64_t r = 0; r < len; ++r) mrow[r] *= A[r];
  }
}

}  // namespace

void tr_p3(const TrChunk& c, TrHead& h, int64_t j0, int64_t w, float* scratch) {
  const int64_t n = c.n, m = c.m, dk = c.dk;
  if (!c.slot) {
    float* G = scratch;  // lin_apply wants the gradient factor contiguous [n, w]
    for (int64_t t = 0; t < n; ++t) std::copy(h.U + t * m + j0, h.U + t * m + j0 + w, G + t * w);
    lin_apply(c.lin, w, h.KX + j0, m, G, h.Y1 + j0, m);
    return;
  }
  float *QM = scratch, *QS = QM + n * w, *X = QS + n * w, *Ut = X + n * w, *Ar = Ut + n * w, *Br = Ar + w,
        *acc = Br + w;
  const float* gam = c.gamma();
  sgemm(false, false, n, w, dk, 1.0f, c.lin.Q, dk, h.KX + j0, m, 0.0f, QM, w);
  if (c.mom) sgemm(false, false, n, w, dk, 1.0f, c.lin.Q, dk, h.KX + dk * m + j0, m, 0.0f, QS, w);
  std::fill(X, X + n * w, 0.0f);
  std::fill(Ar, Ar + w, 1.0f);
  std::fill(Br, Br + w, 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    const float* a = c.bslot + t * m + j0;
    slot_coeff_row(c, t, a, X, w);
    for (int64_t r = 0; r < w; ++r) {
      Ar[r] *= a[r];
      if (std::fabs(Ar[r]) < 1e-30f) Ar[r] = 0.0f;
      Br[r] = c.mom ? a[r] * Br[r] + c.Hc[t] : 0.0f;
      acc[r] = Ar[r] * QM[t * w + r] + (c.mom ? Br[r] * QS[t * w + r] : 0.0f);
    }
    std::copy(Ar, Ar + w, h.As + t * m + j0);
    std::copy(Br, Br + w, h.Bs + t * m + j0);
    for (int64_t i = 0; i <= t; ++i) {
      const float coef = c.P[t * n + i] * gam[i];
      if (coef == 0.0f) continue;
      const float *x = X + i * w, *u = h.U + i * m + j0;
      for (int64_t r = 0; r < w; ++r) acc[r] -= coef * x[r] * u[r];
    }
    std::copy(acc, acc + w, h.Y1 + t * m + j0);
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < w; ++r) h.Cml[i * m + j0 + r] = gam[i] * X[i * w + r];
  // MK^T[:, slice] = A MK0^T + Bv SK0^T - K^T (Cml * U);  SK^T = Hc SK0^T - K^T (hlast * U)
  for (int64_t e = 0; e < dk; ++e)
    decay_rows(w, h.KX + e * m + j0, c.mom ? h.KX + (dk + e) * m + j0 : nullptr, Ar, Br, c.Hc[n - 1]);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < w; ++r) Ut[i * w + r] = -h.Cml[i * m + j0 + r] * h.U[i * m + j0 + r];
  sgemm(true, false, dk, w, n, 1.0f, c.lin.K, dk, Ut, w, 1.0f, h.KX + j0, m);
  if (c.mom) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < w; ++r) Ut[i * w + r] = -c.hlast[i] * h.U[i * m + j0 + r];
    sgemm(true, false, dk, w, n, 1.0f, c.lin.K, dk, Ut, w, 1.0f, h.KX + dk * m + j0, m);
  }
}

void tr_p4(const TrChunk& c, const TrellisParams& p, TrHead& h, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) tr_f_row<float>(p.f, (int)c.m, h.Y1 + t * c.m, p.scale, p.eps, h.Y1 + t * c.m);
}

void tr_p5(const TrChunk& c, TrHead& h, int64_t s, int64_t j0, int64_t w, float* scratch) {
  const int64_t n = c.n, m = c.m, dv = c.dv, C = c.C;
  const float* S = h.Y1;  // slot scores after P4
  float *W2 = h.W2p + s * C * C, *Yp = h.Yp + s * C * dv;
  float *Sa = scratch, *Sb = Sa + n * w, *Ut = Sb + n * w, *X = Ut + n * w;
  const float* gam = c.gamma();
  // end-of-chunk coefficients of the slice: An, Bvn per slot, Hcn, the last row of Cm and hlast
  float *An = X + n * w, *Bn = An + w;
  float Hcn;
  const float *cml_row = nullptr, *hl = nullptr;
  if (!c.slot) {
    const LinCoeffs lc = lin_coeffs(c.lin, C);
    sgemm(false, true, n, n, w, 1.0f, S + j0, m, h.U2 + j0, m, 0.0f, W2, n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < n; ++i) W2[t * n + i] = i <= t ? W2[t * n + i] * lc.Cm[t * n + i] : 0.0f;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < w; ++r) {
        Sa[t * w + r] = lc.A[t] * S[t * m + j0 + r];
        Sb[t * w + r] = lc.Bv[t] * S[t * m + j0 + r];
      }
    std::fill(An, An + w, c.lin.An());
    std::fill(Bn, Bn + w, c.lin.Bvn());
    Hcn = c.lin.Hcn();
    cml_row = lc.Cm + (n - 1) * n;
    hl = lc.hlast;
  } else {
    std::fill(X, X + n * w, 0.0f);
    for (int64_t t = 0; t < n; ++t) {
      slot_coeff_row(c, t, c.bslot + t * m + j0, X, w);
      const float* st = S + t * m + j0;
      for (int64_t i = 0; i <= t; ++i) {
        const float *x = X + i * w, *u = h.U2 + i * m + j0;
        float acc = 0.0f;
        for (int64_t r = 0; r < w; ++r) acc += st[r] * x[r] * u[r];
        W2[t * n + i] = gam[i] * acc;
      }
      for (int64_t i = t + 1; i < n; ++i) W2[t * n + i] = 0.0f;
      for (int64_t r = 0; r < w; ++r) {
        Sa[t * w + r] = h.As[t * m + j0 + r] * st[r];
        Sb[t * w + r] = h.Bs[t * m + j0 + r] * st[r];
      }
    }
    std::copy(h.As + (n - 1) * m + j0, h.As + (n - 1) * m + j0 + w, An);
    std::copy(h.Bs + (n - 1) * m + j0, h.Bs + (n - 1) * m + j0 + w, Bn);
    Hcn = c.Hc[n - 1];
    hl = c.hlast;
  }
  // Yp = (S * A) MV0[slice] + (S * Bv) SV0[slice], before the slice's rows move on
  sgemm(false, false, n, dv, w, 1.0f, Sa, w, h.VX + j0 * dv, dv, 0.0f, Yp, dv);
  if (c.mom) sgemm(false, false, n, dv, w, 1.0f, Sb, w, h.VX + (m + j0) * dv, dv, 1.0f, Yp, dv);
  // MV[slice] = An MV0 + Bvn SV0 - (Cm_last * U2)^T V;  SV[slice] = Hcn SV0 - (hlast * U2)^T V
  for (int64_t r = 0; r < w; ++r) {
    float* mv = h.VX + (j0 + r) * dv;
    if (c.mom) {
      float* sv = h.VX + (m + j0 + r) * dv;
      vaxpby(dv, Bn[r], sv, An[r], mv);
      vscale(dv, Hcn, sv);
    } else {
      vscale(dv, An[r], mv);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < w; ++r) {
      const float cm = c.slot ? h.Cml[i * m + j0 + r] : cml_row[i];
      Ut[i * w + r] = -cm * h.U2[i * m + j0 + r];
    }
  sgemm(true, false, w, dv, n, 1.0f, Ut, w, c.V, dv, 1.0f, h.VX + j0 * dv, dv);
  if (c.mom) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < w; ++r) Ut[i * w + r] = -hl[i] * h.U2[i * m + j0 + r];
    sgemm(true, false, w, dv, n, 1.0f, Ut, w, c.V, dv, 1.0f, h.VX + (m + j0) * dv, dv);
  }
}

void tr_p6(const TrChunk& c, TrHead& h, int64_t ns, int64_t j0, int64_t w) {
  const int64_t n = c.n, dv = c.dv, C = c.C;
  const float* W2 = h.W2p;
  thread_local std::vector<float> sum;
  if (ns > 1) {  // reduce the slices' partial W2 (each value slice does it; n x n x ns is small)
    sum.assign((size_t)(n * n), 0.0f);
    for (int64_t s = 0; s < ns; ++s) vaxpy(n * n, 1.0f, h.W2p + s * C * C, sum.data());
    W2 = sum.data();
  }
  for (int64_t t = 0; t < n; ++t) {
    float* y = h.Yo + t * dv + j0;
    std::copy(h.Yp + t * dv + j0, h.Yp + t * dv + j0 + w, y);
    for (int64_t s = 1; s < ns; ++s) vaxpy(w, 1.0f, h.Yp + s * C * dv + t * dv + j0, y);
  }
  sgemm(false, false, n, w, n, -1.0f, W2, n, c.V + j0, dv, 1.0f, h.Yo + j0, dv);
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
