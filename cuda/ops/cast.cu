// cast between f32/f16/bf16/i32/u8/i8 on the GPU, with the CPU's rules
// (cuda/hd/elem.h store_any): floats round to nearest even; float -> integer
// truncates toward zero and saturates, NaN -> 0; integers convert through f32.
// Same dtype: a byte copy.
#include "../common.cuh"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {
__global__ void cast_kernel(const void* __restrict__ x, DType from, void* __restrict__ o, DType to, int64_t n,
                            StridedIndex ix) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) store_any(o, i, to, load_any(x, offset_of(ix, i), from));
}
}  // namespace

void launch_cast(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  if (X.dtype() == O.dtype()) {
    copy_into(X, O);
    return;
  }
  ENGRAM_CHECK(!is_packed(X.dtype()) && !is_packed(O.dtype()), DTYPE, "cast: packed dtypes are not supported");
  const int64_t n = O.numel();
  cast_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(X.raw(), X.dtype(), O.raw(), O.dtype(), n,
                                                                make_index(X));
  ENGRAM_CUDA_LAUNCHED("cast kernel");
}

}  // namespace cuda
}  // namespace engram
