// The stale-anchor chunk form of the trellis op (docs/trellis.md,
// algorithms.md §5(c)), split into phases so that one head can be spread over
// threads. Per chunk of n tokens with anchors AK, AV (the memories at the
// chunk start, or the carried anchors of a chunk that began in an earlier
// call) and chunk-start memories MK0, MV0 (+ momenta SK0, SV0):
//   P1 [slot slices]  Z = K AK^T, Z2 = V AV^T                         [n, m]
//   P2 [token rows]   U = J_phi(Z)^T (phi(Z) - alpha), U2 likewise      (additive: -alpha)
//   P3 [slot slices]  Y1 = pass-1 read MK_t q_t of every token; MK, SK <- end of chunk
//   P4 [token rows]   S = f(scale Y1)
//   P5 [slot slices]  partial sums over the slice of W2[t, i] = sum_r S[t,r] Cm_r[t,i] U2[i,r] and
//                     Yp = (S * A) MV0 + (S * Bv) SV0; then MV, SV <- end of chunk
//   P6 [value slices] o = sum Yp - (sum W2) V
// Cm_r[t, i] = gamma_i (GA_r @ GH)[t, i] are the Titans coefficient matrices of
// algorithms.md §2.2 with decay a = beta (of slot r) and momentum eta. With a
// scalar forget gate they do not depend on r: P3 is chunk_linear.h's
// lin_apply with the gradient factor G = U (Y1 = diag(A) Q MK0^T + ... -
// (Cm * Q K^T) U) and P5 is three GEMMs. With a per-slot gate P3 and P5 sweep
// the tokens once each, building row t of Cm_r from row t - 1 (no exps, no
// ratios) for every slot of the slice at once.
// State layout: KX = [MK^T ; SK^T] ([dk or 2 dk, m], as lin_apply wants it),
// VX = [MV ; SV] ([m or 2 m, dv]); anchors AKt = AK^T [dk, m], AV [m, dv].
#pragma once
#include <cstddef>
#include <cstdint>

#include "chunk_linear.h"
#include "engram/trellis_params.h"

namespace engram {
namespace cpu {
namespace mem {

// State-independent data of one chunk, carved out of one float buffer.
struct TrChunk {
  int64_t n = 0, C = 0, dk = 0, dv = 0, m = 0;
  bool mom = false, slot = false, decay = false;
  LinChunk lin;              // Q, K [n, dk], gates gamma (theta), 1 - beta (alpha), eta; scalar gate: lin_prep'd
  float* V = nullptr;        // [n, dv]
  float* alpha = nullptr;    // [n, m] slot code
  float* bslot = nullptr;    // [n, m] per-slot forget gate
  float* P = nullptr;        // [n, n] tril(Q K^T) (per-slot gate)
  float* GH = nullptr;       // [n, n] GH[t, i] = prod_{i<j<=t} eta_j (per-slot gate with momentum)
  float* Hc = nullptr;       // [n] prod_{j<=t} eta_j
  float* hlast = nullptr;    // [n] GH[n-1, i] gamma_i: carries u_i into the outgoing momentum
  float* scratch = nullptr;  // [4 C] log-prefix scratch

  static size_t floats(int64_t C, int64_t dk, int64_t dv, int64_t m);
  void bind(float* buf, int64_t C_, int64_t n_, int64_t dk_, int64_t dv_, int64_t m_, bool mom_, bool slot_,
            bool decay_);
  float* gamma() const { return lin.theta(); }
  float* one_minus_beta() const { return lin.alpha(C); }
  float* eta() const { return lin.eta(C); }
};

// Builds the coefficients and products of a chunk whose Q, K, V, alpha and
// gates are loaded (gamma, eta, and 1 - beta or bslot).
void tr_prep(TrChunk& c);

// Per-head state (persistent across chunks) and per-chunk scratch.
struct TrHead {
  float* KX = nullptr;   // [dk or 2 dk, m]
  float* VX = nullptr;   // [m or 2 m, dv]
  float* AKt = nullptr;  // [dk, m]
  float* AV = nullptr;   // [m, dv]
  // scratch of the chunk in flight: [C, m] each
  float *Z = nullptr, *Z2 = nullptr, *U = nullptr, *U2 = nullptr, *Y1 = nullptr, *As = nullptr, *Bs = nullptr,
        *Cml = nullptr;
  float* W2p = nullptr;  // [ns, C, C] partial W2 per slot slice
  float* Yp = nullptr;   // [ns, C, dv] partial (S * A) MV0 + (S * Bv) SV0 per slot slice
  float* Yo = nullptr;   // [C, dv] the chunk's outputs

  static size_t floats(int64_t C, int64_t dk, int64_t dv, int64_t m, bool mom, int64_t ns);
  void bind(float* buf, int64_t C, int64_t dk, int64_t dv, int64_t m, bool mom, int64_t ns);
};

// The phases (see the header comment). [j0, j0 + w) is a slot range (P1, P3,
// P5: slice index s of ns), a token range (P2, P4) or a value-channel range (P6).
// anchored: the chunk uses the carried anchors AKt/AV instead of the current
// memories; save_anchor: copy the chunk-start memories into AKt/AV (the last
// chunk, so that its anchor can be returned).
void tr_p1(const TrChunk& c, TrHead& h, int64_t j0, int64_t w, bool anchored, bool save_anchor);
void tr_p2(const TrChunk& c, const TrellisParams& p, TrHead& h, int64_t t0, int64_t t1);
void tr_p3(const TrChunk& c, TrHead& h, int64_t j0, int64_t w, float* scratch);
void tr_p4(const TrChunk& c, const TrellisParams& p, TrHead& h, int64_t t0, int64_t t1);
void tr_p5(const TrChunk& c, TrHead& h, int64_t s, int64_t j0, int64_t w, float* scratch);
void tr_p6(const TrChunk& c, TrHead& h, int64_t ns, int64_t j0, int64_t w);
// Floats of scratch tr_p3 / tr_p5 need for a slice of w slots.
size_t tr_scratch_floats(int64_t C, int64_t dk, int64_t m, int64_t w);

}  // namespace mem
}  // namespace cpu
}  // namespace engram
