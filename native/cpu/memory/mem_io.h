// Shared plumbing of the CPU memory kernels (native/cpu/memory/, ops
// gatedDeltaRule/titans*/ttt*): f32 loads/stores of one head's rows of a
// [B, T, H, D] tensor (any float dtype, any strides), gates, states, small
// vector loops compiled for AVX-512 / AVX2 / baseline (picked at load), fast
// vectorisable activations, and the task planner shared by the scans.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "engram/engine.h"
#include "engram/memory_params.h"
#include "../../core/ops/memory_common.h"  // mem::read_offset

namespace engram {
namespace cpu {
namespace mem {

// x[b, t0 + i, h, :] -> out[i * ld + j] (f32), i < n.
void load_rows(const Tensor& x, int64_t b, int64_t h, int64_t t0, int64_t n, float* out, int64_t ld);
// src[i * ld + j] -> y[b, t0 + i, h, c0 + j] for j < w (y contiguous [B, T, H, D], any float dtype).
void store_rows(const Tensor& y, int64_t b, int64_t h, int64_t t0, int64_t n, int64_t c0, int64_t w,
                const float* src, int64_t ld);
// g[b, t0 + i, h] -> out[i] (f32), i < n; g undefined -> nothing.
void load_gate(const Tensor& g, int64_t b, int64_t h, int64_t t0, int64_t n, float* out);

// State of one (b, h) of a [B or 1, H, ...] f32 state as a contiguous block
// of `per` floats (zeros when s is undefined); s may be strided.
void load_state(const Tensor& s, int64_t b, int64_t h, int64_t per, float* out);
// Contiguous [B, H, ...] f32 output state (no-op for the [0] "not requested" tensor).
void store_state(const Tensor& s, int64_t b, int64_t h, int64_t per, const float* src);
// The i32 [1] offset output of a chunk-semantic state (no-op for the [0] "not requested" tensor).
void store_offset(const Tensor& out, int64_t offset);
// The offset input (0 when absent), range-checked (native/core/ops/memory_common.h).
using engram::mem::read_offset;
// Per-head parameter p[h, :] (any float dtype) -> out[D]; false when p is undefined.
bool load_head_param(const Tensor& p, int64_t h, int64_t D, float* out);

// ---- vector loops (n floats) ----
void vaxpy(int64_t n, float a, const float* x, float* y);              // y += a x
void vaxpby(int64_t n, float a, const float* x, float b, float* y);    // y = a x + b y
void vscale(int64_t n, float a, float* x);                             // x *= a
float vdot(int64_t n, const float* x, const float* y);
void vmul(int64_t n, const float* x, float* y);                        // y *= x
// X = (I + A)^{-1} for strictly lower-triangular A [n, n] (row-major): the
// rows of hd_ut_row in one vectorised loop nest (X must not alias A).
void ut_inverse(int64_t n, const float* A, float* X);
// y = exp(x) (x clamped to [-87.3, 88]; ~1 ulp; y may alias x).
void vexp(int64_t n, const float* x, float* y);
// y = act(x) (y may alias x) and, when d != nullptr, d = act'(x); fast vectorised forms of
// hd_mem_act / hd_mem_act_grad (max abs error ~2e-7 relative to |x| scale).
void vact(int64_t n, MemAct k, const float* x, float* y, float* d);
float fast_act(MemAct k, float x);  // scalar of the same
// Double-precision activation and derivative (the reference kernels).
double act_ref(MemAct k, double x);
double act_grad_ref(MemAct k, double x);

// ---- task planning ----
// Row slices per (b, h) so that B*H*slices tasks balance `threads` threads
// (1 when there are enough heads); at least `min_rows` rows per slice.
int64_t plan_slices(int64_t BH, int64_t rows, int64_t min_rows);
// Slice s of ns over [0, n): start *j0 and width *w, boundaries on multiples
// of 16 where n allows (no two threads write one cache line).
void slice_range(int64_t n, int64_t ns, int64_t s, int64_t* j0, int64_t* w);

// The blocked scan shared by the slice-parallel kernels (Titans linear, GDN):
// prep(bh, chunk, buf) writes the state-independent data of a chunk into buf
// (prep_floats floats); step(bh, chunk, slice, buf) advances one row slice of
// the state of (b, h) through that chunk. Chunks are visited in order per
// (bh, slice). With one slice, prep and step run fused per (b, h) task; with
// more, blocks of chunks alternate a parallel prep phase (over bh x chunk)
// and a parallel step phase (over bh x slice).
using PrepFn = std::function<void(int64_t bh, int64_t chunk, float* buf)>;
using StepFn = std::function<void(int64_t bh, int64_t chunk, int64_t slice, const float* buf)>;
void run_scan(int64_t BH, int64_t nchunks, int64_t nslices, int64_t chunk_tokens, size_t prep_floats,
              const PrepFn& prep, const StepFn& step);

// The chunk grid of a call whose state has already consumed `offset` tokens
// of the current chunk (Titans): segment 0 holds the first C - offset tokens
// (the rest of that chunk), then chunks of C, the last one shorter.
struct ChunkGrid {
  int64_t T = 0, C = 1, off = 0;
  int64_t first() const { return C - off; }
  int64_t count() const { return T <= 0 ? 0 : T <= first() ? 1 : 1 + (T - first() + C - 1) / C; }
  int64_t start(int64_t i) const { return i == 0 ? 0 : first() + (i - 1) * C; }
  int64_t len(int64_t i) const { return std::min(T, start(i) + (i == 0 ? first() : C)) - start(i); }
  int64_t end_offset() const { return (off + T) % C; }
};

}  // namespace mem
}  // namespace cpu
}  // namespace engram
