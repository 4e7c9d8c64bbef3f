// Per-row maths of the trellis op (docs/trellis.md), shared by the readable
// reference (double), the CPU kernels (float), the CUDA kernel and
// test/native/test_trellis_hd.cpp. A row is one token's m slot values.
//   phi-gradient: u = J_phi(z)^T (phi(z) - alpha), the gradient with respect to
//     z = M w of the inner loss 1/2 ||phi(z) - alpha||^2 (algorithms.md §5(d)).
//   f: slot scores s = f(scale * r) of the pass-1 read r = MK q.
// Normalisations use ||x||_eps = sqrt(||x||^2 + eps) and var + eps.
#pragma once
#include <cmath>

#include "dtype.h"
#include "trellis_params.h"

namespace engram {

ENGRAM_HD float tr_exp(float x) { return expf(x); }
ENGRAM_HD double tr_exp(double x) { return exp(x); }
ENGRAM_HD float tr_sqrt(float x) { return sqrtf(x); }
ENGRAM_HD double tr_sqrt(double x) { return sqrt(x); }

template <class T>
ENGRAM_HD T tr_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + tr_exp(-x));
  const T z = tr_exp(x);
  return z / (T(1) + z);
}
template <class T>
ENGRAM_HD T tr_silu(T x) { return x * tr_sigmoid(x); }
template <class T>
ENGRAM_HD T tr_silu_grad(T x) {
  const T s = tr_sigmoid(x);
  return s * (T(1) + x * (T(1) - s));
}

// u = J_phi(z)^T (phi(z) - alpha) for a row of m values (u must not alias z).
template <class T>
ENGRAM_HD void tr_phi_grad_row(TrellisPhi kind, int m, const T* z, const T* alpha, T eps, T* u) {
  switch (kind) {
    case TrellisPhi::IDENTITY:
      for (int r = 0; r < m; ++r) u[r] = z[r] - alpha[r];
      return;
    case TrellisPhi::SILU_NORM: {
      // phi = s / n, s = SiLU(z), n = sqrt(|s|^2 + eps); g = phi - alpha;
      // J^T g = SiLU'(z) * (g - phi (phi . g)) / n  (exact for this n)
      T ss = 0;
      for (int r = 0; r < m; ++r) {
        const T s = tr_silu(z[r]);
        u[r] = s;
        ss += s * s;
      }
      const T n = tr_sqrt(ss + eps), inv = T(1) / n;
      T pg = 0;
      for (int r = 0; r < m; ++r) {
        const T p = u[r] * inv;
        pg += p * (p - alpha[r]);
      }
      for (int r = 0; r < m; ++r) {
        const T p = u[r] * inv;
        u[r] = tr_silu_grad(z[r]) * ((p - alpha[r]) - p * pg) * inv;
      }
      return;
    }
    case TrellisPhi::LAYER_NORM: {
      // xh = (z - mu) rstd; g = xh - alpha; J^T g = rstd (g - mean g - xh mean(g xh))
      T mu = 0;
      for (int r = 0; r < m; ++r) mu += z[r];
      mu /= T(m);
      T var = 0;
      for (int r = 0; r < m; ++r) var += (z[r] - mu) * (z[r] - mu);
      var /= T(m);
      const T rstd = T(1) / tr_sqrt(var + eps);
      T mg = 0, mgx = 0;
      for (int r = 0; r < m; ++r) {
        const T xh = (z[r] - mu) * rstd, g = xh - alpha[r];
        mg += g;
        mgx += g * xh;
      }
      mg /= T(m);
      mgx /= T(m);
      for (int r = 0; r < m; ++r) {
        const T xh = (z[r] - mu) * rstd;
        u[r] = rstd * ((xh - alpha[r]) - mg - xh * mgx);
      }
      return;
    }
  }
}

// s = f(scale * x) for a row of m values (s may alias x).
template <class T>
ENGRAM_HD void tr_f_row(TrellisF kind, int m, const T* x, T scale, T eps, T* s) {
  switch (kind) {
    case TrellisF::IDENTITY:
      for (int r = 0; r < m; ++r) s[r] = scale * x[r];
      return;
    case TrellisF::SOFTMAX: {
      T mx = scale * x[0];
      for (int r = 1; r < m; ++r) mx = scale * x[r] > mx ? scale * x[r] : mx;
      T sum = 0;
      for (int r = 0; r < m; ++r) {
        const T e = tr_exp(scale * x[r] - mx);
        s[r] = e;
        sum += e;
      }
      const T inv = T(1) / sum;
      for (int r = 0; r < m; ++r) s[r] *= inv;
      return;
    }
    case TrellisF::SILU_NORM: {
      T ss = 0;
      for (int r = 0; r < m; ++r) {
        const T a = tr_silu(scale * x[r]);
        s[r] = a;
        ss += a * a;
      }
      const T inv = T(1) / tr_sqrt(ss + eps);
      for (int r = 0; r < m; ++r) s[r] *= inv;
      return;
    }
    case TrellisF::LAYER_NORM_SILU: {
      T mu = 0;
      for (int r = 0; r < m; ++r) {
        const T a = tr_silu(scale * x[r]);
        s[r] = a;
        mu += a;
      }
      mu /= T(m);
      T var = 0;
      for (int r = 0; r < m; ++r) var += (s[r] - mu) * (s[r] - mu);
      var /= T(m);
      const T rstd = T(1) / tr_sqrt(var + eps);
      for (int r = 0; r < m; ++r) s[r] = (s[r] - mu) * rstd;
      return;
    }
  }
}

}  // namespace engram
