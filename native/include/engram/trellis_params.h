// Parameters of the trellis op (Trellis compressed KV memory, a reconstruction
// of algorithms.md §5), parsed in native/core/ops/trellis.cpp and read by the
// CPU kernels (native/cpu/ops/trellis.cpp) and the CUDA kernel
// (cuda/ops/trellis.cu). Semantics and defaults: docs/trellis.md.
#pragma once
#include <cstdint>

namespace engram {

// Write non-linearity phi of the inner loss 1/2 ||phi(M w) - alpha||^2.
enum class TrellisPhi : uint8_t {
  IDENTITY = 0,   // phi(z) = z: each pass is a gated delta rule
  SILU_NORM = 1,  // SiLU(z) / sqrt(||SiLU(z)||^2 + eps)
  LAYER_NORM = 2, // (z - mean z) / sqrt(var z + eps), no affine
};

// Inter-pass map f: slot scores s = f(scale * MK q).
enum class TrellisF : uint8_t {
  SOFTMAX = 0,
  SILU_NORM = 1,        // SiLU(x) / sqrt(||SiLU(x)||^2 + eps)
  LAYER_NORM_SILU = 2,  // LayerNorm(SiLU(x)), no affine
  IDENTITY = 3,
};

// How a token is written into a memory.
enum class TrellisWrite : uint8_t {
  OGD = 0,       // u = J_phi(z)^T (phi(z) - alpha): one online gradient step on the loss
  ADDITIVE = 1,  // u = -alpha: M <- beta M + gamma alpha w^T (ABC / Gated Slot Attention)
};

struct TrellisParams {
  int64_t slots = 0;           // m; 0 => alpha's last dim (an explicit value must match it)
  int64_t chunk = 64;          // semantic: gradients of a chunk are taken at its anchor (chunk-start memory)
  bool recurrent = false;      // token loop (the same function as the chunk form)
  TrellisPhi phi = TrellisPhi::IDENTITY;
  TrellisF f = TrellisF::LAYER_NORM_SILU;
  TrellisWrite write = TrellisWrite::OGD;
  float scale = 1.0f;          // s = f(scale * MK q)
  float lr = 1.0f;             // gamma when no gamma input is given
  float eps = 1e-6f;           // of the normalisations in phi and f
  bool final_state = true;
};

// Input slots of the op (ops.h: "trellis", 4..14 inputs, 8 outputs).
namespace trellis_in {
enum : int { Q = 0, K, V, ALPHA, BETA, GAMMA, ETA, MK, MV, SK, SV, AK, AV, OFFSET, COUNT };
}
namespace trellis_out {
enum : int { O = 0, MK, MV, SK, SV, AK, AV, OFFSET, COUNT };
}

}  // namespace engram
