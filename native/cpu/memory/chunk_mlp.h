// The dual-form chunk step of the residual 2-layer MLP memory
// M(x) = x + W1 act(W2 x) with the l2 loss, stale anchor, momentum and decay
// (algorithms.md §2.1, §2.3), reusable by Titans, TNT and the MLP variants of
// later memories. W1 [d, dh], W2 [dh, d]; the state-independent part of a
// chunk is a LinChunk (chunk_linear.h, dk = dv = d: coefficients, Cm * QK^T,
// [A q | Bv q], [-Cm[n-1] k | -hlast k]^T).
//
// Per chunk (anchor W1, W2, momenta S1, S2; rows are tokens):
//   Z = K W2^T, Hh = act(Z), E2 = 2 (K + Hh W1^T - V), D = (E2 W1) * act'(Z)
//   Zb = diag(A) Q W2^T + diag(Bv) Q S2^T - (Cm * Q K^T) D,  Hb = act(Zb)
//   Y  = Q + diag(A) Hb W1^T + diag(Bv) Hb S1^T - (Cm * Hb Hh^T) E2
//   W1' = A_n W1 + Bv_n S1 - E2^T diag(Cm[n-1]) Hh,  S1' = Hc_n S1 - E2^T diag(hlast) Hh
//   W2' = A_n W2 + Bv_n S2 - D^T diag(Cm[n-1]) K,    S2' = Hc_n S2 - D^T diag(hlast) K
// Everything but two reductions (Hh W1^T inside E2, and the sums over hidden
// units in Y) is separable over hidden units, so a step runs in three
// phases over `ns` hidden-unit slices (tasks of the thread pool when ns > 1;
// GEMMs single-threaded inside them) with the two reductions in between.
#pragma once
#include <cstdint>
#include <vector>

#include "chunk_linear.h"
#include "engram/memory_params.h"

namespace engram {
namespace cpu {
namespace mem {

// State of one (b, h): X1 [d, sw1] rows [W1_i | S1_i], X2 [dh, sw2] rows
// [W2_j | S2_j] (momentum off: only the W part, sw1 = dh, sw2 = d).
struct MlpState {
  float* X1;
  float* X2;
  // Optional anchors the gradients are taken at when they are not the current
  // W1/W2 (the rest of a chunk a previous call started): A1 [d, lda1] (W1),
  // A2 [dh, lda2] (W2), row-major like the W parts of X1/X2.
  const float* A1 = nullptr;
  const float* A2 = nullptr;
  int64_t lda1 = 0, lda2 = 0;
};

struct MlpScratch {
  std::vector<float> Z, Sp, E2, D, Hb, HAB, P2, Ep;
};

// Advances the state through the prepared chunk c (C = the chunk size it was
// bound with) and writes the outputs Y [n, d], over ns hidden-unit slices.
// With momentum off and S1l/S2l given, they receive the momentum after the
// chunk's last token.
void mlp_step(const LinChunk& c, int64_t C, int64_t dh, MemAct act, MlpState st, float* Y, MlpScratch& s,
              float* S1l = nullptr, float* S2l = nullptr, int64_t ns = 1);

}  // namespace mem
}  // namespace cpu
}  // namespace engram
