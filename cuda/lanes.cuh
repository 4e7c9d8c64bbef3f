// Lane kernels (softmax, norms, reductions, scans): the lanes of one axis are
// handed to groups of TPL threads, either a warp per lane (TPL = 32, several
// lanes per block) or the whole block per lane (TPL = kThreads) for long
// lanes. Group loops are uniform across the group, so the block-wide
// reductions below may synchronise inside them.
#pragma once
#include "common.cuh"
#include "hd/online.h"

namespace engram {
namespace cuda {

constexpr unsigned kFullMask = 0xffffffffu;

// Block-per-lane for long lanes; a warp per lane otherwise.
inline bool long_lanes(int64_t len) { return len >= 1024; }

template <int TPL>
struct LaneGroups {
  static_assert(TPL == 32 || TPL == kThreads, "a warp or the whole block per lane");
  static constexpr int kPerBlock = kThreads / TPL;
  __device__ static int64_t first() { return (int64_t)blockIdx.x * kPerBlock + threadIdx.x / TPL; }
  __device__ static int64_t stride() { return (int64_t)gridDim.x * kPerBlock; }
  __device__ static int rank() { return threadIdx.x % TPL; }
  static unsigned blocks(int64_t lanes) {
    int64_t b = (lanes + kPerBlock - 1) / kPerBlock;
    if (b < 1) b = 1;
    if (b > 65535LL * 32) b = 65535LL * 32;
    return (unsigned)b;
  }
};

// Online-softmax states merged across a group (every thread gets the result).
template <int TPL>
__device__ __forceinline__ SoftmaxState group_softmax(SoftmaxState st, float* scratch_m, float* scratch_s) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    SoftmaxState other{__shfl_xor_sync(kFullMask, st.m, o), __shfl_xor_sync(kFullMask, st.s, o)};
    st = softmax_merge(st, other);
  }
  if (TPL == 32) return st;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    scratch_m[warp] = st.m;
    scratch_s[warp] = st.s;
  }
  __syncthreads();
  SoftmaxState r{scratch_m[0], scratch_s[0]};
  for (int w = 1; w < TPL / 32; ++w) r = softmax_merge(r, SoftmaxState{scratch_m[w], scratch_s[w]});
  __syncthreads();
  return r;
}

// Inclusive and exclusive scan of one value per thread across a group (in
// thread order), plus the group total. `scratch` holds kThreads / 32 floats.
template <int TPL>
__device__ __forceinline__ void group_scan(float v, ScanOp op, float* scratch, float& incl, float& excl,
                                           float& total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  float r = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const float y = __shfl_up_sync(kFullMask, r, o);
    if (lane >= o) r = op(y, r);
  }
  float e = __shfl_up_sync(kFullMask, r, 1);
  if (lane == 0) e = op.identity();
  if (TPL == 32) {
    incl = r;
    excl = e;
    total = __shfl_sync(kFullMask, r, 31);
    return;
  }
  if (lane == 31) scratch[warp] = r;
  __syncthreads();
  float pre = op.identity(), tot = op.identity();
  for (int w = 0; w < TPL / 32; ++w) {
    if (w < warp) pre = op(pre, scratch[w]);
    tot = op(tot, scratch[w]);
  }
  __syncthreads();
  incl = op(pre, r);
  excl = op(pre, e);
  total = tot;
}

}  // namespace cuda
}  // namespace engram
