// Scaled dot-product attention on the GPU, flash style, all in f32: one block
// per (batch, head, tile of BQ queries) walks the keys in tiles of BK with an
// online softmax, so memory is O(tile) whatever the sequence length. The Q,
// K, V, P and O tiles live in dynamic shared memory sized for the head dims
// (BQ = BK = 32, 16, 8 or 4: the largest that fits 48 KiB, else the device's
// opt-in limit). The phases are the __host__ __device__ functions of
// cuda/hd/sdpa_tile.h (replayed on the CPU by test/native/test_cuda_math.cpp).
// Grouped-query heads: query head h reads key/value head h / (H / H_kv).
// causal: query t sees keys s <= t + (S - T).
#include "../common.cuh"
#include "../hd/sdpa_tile.h"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {
constexpr int kSdpaThreads = 128;
constexpr size_t kStaticSmem = 48 * 1024;

template <class T>
__global__ void __launch_bounds__(kSdpaThreads)
    sdpa_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ out,
                SdpaProblem p, SdpaPlan pl) {
  extern __shared__ float sm[];
  const int tid = threadIdx.x;
  const int64_t tasks = sdpa_tasks(p, pl.bq);
  for (int64_t task = blockIdx.x; task < tasks; task += gridDim.x) {
    const SdpaTask t = sdpa_task(p, pl.bq, task);
    sdpa_begin(p, pl, t, q, sm, tid, kSdpaThreads);
    __syncthreads();
    for (int64_t k0 = 0; k0 < t.kend; k0 += pl.bk) {
      sdpa_load_kv(p, pl, t, k0, k, v, sm, tid, kSdpaThreads);
      __syncthreads();
      sdpa_scores(p, pl, t, k0, sm, tid, kSdpaThreads);
      __syncthreads();
      sdpa_softmax_rows(p, pl, t, k0, sm, tid, kSdpaThreads);
      __syncthreads();
      sdpa_accumulate(p, pl, t, k0, sm, tid, kSdpaThreads);
      __syncthreads();
    }
    sdpa_store(p, pl, t, sm, out, tid, kSdpaThreads);
    __syncthreads();  // the next task's begin overwrites O and l
  }
}

// The tile layout for these head dims: within 48 KiB if possible, else within
// the device's opt-in shared memory per block.
bool plan_for(const OpCall& c, SdpaPlan* pl) {
  const int64_t D = c.in[0].size(3), Dv = c.in[2].size(3);
  if (sdpa_choose(D, Dv, kStaticSmem, pl)) return true;
  return sdpa_choose(D, Dv, (size_t)device_prop().sharedMemPerBlockOptin, pl);
}
}  // namespace

bool sdpa_supported(const OpCall& c) {
  SdpaPlan pl;
  return plan_for(c, &pl);
}

void launch_sdpa(OpCall& c) {
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &O = c.out[0];
  const SdpaProblem p = sdpa_problem(Q, K, V, c.p<SdpaParams>());
  SdpaPlan pl;
  ENGRAM_CHECK(plan_for(c, &pl), UNSUPPORTED, "sdpa: head dims D=", p.D, ", Dv=", p.Dv,
               " need more shared memory than this GPU has");
  const int64_t tasks = sdpa_tasks(p, pl.bq);
  const unsigned grid = (unsigned)(tasks < 65535LL * 32 ? tasks : 65535LL * 32);
  dispatch_float(Q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (pl.bytes() > kStaticSmem)
      ENGRAM_CUDA_CHECK(
          cudaFuncSetAttribute(sdpa_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)pl.bytes()));
    sdpa_kernel<T><<<grid, kSdpaThreads, pl.bytes(), stream()>>>(static_cast<const T*>(Q.raw()),
                                                                 static_cast<const T*>(K.raw()),
                                                                 static_cast<const T*>(V.raw()),
                                                                 static_cast<T*>(O.raw()), p, pl);
  });
  ENGRAM_CUDA_LAUNCHED("sdpa kernel");
}

}  // namespace cuda
}  // namespace engram
