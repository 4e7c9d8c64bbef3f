// Elementwise unary functions on the GPU (f32/f16/bf16, computed in f32 with
// the formulas of cuda/hd/elem.h, shared with the CPU test). Strided inputs
// are read through a coalesced index; the output is contiguous.
#include "../common.cuh"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {
template <class T>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ o, int64_t n, StridedIndex ix, UnaryOp op) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) o[i] = from_f32<T>(unary_apply(op, to_f32(x[offset_of(ix, i)])));
}
}  // namespace

void launch_unary(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const UnaryParams& p = c.p<UnaryParams>();
  const UnaryOp op{p.fn, p.alpha, p.beta, p.approximate};
  const StridedIndex ix = make_index(X);
  const int64_t n = O.numel();
  dispatch_float(O.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream()>>>(static_cast<const T*>(X.raw()),
                                                                       static_cast<T*>(O.raw()), n, ix, op);
  });
  ENGRAM_CUDA_LAUNCHED("unary kernel");
}

}  // namespace cuda
}  // namespace engram
