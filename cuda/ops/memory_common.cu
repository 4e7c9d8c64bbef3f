// Helpers shared by the memory kernels (see memory.cuh).
#include "memory.cuh"

namespace engram {
namespace cuda {

bool smem_fits(const void* kernel, size_t bytes) {
  int dev = 0, optin = 0;
  ENGRAM_CUDA_CHECK(cudaGetDevice(&dev));
  ENGRAM_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (bytes > (size_t)optin) return false;
  if (bytes > 48 * 1024)
    ENGRAM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
  return true;
}

}  // namespace cuda
}  // namespace engram
