// The test-time memory kernels on the GPU (cuda/ops/titans.cu,
// gated_delta_rule.cu, ttt.cu): launchers, the shape limits of the fused
// kernels (kernel_for returns nullptr outside them: E_UNSUPPORTED), and the
// device-side views shared by the three files.
#pragma once
#include "../common.cuh"
#include "engram/memory_hd.h"
#include "../hd/titans_mlp_body.h"  // MlpSeq, MlpState

namespace engram {
namespace cuda {

// Launchers (OpCall in, outputs allocated on the device).
void titans_linear_cuda(OpCall& c);
void gated_delta_rule_cuda(OpCall& c);
void ttt_linear_cuda(OpCall& c);
void titans_mlp_cuda(OpCall& c);  // cuda/ops/titans_mlp.cu: token loop, any chunk size
// The fused kernels keep a chunk and a state slice in shared memory: chunk
// <= 64, head dims <= 128 (and the shared memory of the device).
bool titans_linear_cuda_ok(const OpCall& c);
bool gated_delta_rule_cuda_ok(const OpCall& c);
bool ttt_linear_cuda_ok(const OpCall& c);
bool titans_mlp_cuda_ok(const OpCall& c);
void ttt_mlp_cuda(OpCall& c);  // cuda/ops/ttt_mlp.cu: token loop
// Token loops (cuda/ops/memory_token.cu): mode 'recurrent' and shapes the fused kernels cannot hold.
void titans_linear_token_cuda(OpCall& c);
bool titans_linear_token_cuda_ok(const OpCall& c);
void gated_delta_rule_token_cuda(OpCall& c);
bool gated_delta_rule_token_cuda_ok(const OpCall& c);
bool ttt_mlp_cuda_ok(const OpCall& c);
// tnt (cuda/ops/tnt.cu): linear memories; not the 'sequence' projection or simulated devices.
void tnt_cuda(OpCall& c);
bool tnt_cuda_ok(const OpCall& c);
// tnt token loop (cuda/ops/tnt_token.cu): MLP memories, the 'sequence' projection.
void tnt_token_cuda(OpCall& c);
bool tnt_token_cuda_ok(const OpCall& c);

// The block executor of the token-loop bodies (titans_mlp_block, ttt_mlp_block).
struct BlockExec {
  __device__ int tid() const { return (int)threadIdx.x; }
  __device__ int nt() const { return (int)blockDim.x; }
  __device__ void sync() const { __syncthreads(); }
  // out[r] = M[r, :] . x for r < m (M row-major [m, w]); one warp per row.
  __device__ void rows_dot(const float* M, const float* x, int m, int w, float* out) const {
    const int warp = (int)threadIdx.x / 32, lane = (int)threadIdx.x % 32, nw = (int)blockDim.x / 32;
    for (int r = warp; r < m; r += nw) {
      float acc = 0.0f;
      for (int e = lane; e < w; e += 32) acc += M[(int64_t)r * w + e] * x[e];
      acc = warp_reduce(acc, AddOp{});
      if (lane == 0) out[r] = acc;
    }
  }
};

// A [B, T, H, D] sequence (any float dtype, any strides) or a [B, T, H] gate
// (the same struct as the token-loop bodies' MlpSeq).
using SeqView = MlpSeq;
inline SeqView seq_view(const Tensor& t) {
  SeqView v{t.raw(), t.dtype(), t.stride(0), t.stride(1), t.stride(2), t.ndim() == 4 ? t.stride(3) : 0};
  return v;
}
inline SeqView gate_view(const Tensor& t) {
  if (!t.defined()) return SeqView{nullptr, DType::F32, 0, 0, 0, 0};
  return seq_view(t);
}
__device__ __forceinline__ float seq_at(const SeqView& v, int64_t b, int64_t t, int64_t h, int64_t d) {
  return load_f32(v.p, b * v.sb + t * v.st + h * v.sh + d * v.sd, v.dt);
}
__device__ __forceinline__ float gate_at(const SeqView& v, int64_t b, int64_t t, int64_t h) {
  return load_f32(v.p, b * v.sb + t * v.st + h * v.sh, v.dt);
}

// Dynamic shared memory of `bytes` for kernel k: raises the per-kernel limit
// when needed; false when the device cannot give that much.
bool smem_fits(const void* kernel, size_t bytes);
// The i32 [1] state offset output (nothing when the final state was not requested).
void write_offset(const Tensor& out, int64_t v);
// The 8-float header of a packed TNT state (engram/tnt_params.h).
void write_tnt_header(float* out, int64_t pos, int64_t nmods, int64_t total);

// An optional f32 state [B or 1, H, R, Cc] (strided; batch 1 broadcasts), or
// a state output (contiguous, or [0] when not requested: p == nullptr).
using StateView = MlpState;  // (the token-loop bodies' struct)
inline StateView state_view(const Tensor& s) {
  if (!s.defined() || s.numel() == 0) return StateView{nullptr, 0, 0, 0, 0};
  const int nd = s.ndim();
  return StateView{s.data<float>(), s.size(0) == 1 ? 0 : s.stride(0), s.stride(1), nd > 2 ? s.stride(2) : 0,
                   nd > 3 ? s.stride(3) : (nd > 2 ? 0 : 0)};
}
__device__ __forceinline__ float* state_at(const StateView& v, int64_t b, int64_t h, int64_t r, int64_t c) {
  return v.p + b * v.sb + h * v.sh + r * v.sr + c * v.sc;
}

}  // namespace cuda
}  // namespace engram
