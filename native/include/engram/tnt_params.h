// Parameters, input slots and the packed state layout of the `tnt` op (TNT
// hierarchical memory, algorithms.md §4), shared by the core (parse/infer in
// native/core/ops/tnt.cpp), the CPU kernels (native/cpu/ops/tnt*.cpp) and the
// CUDA kernels (cuda/ops/tnt.cu). Host-only.
//
// Modules: an optional global memory (module 0 when present) and N <= 8 local
// memories, each a Titans-style memory (linear M [Dv, Dk], or the residual MLP
// x + W1 act(W2 x)) trained by GD on ||M(k) - v||^2 (factor 2) with its own
// learning-rate gate and optional forget gate / momentum.
//
// Inputs: 0 q, 1 k, 2 v [B, T, H, D], 3 the packed carried state (or absent),
// then 5 slots per module slot s (s = 0 the global, s = 1 + i local i):
//   4 + 5 s + {0 lr [B, T, H] (>= 0), 1 alpha (forget, [0, 1]), 2 eta
//   (momentum decay, [0, 1]), 3 init (linear M / MLP W1), 4 init W2}.
// The init of the global is its starting memory (used when no carried state);
// the init of a local is W_init, the state it resets to at every shard start.
// Outputs: o [B, T, H, Dv] (dtype of q), the packed final state (f32, 1-D).
//
// Packed state (1-D f32): an 8-float header, then per module its parts, each
// a contiguous [B, H, ...] block:
//   memory      M [Dv, Dk]  |  W1 [D, Dh], W2 [Dh, D]
//   anchor      the same shapes: the memory at the start of the current chunk
//               (the gradients of a chunk are taken there; the global reads it)
//   momentum    the same shapes (only when the module has momentum)
//   pi          [Dk, Dk] (locals, only when the Q-K projection is on)
// Header: [0] 1 = valid (0 = fresh: every module starts from its init and the
// position is 0, so an all-zero state is a fresh one), [1] position mod 2^20,
// [2] position / 2^20, [3] number of modules, [4] total floats mod 2^20,
// [5..7] 0.
#pragma once
#include <cstdint>
#include <vector>

#include "memory_params.h"

namespace engram {

enum class TntProj : uint8_t {
  NONE = 0,      // no Q-K projection: locals read f(W_t, q_t)
  SHARD = 1,     // Pi_t = sum over the shard up to t (App. C; the default)
  CHUNK = 2,     // sum from the local chunk start (Eq. 7 as printed)
  SEQUENCE = 3,  // sum from the sequence start, never reset (§4.1.2)
};

struct TntModule {
  bool global = false;
  int64_t chunk = 64;        // tokens per chunk (semantic: gradients at the chunk-start state)
  int64_t shard = 0;         // locals: reset period (a multiple of chunk); global: 0
  int64_t hidden = 0;        // 0: linear memory; > 0: residual MLP with this hidden width
  MemAct act = MemAct::GELU; // MLP activation
  bool momentum = false;     // S_t = eta_t S_{t-1} - lr_t grad (off: eta == 0, no eta input)
  bool decay = false;        // M_t = (1 - alpha_t) M_{t-1} + S_t (off: alpha == 0, no alpha input)
  bool mlp() const { return hidden > 0; }
};

struct TntParams {
  std::vector<TntModule> mods;  // the global first (when present), then the locals in order
  bool has_global = false;
  TntProj proj = TntProj::SHARD;
  bool final_state = true;
  int64_t devices = 0;          // > 0: run as that many simulated context-parallel devices (CPU)
  int nlocal() const { return (int)mods.size() - (has_global ? 1 : 0); }
  // Input slot of module m (0 = global slot, 1 + i = local i).
  int slot(int m) const { return has_global ? m : m + 1; }
  bool pi(int m) const { return proj != TntProj::NONE && !mods[(size_t)m].global; }
};

constexpr int kTntMaxLocals = 8;
constexpr int kTntStateInput = 3;
constexpr int kTntFirstSlot = 4;
constexpr int kTntSlotInputs = 5;
constexpr int kTntMaxInputs = kTntFirstSlot + kTntSlotInputs * (1 + kTntMaxLocals);  // 49
enum TntSlotInput { TNT_LR = 0, TNT_ALPHA = 1, TNT_ETA = 2, TNT_INIT1 = 3, TNT_INIT2 = 4 };
inline int tnt_input(int slot, int which) { return kTntFirstSlot + kTntSlotInputs * slot + which; }

// Offsets (floats from the start of the packed state) of one [B, H, per] block.
struct TntPart {
  int64_t off = 0, per = 0;
  int64_t at(int64_t b, int64_t h, int64_t H) const { return off + (b * H + h) * per; }
};

struct TntModLayout {
  int nmem = 1;        // 1 (linear M) or 2 (MLP W1, W2)
  TntPart mem[2], anc[2], mom[2], pi;  // mom[].per == 0 without momentum, pi.per == 0 without projection
};

struct TntLayout {
  static constexpr int64_t kHeader = 8;
  std::vector<TntModLayout> mods;
  int64_t total = kHeader;
};

inline TntLayout tnt_layout(const TntParams& p, int64_t B, int64_t H, int64_t Dk, int64_t Dv) {
  TntLayout L;
  int64_t off = TntLayout::kHeader;
  auto part = [&](int64_t per) {
    TntPart x;
    x.off = off;
    x.per = per;
    off += B * H * per;
    return x;
  };
  for (size_t m = 0; m < p.mods.size(); ++m) {
    const TntModule& md = p.mods[m];
    TntModLayout ml;
    ml.nmem = md.mlp() ? 2 : 1;
    const int64_t s0 = md.mlp() ? Dk * md.hidden : Dv * Dk, s1 = md.mlp() ? md.hidden * Dk : 0;
    for (int i = 0; i < ml.nmem; ++i) ml.mem[i] = part(i ? s1 : s0);
    for (int i = 0; i < ml.nmem; ++i) ml.anc[i] = part(i ? s1 : s0);
    if (md.momentum)
      for (int i = 0; i < ml.nmem; ++i) ml.mom[i] = part(i ? s1 : s0);
    if (p.pi((int)m)) ml.pi = part(Dk * Dk);
    L.mods.push_back(ml);
  }
  L.total = off;
  return L;
}

// Header helpers.
constexpr double kTntPosSplit = 1048576.0;  // 2^20
inline void tnt_write_header(float* h, int64_t pos, int64_t nmods, int64_t total) {
  h[0] = 1.0f;
  h[1] = (float)(pos % 1048576);
  h[2] = (float)(pos / 1048576);
  h[3] = (float)nmods;
  h[4] = (float)(total % 1048576);
  h[5] = h[6] = h[7] = 0.0f;
}
inline int64_t tnt_header_position(const float* h) {
  return h[0] == 0.0f ? 0 : (int64_t)h[1] + (int64_t)h[2] * 1048576;
}

}  // namespace engram
