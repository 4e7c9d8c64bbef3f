// Shared CUDA helpers: error checks that throw engram::Error(E_CUDA), the
// stream every kernel runs on, launch sizing, dtype dispatch, and warp/group
// reductions. The per-element maths and index arithmetic live in cuda/hd/*.h
// (plain C++, also compiled and tested on the CPU).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engram/dtype.h"
#include "engram/engine.h"
#include "hd/elem.h"
#include "hd/index.h"

namespace engram {
namespace cuda {

void check(cudaError_t e, const char* what);  // throws E_CUDA (E_OOM for allocation failures)
#define ENGRAM_CUDA_CHECK(x) ::engram::cuda::check((x), #x)
// After a launch: reports configuration errors at once.
#define ENGRAM_CUDA_LAUNCHED(name) ::engram::cuda::check(cudaGetLastError(), name)

// The one stream every engram kernel and copy is issued on (all host threads
// share it, so work from the JS thread and the async workers stays ordered).
cudaStream_t stream();
const cudaDeviceProp& device_prop();  // device 0 (the backend is available)

StridedIndex make_index(const Tensor& t);  // coalesced
StridedIndex make_index(const Dims& shape, const Dims& strides);

// Typed loads/stores through a dtype tag known at run time.
__device__ __forceinline__ float load_f32(const void* p, int64_t i, DType t) { return load_any(p, i, t); }
__device__ __forceinline__ void store_f32(void* p, int64_t i, DType t, float v) { store_any(p, i, t, v); }

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items (capped: the loop covers the rest).
inline unsigned grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535LL * 32) b = 65535LL * 32;
  return (unsigned)b;
}

__device__ __forceinline__ int64_t global_thread() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return (int64_t)gridDim.x * blockDim.x; }

// Calls f(T{}) with T = float, f16_t or bf16_t for a float dtype.
template <class F>
void dispatch_float(DType dt, F&& f) {
  switch (dt) {
    case DType::F32: f(float{}); return;
    case DType::F16: f(f16_t{}); return;
    case DType::BF16: f(bf16_t{}); return;
    default: fail(ErrorCode::E_DTYPE, "expected a float dtype, got ", dtype_name(dt));
  }
}

// ---- warp / group reductions -------------------------------------------------
template <class Op>
__device__ __forceinline__ float warp_reduce(float v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxNanOp {
  __device__ float operator()(float a, float b) const { return max_nan(a, b); }
};

// Reduction over a group of TPL threads (32: one warp; a multiple of 32: the
// whole block, TPL == blockDim.x). Every thread of the group gets the result.
// For TPL > 32 all threads of the block must call it (it synchronises);
// `scratch` holds blockDim.x / 32 floats.
template <int TPL, class Op>
__device__ __forceinline__ float group_reduce(float v, Op op, float* scratch) {
  v = warp_reduce(v, op);
  if (TPL == 32) return v;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = scratch[0];
  for (int w = 1; w < TPL / 32; ++w) r = op(r, scratch[w]);
  __syncthreads();  // scratch is reused by the next call
  return r;
}

}  // namespace cuda
}  // namespace engram
