// Shared CUDA helpers: error checks that throw engram::Error(E_CUDA), element
// load/store for f32/f16/bf16, and strided indexing of up to 8 dims.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engram/dtype.h"
#include "engram/engine.h"

namespace engram {
namespace cuda {

void check(cudaError_t e, const char* what);  // throws E_CUDA (E_OOM for allocation failures)
#define ENGRAM_CUDA_CHECK(x) ::engram::cuda::check((x), #x)
// After a launch: reports configuration errors at once.
#define ENGRAM_CUDA_LAUNCHED(name) ::engram::cuda::check(cudaGetLastError(), name)

cudaStream_t stream();  // the stream every engram kernel is launched on

// Up to 8-d shape/strides passed by value to kernels.
struct StridedIndex {
  int n;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};
StridedIndex make_index(const Tensor& t);
StridedIndex make_index(const Dims& shape, const Dims& strides);

__host__ __device__ __forceinline__ int64_t offset_of(const StridedIndex& ix, int64_t i) {
  int64_t off = 0;
  for (int d = ix.n - 1; d >= 0; --d) {
    int64_t s = ix.shape[d];
    off += (i % s) * ix.strides[d];
    i /= s;
  }
  return off;
}

// Typed loads/stores through a dtype tag known at run time.
__device__ __forceinline__ float load_f32(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::I32: return (float)static_cast<const int32_t*>(p)[i];
    case DType::U8: return (float)static_cast<const uint8_t*>(p)[i];
    case DType::I8: return (float)static_cast<const int8_t*>(p)[i];
    default: return static_cast<const float*>(p)[i];
  }
}
__device__ __forceinline__ void store_f32(void* p, int64_t i, DType t, float v) {
  switch (t) {
    case DType::F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

inline unsigned grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535LL * 32) b = 65535LL * 32;  // grid-stride loops cover the rest
  return (unsigned)b;
}

}  // namespace cuda
}  // namespace engram
