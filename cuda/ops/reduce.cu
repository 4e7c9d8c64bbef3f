// sum / mean / max over one axis on the GPU. Output element l is lane l of
// the input (row-major over the other dims), which is the output's layout
// with or without keepdim. Two paths:
//   rows:    a warp (or a block, for long lanes) per lane, tree reduction;
//   columns: a thread per lane when the axis is strided and neighbouring lanes
//            are adjacent in memory (reducing a leading axis): coalesced
//            loads, Kahan-compensated sums.
// max propagates NaN; mean of an empty axis is 0/0 = NaN like the CPU.
#include "../kernels.cuh"
#include "../lanes.cuh"

namespace engram {
namespace cuda {

namespace {
enum class Red : int { SUM, MEAN, MAX };

__device__ __forceinline__ float finish(Red mode, float acc, int64_t len) {
  return mode == Red::MEAN ? acc / (float)len : acc;
}

template <int TPL, class T>
__global__ void reduce_rows_kernel(const T* __restrict__ x, LaneIndex L, T* __restrict__ o, Red mode) {
  __shared__ float scratch[kThreads / 32];
  using G = LaneGroups<TPL>;
  for (int64_t lane = G::first(); lane < L.count; lane += G::stride()) {
    const T* xp = x + lane_offset(L, lane);
    float acc = mode == Red::MAX ? -INFINITY : 0.0f;
    for (int64_t j = G::rank(); j < L.len; j += TPL) {
      const float v = to_f32(xp[j * L.step]);
      acc = mode == Red::MAX ? max_nan(acc, v) : acc + v;
    }
    acc = mode == Red::MAX ? group_reduce<TPL>(acc, MaxNanOp(), scratch) : group_reduce<TPL>(acc, AddOp(), scratch);
    if (G::rank() == 0) o[lane] = from_f32<T>(finish(mode, acc, L.len));
  }
}

template <class T>
__global__ void reduce_cols_kernel(const T* __restrict__ x, LaneIndex L, T* __restrict__ o, Red mode) {
  for (int64_t lane = global_thread(); lane < L.count; lane += grid_threads()) {
    const T* xp = x + lane_offset(L, lane);
    if (mode == Red::MAX) {
      float acc = -INFINITY;
      for (int64_t j = 0; j < L.len; ++j) acc = max_nan(acc, to_f32(xp[j * L.step]));
      o[lane] = from_f32<T>(acc);
    } else {
      KahanSum k{0.0f, 0.0f};
      for (int64_t j = 0; j < L.len; ++j) k = kahan_add(k, to_f32(xp[j * L.step]));
      o[lane] = from_f32<T>(finish(mode, k.s, L.len));
    }
  }
}
}  // namespace

void launch_reduce(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), op_name(c.op));
  const LaneIndex L = lanes_of(X.shape(), X.strides(), ax);
  const Red mode = c.op == OpId::MAX ? Red::MAX : (c.op == OpId::MEAN ? Red::MEAN : Red::SUM);
  // Neighbouring lanes adjacent in memory while the axis itself is strided.
  const bool columns = L.step != 1 && L.outer.n >= 1 && L.outer.strides[L.outer.n - 1] == 1 && L.count >= 256;
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(X.raw());
    T* o = static_cast<T*>(O.raw());
    if (columns) {
      reduce_cols_kernel<T><<<grid_for(L.count, kThreads), kThreads, 0, stream()>>>(x, L, o, mode);
    } else if (long_lanes(L.len)) {
      reduce_rows_kernel<kThreads, T><<<LaneGroups<kThreads>::blocks(L.count), kThreads, 0, stream()>>>(x, L, o, mode);
    } else {
      reduce_rows_kernel<32, T><<<LaneGroups<32>::blocks(L.count), kThreads, 0, stream()>>>(x, L, o, mode);
    }
  });
  ENGRAM_CUDA_LAUNCHED("reduce kernel");
}

}  // namespace cuda
}  // namespace engram
