// The dual-form chunk step of a linear memory with the l2 loss, stale anchor,
// momentum and decay (algorithms.md §2.2-2.3), reusable by Titans, TNT and
// Trellis. Column convention: memory M [dv, dk], read y = M q.
//
// Per chunk of n tokens with anchor M0 and incoming momentum S0:
//   G  = 2 (K M0^T - V)                                   [n, dv] (u_i = G_i k_i^T)
//   Y  = diag(A) Q M0^T + diag(Bv) Q S0^T - (Cm * Q K^T) G  [n, dv]
//   M' = A_n M0 + Bv_n S0 - G^T diag(Cm[n-1, :]) K
//   S' = Hc_n S0 - G^T diag(hlast) K
// Everything is separable over the rows of M (value channels), so a slice of
// value channels [j0, j0 + w) is advanced independently: lin_prep builds the
// state-independent part once per chunk (coefficients, Cm * QK^T, scaled
// Q and K), lin_step advances one slice with four GEMMs. The kernels keep the
// state transposed, X = [M^T ; S^T] (see lin_step), so every GEMM operand is
// row-major. No per-token d x d state is formed.
#pragma once
#include <cstddef>
#include <cstdint>

namespace engram {
struct TitansCoeffView;
namespace cpu {
namespace mem {

// The prepared chunk, carved out of one float buffer (LinChunk::floats).
struct LinChunk {
  int64_t n = 0, dk = 0, dv = 0;  // tokens in this chunk, key dim, value dim
  bool mom = true;                // momentum on: state rows are [M_j | S_j] (2 dk wide), else M_j
  float* Q = nullptr;             // [n, dk] f32 (filled by the caller before lin_prep)
  float* K = nullptr;             // [n, dk]
  float* V = nullptr;             // [n, dv]
  float* QAB = nullptr;           // [n, sw]: [A_t q_t | Bv_t q_t]
  float* KCHt = nullptr;          // [sw, n]: [-Cm[n-1, i] k_i | -hlast_i k_i]^T (state-update factor)
  float* Wcp = nullptr;           // [n, n]: Cm * (Q K^T), lower triangular
  float* khlast = nullptr;        // [dk]: -theta_{n-1} k_{n-1} (momentum off: the last momentum)
  float* scal = nullptr;          // [4]: A_n, Bv_n, Hc_n (end-of-chunk gate products)
  float* gates = nullptr;         // [3, C]: theta, alpha, eta of this chunk (filled by the caller)
  int64_t sw() const { return mom ? 2 * dk : dk; }
  float An() const { return scal[0]; }
  float Bvn() const { return scal[1]; }
  float Hcn() const { return scal[2]; }

  // Floats needed for chunk size C (scratch for the coefficients included).
  static size_t floats(int64_t C, int64_t dk, int64_t dv);
  // Carve `buf` (floats(C, dk, dv) floats) for a chunk of n <= C tokens.
  void bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_, bool mom_);
  float* theta() const { return gates; }
  float* alpha(int64_t C) const { return gates + C; }
  float* eta(int64_t C) const { return gates + 2 * C; }
};

// The coefficient matrices of a prepared chunk (valid after lin_prep; they
// live in the chunk's buffer): Cm [n, n] (row stride n), A, Bv, Hc, hlast [n].
struct LinCoeffs {
  const float *Cm, *A, *Bv, *Hc, *hlast;
};
LinCoeffs lin_coeffs(const LinChunk& c, int64_t C);

// hd_titans_coeffs (engram/memory_hd.h) with vectorised exponentials (the CPU
// path; test_memory_hd checks the two agree). alpha/eta null when off; La,
// Lh, tmp [n] floats and Za, Zh [n] ints of scratch.
void titans_coeffs_fast(int64_t n, const float* alpha, const float* eta, const float* theta, const TitansCoeffView& c,
                        float* La, int* Za, float* Lh, int* Zh, float* tmp);

// Builds the coefficient matrices and the state-independent products. Q, K,
// V and the gates must be filled; decay/mom say which gates are used.
void lin_prep(LinChunk& c, int64_t C, bool decay);

// The state is kept in row convention, X = [M^T ; S^T] ([sw, dv], row
// stride ldx; momentum off: M^T only), so every GEMM operand is row-major.
// Advances state columns (value channels) [j0, j0 + w) through the chunk:
//   X points at column j0; Y [n, w] (row stride ldy) gets y[:, j0:j0+w];
//   R [n, w] scratch (on return: G for these columns).
// With momentum off, Slast (optional, [dk, ldx] at column j0) receives S^T
// after the chunk's last token, -theta_{n-1} k_{n-1} G_{n-1}^T.
// Anc (optional, [dk, lda] at column j0, row convention like X): the anchor
// the gradients are taken at when it is not the current memory (the rest of
// a chunk a previous call started: G = 2 (K Anc - V), the memory and
// momentum still advance from X).
void lin_step(const LinChunk& c, int64_t j0, int64_t w, float* X, int64_t ldx, float* Y, int64_t ldy, float* R,
              float* Slast = nullptr, const float* Anc = nullptr, int64_t lda = 0);

// The second half of lin_step for any gradient factor G [n, w] (u_i = G_i k_i^T):
// Y = QAB X - Wcp G and X += KCH^T G (after the A/Bv/Hc scaling). Lets other
// losses reuse the chunk machinery.
void lin_apply(const LinChunk& c, int64_t w, float* X, int64_t ldx, const float* G, float* Y, int64_t ldy);

}  // namespace mem
}  // namespace cpu
}  // namespace engram
