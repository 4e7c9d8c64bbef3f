// The TTT mini-batch dual form (algorithms.md §9(c), official code with the
// loss factor 2 and a per-token inner lr), row convention z = x W + b.
// Inner model f(x) = [x +] [LN](f_res(x)) trained on ||f(k) - v||^2; in a
// mini-batch of n tokens every gradient is taken at the anchor (W0, b0) and
// W_t = W0 - c_t sum_{i<=t} eta_i grad_i (Cm[t, i] = c_t eta_i).
//   TTT-Linear: Z = K W0 + b0, G = dloss/dZ (fused LN + l2 backward)
//     Zb = Q W0 + b0 - (Cm * (Q K^T + 1)) G ; o = [Q +] [LN](Zb)
//     W' = W0 - K^T diag(Cm[n-1]) G ;  b' = b0 - Cm[n-1] G
//   TTT-MLP: Z1 = K W1 + b1, X2 = act(Z1), Z2 = X2 W2 + b2, G2 = dloss/dZ2,
//     G1 = (G2 W2^T) * act'(Z1);  Zb1 = Q W1 + b1 - (Cm * (Q K^T + 1)) G1,
//     Xb2 = act(Zb1), Zb2 = Xb2 W2 + b2 - (Cm * (Xb2 X2^T + 1)) G2, o = [Q +] [LN](Zb2)
//     W1' = W1 - K^T diag(Cm[n-1]) G1, W2' = W2 - X2^T diag(Cm[n-1]) G2 (b likewise)
// (the "+ 1" terms only with biases). LayerNorm couples the channels of a
// row, so a step advances the whole state of one (b, h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engram/memory_params.h"

namespace engram {
namespace cpu {
namespace mem {

struct TttChunk {
  int64_t n = 0, dk = 0, dv = 0;
  float* Q = nullptr;    // [n, dk] (filled by the caller)
  float* K = nullptr;    // [n, dk]
  float* V = nullptr;    // [n, dv]
  float* eta = nullptr;  // [C]    (filled)
  float* Tg = nullptr;   // [n, dv] target: V - K with the residual, else V
  float* Cm = nullptr;   // [n, n]
  float* Wcp = nullptr;  // [n, n] Cm * (Q K^T [+ 1])
  float* KC = nullptr;   // [n, dk] -Cm[n-1, i] k_i
  static size_t floats(int64_t C, int64_t dk, int64_t dv);
  void bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_);
  const float* cl() const { return Cm + (n - 1) * n; }
};

void ttt_prep(TttChunk& c, const TttParams& p);

// LayerNorm parameters of the head (null: gamma = 1, beta = 0).
struct TttLn {
  const float* gamma;
  const float* beta;
};

struct TttScratch {
  std::vector<float> Z, G, Zb, X2, Sp, G1, Xb, P2, XC;
};

// TTT-Linear: W [dk, dv], b [dv] (null without bias) updated in place; Y [n, dv].
void ttt_linear_step(const TttChunk& c, const TttParams& p, TttLn ln, float* W, float* b, float* Y, TttScratch& s);
// TTT-MLP: W1 [dk, dh], b1 [dh], W2 [dh, dv], b2 [dv] updated in place; Y [n, dv].
void ttt_mlp_step(const TttChunk& c, const TttParams& p, TttLn ln, int64_t dh, float* W1, float* b1, float* W2,
                  float* b2, float* Y, TttScratch& s);

}  // namespace mem
}  // namespace cpu
}  // namespace engram
