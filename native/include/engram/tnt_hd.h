// Per-segment maths of the TNT kernels shared by the CPU (native/cpu/memory/
// tnt_mods.cpp) and CUDA (cuda/ops/tnt.cu) paths; __host__ __device__.
#pragma once
#include <cmath>

#include "dtype.h"

namespace engram {

// End-of-segment coefficients of the Titans recurrence
//   S_t = e_t S_{t-1} - th_t u_t,   M_t = a_t M_{t-1} + S_t   (a = 1 - alpha)
// over n tokens with every u_i taken at one anchor (a global chunk, or the
// part of it inside a call):
//   M_n = A M_0 + Bv S_0 - sum_i cl_i u_i,    S_n = Hc S_0 - sum_i hl_i u_i
//   cl_i = th_i sum_{s >= i} GA[n-1, s] GH[s, i],   hl_i = th_i GH[n-1, i]
// by the backward recursions ga_i = a_{i+1} ga_{i+1}, w_i = ga_i + e_{i+1} w_{i+1},
// gh_i = e_{i+1} gh_{i+1} (products of gates in [0, 1], no ratios; double
// accumulation). al / et null: decay / momentum off (then hl = 0, Bv = Hc = 0).
// Values below 1e-30 are flushed to 0 (no denormals downstream).
ENGRAM_HD float hd_tnt_flush(double x) { return (float)(fabs(x) < 1e-30 ? 0.0 : x); }
ENGRAM_HD void hd_tnt_seg_coeffs(int n, const float* th, const float* al, const float* et, float* cl, float* hl,
                                        float* A, float* Bv, float* Hc) {
  double ga = 1.0, w = 1.0, gh = 1.0;
  for (int i = n - 1; i >= 0; --i) {
    if (i < n - 1) {
      const double an = al ? 1.0 - (double)al[i + 1] : 1.0, en = et ? (double)et[i + 1] : 0.0;
      ga *= an;
      w = ga + en * w;
      gh *= en;
    }
    cl[i] = hd_tnt_flush((double)th[i] * (et ? w : ga));
    hl[i] = et ? hd_tnt_flush((double)th[i] * gh) : 0.0f;
  }
  *A = hd_tnt_flush((al ? 1.0 - (double)al[0] : 1.0) * ga);
  double hc = 1.0, bv = 0.0;
  for (int t = 0; t < n; ++t) {
    const double at = al ? 1.0 - (double)al[t] : 1.0;
    hc *= et ? (double)et[t] : 0.0;
    bv = at * bv + hc;
  }
  *Bv = et ? hd_tnt_flush(bv) : 0.0f;
  *Hc = et ? hd_tnt_flush(hc) : 0.0f;
}

// The Q-K projection weight of a key: 1 / |k|^2 (0 for a zero key, which adds nothing).
ENGRAM_HD float hd_tnt_key_weight(float kk) { return kk > 0.0f ? 1.0f / kk : 0.0f; }

}  // namespace engram
