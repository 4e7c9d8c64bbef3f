// The CPU building blocks of TNT (algorithms.md §4(c)): the working state of
// one memory module for one (b, h), and the two runners the tnt kernel and
// its simulated context-parallel devices are made of:
//   run_global  the global memory over a token range: per global chunk (or
//               the part of it inside the range) the frozen read f(V_n, Q)
//               and one update V_{n+1} = A V_n + Bv S - sum_i c_i u_i(V_n),
//               in sub-blocks of rows (a few large GEMMs, no C x C matrices).
//   run_local   one local memory over the tokens of one shard (a unit of
//               work with explicit inputs — its rows, its start state — and
//               outputs — its rows of o, its end state): the chunked dual
//               form of chunk_linear.h / chunk_mlp.h with Q replaced by the
//               Q-K projection Pi q (Q Pi_start^T + tril(Q K^T diag(1/|k|^2)) K),
//               or a token loop at chunk size 1 (exact online GD).
// Both resume mid-chunk from a carried anchor (the gradient anchor differs
// from the state there), so any split of a sequence continues exactly.
#pragma once
#include <cstdint>
#include <vector>

#include "engram/engine.h"
#include "engram/tnt_params.h"

namespace engram {
namespace cpu {
namespace tnt {

struct Dims4 {
  int64_t B = 0, T = 0, H = 0, dk = 0, dv = 0;
};

// Token source: q, k, v [B, n, H, D] and the gates [B, n, H] of every module
// (undefined when off), any float dtype and strides; call token t is row
// t - base (a simulated device holds only its rows).
struct Source {
  Tensor q, k, v;
  std::vector<Tensor> lr, al, et;  // indexed by module
  int64_t base = 0;
};

// Where a module's outputs go: f32 rows p[((b * T + t - base) * H + h) * dv],
// written (the first module) or added (the others, in module order).
struct Sink {
  float* p = nullptr;
  int64_t T = 0, H = 0, dv = 0, base = 0;
  bool add = false;
  float* row(int64_t b, int64_t t, int64_t h) const { return p + ((b * T + (t - base)) * H + h) * dv; }
};

// One module's working state for one (b, h), in the layouts of the chunk code:
//   linear: X [sw, dv] = [M^T ; S^T] (sw = 2 dk with momentum), A [dk, dv] the anchor M^T
//   mlp:    X [d, sw1] rows [W1_i | S1_i], X2 [dh, sw2] rows [W2_j | S2_j]; A [d, dh], A2 [dh, d]
//   pi      [dk, dk] (locals with the projection)
// A always holds the anchor of the chunk containing the last processed token.
struct ModState {
  std::vector<float> X, X2, A, A2, pi;
};

void state_alloc(const TntModule& md, bool pi, int64_t dk, int64_t dv, ModState& s);
// memory = anchor = init (init1/init2 [B|1, H, ...] f32; undefined: zeros), momentum 0, pi 0.
void state_load_init(const TntModule& md, const Tensor& init1, const Tensor& init2, int64_t b, int64_t h,
                     int64_t dk, int64_t dv, ModState& s);
// From / to the packed state (engram/tnt_params.h).
void state_load_packed(const TntModule& md, const TntModLayout& ml, const float* packed, int64_t b, int64_t h,
                       int64_t H, int64_t dk, int64_t dv, ModState& s);
void state_store_packed(const TntModule& md, const TntModLayout& ml, const ModState& s, int64_t b, int64_t h,
                        int64_t H, int64_t dk, int64_t dv, float* packed);

// Module m over call tokens [t0, t1) (absolute position pos0 + t) of (b, h).
void run_global(const TntModule& md, int m, const Source& src, int64_t b, int64_t h, int64_t pos0, int64_t t0,
                int64_t t1, const Dims4& d, ModState& s, const Sink& out);
// Local module m over call tokens [t0, t1), which lie in one shard; s is the
// shard's start state (W_init, or the carried state when resuming mid-shard).
void run_local(const TntModule& md, int m, TntProj proj, const Source& src, int64_t b, int64_t h, int64_t pos0,
               int64_t t0, int64_t t1, const Dims4& d, ModState& s, const Sink& out);
// pi += sum_{t0 <= t < t1} k_t k_t^T / |k_t|^2 (a shard's share of the 'sequence' projection).
void add_key_outer(const Source& src, int64_t b, int64_t h, int64_t t0, int64_t t1, int64_t dk, float* pi);

}  // namespace tnt
}  // namespace cpu
}  // namespace engram
