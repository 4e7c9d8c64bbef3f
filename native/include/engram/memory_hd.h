// Per-tile maths of the test-time memory kernels, shared by the CPU kernels
// (native/cpu/memory/), the CUDA kernels (cuda/ops/*.cu) and the CPU test
// test/native/test_memory_hd.cpp. Everything here works on small contiguous
// f32 arrays of one chunk (local time t = 0..n-1) and is __host__ __device__.
//
// Gate products (algorithms.md §1 Numerics, §2.2): a segment product
// prod_{j=s+1..t} x_j is exp(L[t] - L[s]) over the log prefix L of the non-zero
// gates, and exactly 0 when a zero gate lies in (s, t] (Z = index of the last
// zero). Ratios of cumulative products are never formed.
#pragma once
#include <cmath>

#include "dtype.h"
#include "hd_math.h"
#include "memory_params.h"

namespace engram {

// ---- activations of the MLP memories ---------------------------------------
ENGRAM_HD float hd_mem_act(MemAct k, float x) {
  switch (k) {
    case MemAct::GELU: return hd_gelu_erf(x);
    case MemAct::GELU_TANH: return hd_gelu_tanh(x);
    case MemAct::SILU: return hd_silu(x);
    case MemAct::RELU: return x > 0.0f ? x : 0.0f;
    case MemAct::TANH: return tanhf(x);
  }
  return x;
}
ENGRAM_HD float hd_mem_act_grad(MemAct k, float x) {
  switch (k) {
    case MemAct::GELU: return hd_gelu_erf_grad(x);
    case MemAct::GELU_TANH: return hd_gelu_tanh_grad(x);
    case MemAct::SILU: return hd_silu_grad(x);
    case MemAct::RELU: return x > 0.0f ? 1.0f : 0.0f;
    case MemAct::TANH: {
      float t = tanhf(x);
      return 1.0f - t * t;
    }
  }
  return 1.0f;
}

// ---- gate products in log space ---------------------------------------------
// For gates x_0..x_{n-1} in [0, 1] (x = 1 - g when one_minus, else g; read at
// g[t * stride]): L[t] = sum of log x_j over the non-zero x_j, j <= t, and
// Z[t] = the last j <= t with x_j == 0 (-1 if none). Sequential in t.
ENGRAM_HD void hd_log_prefix(int n, const float* g, int stride, bool one_minus, float* L, int* Z) {
  float acc = 0.0f;
  int z = -1;
  for (int t = 0; t < n; ++t) {
    float x = one_minus ? 1.0f - g[t * stride] : g[t * stride];
    if (x > 0.0f) acc += logf(x);
    else z = t;
    L[t] = acc;
    Z[t] = z;
  }
}
// prod_{j=s+1..t} x_j: 1 for s == t, 0 for s > t; s = -1 is the whole prefix.
ENGRAM_HD float hd_segprod(const float* L, const int* Z, int t, int s) {
  if (s >= t) return s == t ? 1.0f : 0.0f;
  if (Z[t] > s) return 0.0f;
  return expf(L[t] - (s >= 0 ? L[s] : 0.0f));
}

// ---- Titans coefficient matrices (algorithms.md §2.2) ----------------------
// Inside a chunk with anchor M0 and incoming momentum S0 (a_t = 1 - alpha_t):
//   M_t = A_t M0 + Bv_t S0 - sum_{i<=t} Cm[t,i] u_i,   S_t = Hc_t S0 - sum_i GH[t,i] theta_i u_i
//   GA[t,s] = prod_{s<j<=t} a_j,  GH[s,i] = prod_{i<j<=s} eta_j,  A_t = prod_{j<=t} a_j,  Hc_t = prod_{j<=t} eta_j
//   Cm = (GA @ GH) * theta[None, :],  Bv = GA @ Hc
// Cm and Bv are built in O(n^2) with the exact recurrences
//   X[t,:] = a_t X[t-1,:] + GH[t,:]  (X = GA @ GH),   Bv_t = a_t Bv_{t-1} + Hc_t,
// forward running products of gates (no ratios); without momentum GH = I and
// Cm[t,i] = theta_i GA[t,i] straight from the log prefix.
struct TitansCoeffView {
  int n;           // tokens in this chunk (<= the chunk size)
  float* Cm;       // [n, ldc] lower triangular incl. diagonal; zeros above
  int ldc;
  float* A;        // [n]
  float* Bv;       // [n]  (0 without momentum)
  float* Hc;       // [n]  (0 without momentum)
  float* hlast;    // [n]  GH[n-1, i] * theta_i: carries u_i into the outgoing momentum
};

// Scratch: La, Lh [n] floats, Za, Zh [n] ints. alpha/eta may be null (decay /
// momentum off); theta is required. Gates read at x[t * stride].
ENGRAM_HD void hd_titans_coeffs(int n, const float* alpha, const float* eta, const float* theta, int stride,
                                TitansCoeffView c, float* La, int* Za, float* Lh, int* Zh) {
  const bool decay = alpha != nullptr, mom = eta != nullptr;
  if (decay) hd_log_prefix(n, alpha, stride, true, La, Za);
  if (mom) hd_log_prefix(n, eta, stride, false, Lh, Zh);
  for (int t = 0; t < n; ++t) {
    c.A[t] = decay ? hd_segprod(La, Za, t, -1) : 1.0f;
    c.Hc[t] = mom ? hd_segprod(Lh, Zh, t, -1) : 0.0f;
  }
  for (int t = 0; t < n; ++t) {
    float* row = c.Cm + t * c.ldc;
    if (!mom) {
      for (int i = 0; i <= t; ++i) row[i] = (decay ? hd_segprod(La, Za, t, i) : 1.0f) * theta[i * stride];
    } else {
      const float at = decay ? 1.0f - alpha[t * stride] : 1.0f;
      const float* prev = c.Cm + (t - 1) * c.ldc;  // holds X[t-1, :] until scaled below
      for (int i = 0; i < t; ++i) row[i] = at * prev[i] + hd_segprod(Lh, Zh, t, i);
      row[t] = 1.0f;
      c.Bv[t] = (t ? at * c.Bv[t - 1] : 0.0f) + c.Hc[t];
    }
    for (int i = t + 1; i < c.ldc; ++i) row[i] = 0.0f;
  }
  if (mom) {
    // X -> Cm = X * theta[None, :] (after the recurrence has consumed X).
    for (int t = 0; t < n; ++t)
      for (int i = 0; i <= t; ++i) c.Cm[t * c.ldc + i] *= theta[i * stride];
  } else {
    for (int t = 0; t < n; ++t) c.Bv[t] = 0.0f;
  }
  for (int i = 0; i < n; ++i)
    c.hlast[i] = (mom ? hd_segprod(Lh, Zh, n - 1, i) : (i == n - 1 ? 1.0f : 0.0f)) * theta[i * stride];
}

// Element forms of the above for kernels that spread a chunk over threads
// (the CUDA kernels; test_memory_hd rebuilds hd_titans_coeffs from them).
// With momentum, row t of X = GA @ GH from row t-1: X[t, i] = a_t X[t-1, i] + GH[t, i].
ENGRAM_HD float hd_titans_x(int t, int i, float at, const float* prev_row, const float* Lh, const int* Zh) {
  if (i > t) return 0.0f;
  if (i == t) return 1.0f;
  return at * prev_row[i] + hd_segprod(Lh, Zh, t, i);
}
// Without momentum: Cm[t, i] = theta_i GA[t, i] (La/Za null when decay is off).
ENGRAM_HD float hd_titans_cm_nomom(int t, int i, const float* La, const int* Za, const float* theta, int stride) {
  if (i > t) return 0.0f;
  return (La ? hd_segprod(La, Za, t, i) : 1.0f) * theta[i * stride];
}

// ---- TTT inner learning-rate matrix (algorithms.md §9(c)) ------------------
// Cm[t,i] = c_t eta_i for i <= t, c_t = 1/(t+1) with token_idx, else 1.
ENGRAM_HD void hd_ttt_coeffs(int n, const float* eta, int stride, bool token_idx, float* Cm, int ldc) {
  for (int t = 0; t < n; ++t) {
    const float ct = token_idx ? 1.0f / (float)(t + 1) : 1.0f;
    for (int i = 0; i < ldc; ++i) Cm[t * ldc + i] = i <= t ? ct * eta[i * stride] : 0.0f;
  }
}

// ---- Gated DeltaNet UT transform (algorithms.md §10(c)) ---------------------
// Row i of X = (I + A)^{-1} for strictly lower A, given rows < i of X:
//   X[i, j] = -sum_{j<=k<i} A[i, k] X[k, j] (j < i),  X[i, i] = 1,  X[i, j > i] = 0.
ENGRAM_HD void hd_ut_row(int i, int n, const float* A, int lda, float* X, int ldx) {
  float* xi = X + i * ldx;
  for (int j = 0; j < n; ++j) xi[j] = 0.0f;
  for (int k = 0; k < i; ++k) {
    const float a = -A[i * lda + k];
    if (a == 0.0f) continue;
    const float* xk = X + k * ldx;
    for (int j = 0; j <= k; ++j) xi[j] += a * xk[j];
  }
  xi[i] = 1.0f;
}

// One element of the same: X[i, j] for j < i, given rows < i (threads over j).
ENGRAM_HD float hd_ut_elem(int i, int j, const float* A, int lda, const float* X, int ldx) {
  if (j > i) return 0.0f;
  if (j == i) return 1.0f;
  float s = 0.0f;
  for (int k = j; k < i; ++k) s -= A[i * lda + k] * X[k * ldx + j];
  return s;
}

// ---- LayerNorm rows (TTT inner model) --------------------------------------
ENGRAM_HD void hd_ln_stats(const float* z, int D, float eps, float* mu, float* rstd) {
  float m = 0.0f;
  for (int j = 0; j < D; ++j) m += z[j];
  m /= (float)D;
  float v = 0.0f;
  for (int j = 0; j < D; ++j) v += (z[j] - m) * (z[j] - m);
  v /= (float)D;
  *mu = m;
  *rstd = 1.0f / sqrtf(v + eps);
}
// y = gamma * (z - mu) * rstd + beta (gamma/beta may be null: 1 and 0). y may alias z.
ENGRAM_HD void hd_ln_fwd_row(const float* z, int D, const float* gamma, const float* beta, float eps, float* y) {
  float mu, rs;
  hd_ln_stats(z, D, eps, &mu, &rs);
  for (int j = 0; j < D; ++j) {
    float xh = (z[j] - mu) * rs;
    y[j] = (gamma ? gamma[j] : 1.0f) * xh + (beta ? beta[j] : 0.0f);
  }
}
// Gradient w.r.t. z of || LN(z) - tgt ||^2 (with the factor 2; algorithms.md
// §2.1, the official code's ln_fused_l2_bwd times 2). grad may alias z.
ENGRAM_HD void hd_ln_l2_grad_row(const float* z, const float* tgt, int D, const float* gamma, const float* beta,
                                 float eps, float* grad) {
  float mu, rs;
  hd_ln_stats(z, D, eps, &mu, &rs);
  float sg = 0.0f, sgx = 0.0f;
  for (int j = 0; j < D; ++j) {
    float xh = (z[j] - mu) * rs;
    float gm = gamma ? gamma[j] : 1.0f;
    float g = 2.0f * (gm * xh + (beta ? beta[j] : 0.0f) - tgt[j]) * gm;
    sg += g;
    sgx += g * xh;
  }
  const float invD = 1.0f / (float)D;
  for (int j = 0; j < D; ++j) {
    float xh = (z[j] - mu) * rs;
    float gm = gamma ? gamma[j] : 1.0f;
    float g = 2.0f * (gm * xh + (beta ? beta[j] : 0.0f) - tgt[j]) * gm;
    grad[j] = (g - (sg + xh * sgx) * invD) * rs;
  }
}

}  // namespace engram
