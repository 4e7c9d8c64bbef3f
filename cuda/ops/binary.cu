// add/sub/mul/div with numpy broadcasting on the GPU (f32/f16/bf16, computed
// in f32). Each operand has its own coalesced index over the output's linear
// index (stride 0 on broadcast dims); a contiguous operand coalesces to one
// unit-stride dim, which offset_of walks without division.
#include "../common.cuh"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {
template <class T>
__global__ void binary_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o, int64_t n,
                              StridedIndex ia, StridedIndex ib, BinaryFn fn) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const float x = to_f32(a[offset_of(ia, i)]), y = to_f32(b[offset_of(ib, i)]);
    o[i] = from_f32<T>(binary_apply(fn, x, y));
  }
}
}  // namespace

void launch_binary(OpCall& c) {
  const Tensor &A = c.in[0], &B = c.in[1], &O = c.out[0];
  const Dims& shape = O.shape();
  const StridedIndex ia = make_index(shape, broadcast_strides(A.shape(), A.strides(), shape));
  const StridedIndex ib = make_index(shape, broadcast_strides(B.shape(), B.strides(), shape));
  const int64_t n = O.numel();
  const BinaryFn fn = c.p<BinaryParams>().fn;
  dispatch_float(O.dtype(), [&](auto tag) {
    using T = decltype(tag);
    binary_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream()>>>(
        static_cast<const T*>(A.raw()), static_cast<const T*>(B.raw()), static_cast<T*>(O.raw()), n, ia, ib, fn);
  });
  ENGRAM_CUDA_LAUNCHED("binary kernel");
}

}  // namespace cuda
}  // namespace engram
