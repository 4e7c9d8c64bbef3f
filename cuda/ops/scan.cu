// cumsum and logcumsumexp along one axis on the GPU (exclusive / reverse
// options): a warp (or a block, for long lanes) per lane walks the lane in
// chunks of TPL elements; each chunk is scanned across the group with the
// combine rule of cuda/hd/online.h and offset by the carry of the chunks
// before it. f32 accumulation (the CPU uses double; parity tolerances cover it).
#include "../kernels.cuh"
#include "../lanes.cuh"

namespace engram {
namespace cuda {

namespace {
template <int TPL, class T>
__global__ void scan_kernel(const T* __restrict__ x, LaneIndex Li, T* __restrict__ o, LaneIndex Lo, ScanOp op,
                            bool exclusive, bool reverse) {
  __shared__ float scratch[kThreads / 32];
  using G = LaneGroups<TPL>;
  for (int64_t lane = G::first(); lane < Li.count; lane += G::stride()) {
    const T* xp = x + lane_offset(Li, lane);
    T* out = o + lane_offset(Lo, lane);
    float carry = op.identity();
    for (int64_t s0 = 0; s0 < Li.len; s0 += TPL) {
      const int64_t s = s0 + G::rank();
      const bool in = s < Li.len;
      const int64_t j = in ? scan_position(s, Li.len, reverse) : 0;
      const float v = in ? to_f32(xp[j * Li.step]) : op.identity();
      float incl, excl, total;
      group_scan<TPL>(v, op, scratch, incl, excl, total);
      if (in) out[j * Lo.step] = from_f32<T>(op(carry, exclusive ? excl : incl));
      carry = op(carry, total);
    }
  }
}
}  // namespace

void launch_scan(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const AxisParams p = c.p<AxisParams>();
  const int ax = norm_axis(p.axis, X.ndim(), op_name(c.op));
  const LaneIndex Li = lanes_of(X.shape(), X.strides(), ax), Lo = lanes_of(O.shape(), O.strides(), ax);
  const ScanOp op{c.op == OpId::LOGCUMSUMEXP};
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(X.raw());
    T* o = static_cast<T*>(O.raw());
    if (long_lanes(Li.len))
      scan_kernel<kThreads, T><<<LaneGroups<kThreads>::blocks(Li.count), kThreads, 0, stream()>>>(
          x, Li, o, Lo, op, p.exclusive, p.reverse);
    else
      scan_kernel<32, T><<<LaneGroups<32>::blocks(Li.count), kThreads, 0, stream()>>>(x, Li, o, Lo, op,
                                                                                       p.exclusive, p.reverse);
  });
  ENGRAM_CUDA_LAUNCHED("scan kernel");
}

}  // namespace cuda
}  // namespace engram
