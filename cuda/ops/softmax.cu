// softmax over one axis on the GPU: a warp (or a block, for long lanes) per
// lane. Pass 1 folds the lane into an online-softmax state (running max and
// sum of exp, cuda/hd/online.h) and merges the states across the group;
// pass 2 writes exp(x - max) / sum. An all -inf lane gives NaN like the CPU.
#include "../kernels.cuh"
#include "../lanes.cuh"

namespace engram {
namespace cuda {

namespace {
template <int TPL, class T>
__global__ void softmax_kernel(const T* __restrict__ x, LaneIndex Li, T* __restrict__ o, LaneIndex Lo) {
  __shared__ float scratch_m[kThreads / 32], scratch_s[kThreads / 32];
  using G = LaneGroups<TPL>;
  for (int64_t lane = G::first(); lane < Li.count; lane += G::stride()) {
    const T* xp = x + lane_offset(Li, lane);
    T* op = o + lane_offset(Lo, lane);
    SoftmaxState st = softmax_identity();
    for (int64_t j = G::rank(); j < Li.len; j += TPL) st = softmax_push(st, to_f32(xp[j * Li.step]));
    st = group_softmax<TPL>(st, scratch_m, scratch_s);
    const float shift = softmax_shift(st), inv = 1.0f / st.s;
    for (int64_t j = G::rank(); j < Li.len; j += TPL)
      op[j * Lo.step] = from_f32<T>(expf(to_f32(xp[j * Li.step]) - shift) * inv);
  }
}
}  // namespace

void launch_softmax(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), "softmax");
  const LaneIndex Li = lanes_of(X.shape(), X.strides(), ax), Lo = lanes_of(O.shape(), O.strides(), ax);
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(X.raw());
    T* o = static_cast<T*>(O.raw());
    if (long_lanes(Li.len))
      softmax_kernel<kThreads, T><<<LaneGroups<kThreads>::blocks(Li.count), kThreads, 0, stream()>>>(x, Li, o, Lo);
    else
      softmax_kernel<32, T><<<LaneGroups<32>::blocks(Li.count), kThreads, 0, stream()>>>(x, Li, o, Lo);
  });
  ENGRAM_CUDA_LAUNCHED("softmax kernel");
}

}  // namespace cuda
}  // namespace engram
