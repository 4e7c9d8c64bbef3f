// The gated delta rule chunk in WY/UT form (algorithms.md §10(c)), exact for
// every chunk size. fla row convention: state S [dk, dv], o_t = scale q_t^T S_t.
// Per chunk (G = cumsum g inside the chunk, Gamma[i, j] = exp(G_i - G_j)):
//   A    = tril(diag(beta) (Gamma * K K^T), -1);  T = (I + A)^{-1} diag(beta)
//   W    = T (exp(G) * K),  U = T V
//   Vnew = U - W S
//   O    = scale (exp(G) * Q) S + scale tril(Gamma * Q K^T) Vnew
//   S'   = exp(G_n) S + (exp(G_n - G) * K)^T Vnew
// Every column of S (value channel) evolves independently, so gdn_step
// advances a column slice; gdn_prep builds the state-independent factors
// once per chunk. Segment products are exp of differences of G (no ratios).
#pragma once
#include <cstddef>
#include <cstdint>

namespace engram {
namespace cpu {
namespace mem {

struct GdnChunk {
  int64_t n = 0, dk = 0, dv = 0, ldz = 0;  // ldz = dk + dv
  float* K = nullptr;     // [n, dk] f32 (filled by the caller); Q follows K: [K; Q] is [2n, dk]
  float* Q = nullptr;     // [n, dk] (filled)
  float* V = nullptr;     // [n, dv] with row stride ldz (filled; it sits in KgV)
  float* g = nullptr;     // [C] log decay (filled)
  float* beta = nullptr;  // [C] (filled)
  float* KgV = nullptr;   // [n, ldz]: [e^G K | V]
  float* P2 = nullptr;    // [2n, n]: A = tril(diag(beta)(Gamma * K K^T), -1) over Aqk = scale tril(Gamma * Q K^T)
  float* Z = nullptr;     // [2n, ldz]: [W | U] over [Qg | -]  (W = T e^G K, U = T V, Qg = scale e^G Q)
  float* Kd = nullptr;    // [dk, n]  (exp(G_n - G) K)^T
  float* scal = nullptr;  // [4]: exp(G_n)
  float* tmp = nullptr;   // scratch: G [C], T [C, C]

  static size_t floats(int64_t C, int64_t dk, int64_t dv);
  void bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_);
};

void gdn_prep(GdnChunk& c, int64_t C, float scale);
// Advances columns [j0, j0 + w) of S (row stride lds, pointer at S[0, j0]) and
// writes o[:, j0:j0+w] to Y [n, w] (row stride ldy). SC [2n, w] scratch.
// Three GEMMs: [W; Qg] S, Aqk Vnew, Kd^T Vnew (prep has two: [K; Q] K^T, T [e^G K | V]).
void gdn_step(const GdnChunk& c, int64_t j0, int64_t w, float* S, int64_t lds, float* Y, int64_t ldy, float* SC);

}  // namespace mem
}  // namespace cpu
}  // namespace engram
