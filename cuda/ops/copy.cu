// copy: any strided view -> contiguous, any non-packed dtype (bytes are moved,
// not converted; elements of 1, 2 or 4 bytes). Contiguous and packed tensors
// are one device-to-device memcpy.
#include "../common.cuh"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {
template <class E>
__global__ void copy_kernel(const E* __restrict__ x, E* __restrict__ o, int64_t n, StridedIndex ix) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) o[i] = x[offset_of(ix, i)];
}

template <class E>
void launch_copy_kernel(const Tensor& X, const Tensor& O) {
  const int64_t n = X.numel();
  copy_kernel<E><<<grid_for(n, kThreads), kThreads, 0, stream()>>>(static_cast<const E*>(X.raw()),
                                                                    static_cast<E*>(O.raw()), n, make_index(X));
  ENGRAM_CUDA_LAUNCHED("copy kernel");
}
}  // namespace

void copy_into(const Tensor& X, const Tensor& O) {
  if (X.numel() == 0) return;
  if (is_packed(X.dtype()) || X.is_contiguous()) {
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(O.raw(), X.raw(), X.nbytes(), cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  switch (elem_size(X.dtype())) {
    case 1: launch_copy_kernel<uint8_t>(X, O); break;
    case 2: launch_copy_kernel<uint16_t>(X, O); break;
    case 4: launch_copy_kernel<uint32_t>(X, O); break;
    default: fail(ErrorCode::E_DTYPE, "copy: unsupported dtype ", dtype_name(X.dtype()));
  }
}

void launch_copy(OpCall& c) { copy_into(c.in[0], c.out[0]); }

}  // namespace cuda
}  // namespace engram
