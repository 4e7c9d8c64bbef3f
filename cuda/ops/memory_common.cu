// Helpers shared by the memory kernels (see memory.cuh).
#include "memory.cuh"
#include "engram/tnt_params.h"

namespace engram {
namespace cuda {

namespace {
__global__ void offset_kernel(int32_t* p, int32_t v) { *p = v; }
__global__ void tnt_header_kernel(float* out, float h0, float h1, float h2, float h3, float h4) {
  const float v[8] = {h0, h1, h2, h3, h4, 0.0f, 0.0f, 0.0f};
  if (threadIdx.x < 8) out[threadIdx.x] = v[threadIdx.x];
}
}  // namespace

void write_offset(const Tensor& out, int64_t v) {
  if (!out.numel()) return;  // final state not requested
  offset_kernel<<<1, 1, 0, stream()>>>(static_cast<int32_t*>(const_cast<void*>(out.raw())), (int32_t)v);
  ENGRAM_CUDA_LAUNCHED("offset_kernel");
}

void write_tnt_header(float* out, int64_t pos, int64_t nmods, int64_t total) {
  float h[8];
  tnt_write_header(h, pos, nmods, total);
  tnt_header_kernel<<<1, 32, 0, stream()>>>(out, h[0], h[1], h[2], h[3], h[4]);
  ENGRAM_CUDA_LAUNCHED("tnt_header_kernel");
}

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
