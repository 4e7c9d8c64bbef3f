// CUDA attention from packed KV codes (compiled for sm_80/sm_90; not run on
// the development machine, which has no GPU — test_kvcache's CUDA parity
// case runs it wherever a GPU is present).
//
// kv_partial: one block of 4 warps per (KV head, query, chunk of tokens;
// one chunk per pair when there are enough pairs to fill the GPU).
// Each warp walks every 4th token of the chunk: the score is a warp-parallel
// dot of the transformed query with the record's transformed-space row
// (tile_elem from native/quant/quant_hd.h, the same code the CPU references
// run) or, for window tokens, with the f32 row; an online softmax keeps the
// warp's running max/sum, and the value row is accumulated in shared memory
// (t-space for encoded values, original space for window rows). The four
// warps are merged into one partial per chunk.
// kv_combine: one block per (KV head, query): merges the chunk partials and
// applies A_vᵀ once (out = A_vᵀ acc_t / l + acc_w / l).
#include <cuda_runtime.h>

#include <cfloat>

#include "../common.cuh"
#include "engram/error.h"
#include "../../native/quant/quant_cuda.h"

namespace engram {
namespace quant {

namespace {

constexpr int kWarps = 4;
constexpr int64_t kMinChunk = 256;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The block holding token t (t < nq) of head h, and the token's index inside it.
__device__ __forceinline__ const uint8_t* token_block(const CudaStreamView& s, int64_t P, int h, int64_t t, int* tok) {
  const int64_t p = t / P, r = t - p * P;
  *tok = (int)(r % s.desc.block_tokens);
  return s.pages[p] + h * s.head_bytes + (r / s.desc.block_tokens) * s.desc.block_bytes;
}

__global__ void kv_partial(CudaAttendArgs a, int64_t chunk, int64_t nchunks, float* part) {
  extern __shared__ float smem[];
  const int h = blockIdx.z;
  const int64_t m = blockIdx.y, c = blockIdx.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int D = a.dim, tK = a.k.desc.t_dim, tV = a.v.desc.t_dim;
  const int64_t M = a.tq * a.group;
  const int64_t stride = 2 + tV + D;
  float* accT = smem + warp * (tV + D);
  float* accW = accT + tV;
  float* wstat = smem + kWarps * (tV + D);  // [kWarps][2]: max, sum
  for (int e = lane; e < tV + D; e += 32) accT[e] = 0.0f;

  const float* qt = a.qt + (h * M + m) * tK;
  const float* qs = a.qs + (h * M + m) * D;
  const int64_t lim = a.causal ? a.n - a.tq + m / a.group + 1 : a.n;
  const int64_t c0 = c * chunk, c1 = min(min(a.n, c0 + chunk), lim);
  float mrun = -FLT_MAX, lrun = 0.0f;
  bool any = false;
  for (int64_t t = c0 + warp; t < c1; t += kWarps) {
    float s = 0.0f;
    if (t < a.k.nq) {
      int tok;
      const uint8_t* blk = token_block(a.k, a.page_tokens, h, t, &tok);
      for (int e = lane; e < tK; e += 32) s += qt[e] * tile_elem(a.k.desc, blk, tok, e);
    } else {
      const float* row = a.k.ring + ((int64_t)h * a.k.wcap + t % a.k.wcap) * D;
      for (int e = lane; e < D; e += 32) s += qs[e] * row[e];
    }
    s = warp_sum(s);
    const float newm = fmaxf(mrun, s);
    const float alpha = any ? __expf(mrun - newm) : 0.0f;
    const float p = __expf(s - newm);
    lrun = lrun * alpha + p;
    mrun = newm;
    any = true;
    if (t < a.v.nq) {
      int tok;
      const uint8_t* blk = token_block(a.v, a.page_tokens, h, t, &tok);
      for (int e = lane; e < tV; e += 32) accT[e] = accT[e] * alpha + p * tile_elem(a.v.desc, blk, tok, e);
      for (int e = lane; e < D; e += 32) accW[e] *= alpha;
    } else {
      const float* row = a.v.ring + ((int64_t)h * a.v.wcap + t % a.v.wcap) * D;
      for (int e = lane; e < tV; e += 32) accT[e] *= alpha;
      for (int e = lane; e < D; e += 32) accW[e] = accW[e] * alpha + p * row[e];
    }
    __syncwarp();
  }
  if (lane == 0) {
    wstat[2 * warp] = any ? mrun : -FLT_MAX;
    wstat[2 * warp + 1] = any ? lrun : 0.0f;
  }
  __syncthreads();
  float bm = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) bm = fmaxf(bm, wstat[2 * w]);
  float* out = part + ((h * M + m) * nchunks + c) * stride;
  float l = 0.0f, wscale[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    wscale[w] = wstat[2 * w + 1] > 0.0f ? __expf(wstat[2 * w] - bm) : 0.0f;
    l += wscale[w] * wstat[2 * w + 1];
  }
  if (threadIdx.x == 0) {
    out[0] = l > 0.0f ? bm : -FLT_MAX;
    out[1] = l;
  }
  for (int e = threadIdx.x; e < tV + D; e += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += wscale[w] * smem[w * (tV + D) + e];
    out[2 + e] = v;
  }
}

__global__ void kv_combine(CudaAttendArgs a, int64_t nchunks, const float* part) {
  extern __shared__ float acc[];  // [tV + D]
  const int h = blockIdx.y;
  const int64_t m = blockIdx.x;
  const int D = a.dim, tV = a.v.desc.t_dim;
  const int64_t M = a.tq * a.group, stride = 2 + tV + D;
  const float* pm = part + (h * M + m) * nchunks * stride;
  float mx = -FLT_MAX;
  for (int64_t c = 0; c < nchunks; ++c) mx = fmaxf(mx, pm[c * stride]);
  float l = 0.0f;
  for (int64_t c = 0; c < nchunks; ++c)
    if (pm[c * stride + 1] > 0.0f) l += __expf(pm[c * stride] - mx) * pm[c * stride + 1];
  const float inv = 1.0f / l;
  for (int e = threadIdx.x; e < tV + D; e += blockDim.x) {
    float v = 0.0f;
    for (int64_t c = 0; c < nchunks; ++c)
      if (pm[c * stride + 1] > 0.0f) v += __expf(pm[c * stride] - mx) * pm[c * stride + 2 + e];
    acc[e] = v * inv;
  }
  __syncthreads();
  const float* A = a.av + (a.av_tables > 1 ? (int64_t)h * tV * D : 0);
  const int64_t i = m / a.group, hq = (int64_t)h * a.group + m % a.group;
  float* o = a.out + (i * a.heads * a.group + hq) * D;
  for (int e = threadIdx.x; e < D; e += blockDim.x) {
    float v = acc[tV + e];
    for (int t = 0; t < tV; ++t) v += A[(int64_t)t * D + e] * acc[t];
    o[e] = v;
  }
}

}  // namespace

void cuda_kv_attend(const CudaAttendArgs& a) {
  const int tV = a.v.desc.t_dim, D = a.dim;
  const int64_t M = a.tq * a.group;
  // Split the tokens only when (head, query) pairs alone cannot fill the GPU.
  const int64_t chunk = a.heads * M >= 512 ? a.n : kMinChunk, nchunks = (a.n + chunk - 1) / chunk;
  const size_t smem1 = sizeof(float) * ((size_t)kWarps * (tV + D) + 2 * kWarps);
  const size_t smem2 = sizeof(float) * (size_t)(tV + D);
  ENGRAM_CHECK(smem1 <= 96 * 1024, UNSUPPORTED, "KVCache (cuda): transformed value dimension ", tV,
               " is too large for the attention kernel's shared memory");
  ENGRAM_CHECK(M <= 65535 && a.heads <= 65535, UNSUPPORTED, "KVCache (cuda): too many queries (", M, ") for one launch");
  ENGRAM_CUDA_CHECK(cudaFuncSetAttribute(kv_partial, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem1));
  ENGRAM_CUDA_CHECK(cudaFuncSetAttribute(kv_combine, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem2));
  float* part = nullptr;
  const size_t pbytes = sizeof(float) * (size_t)(a.heads * M * nchunks * (2 + tV + D));
  ENGRAM_CUDA_CHECK(cudaMallocAsync(&part, pbytes, cuda::stream()));
  dim3 g1((unsigned)nchunks, (unsigned)M, (unsigned)a.heads);
  kv_partial<<<g1, 32 * kWarps, smem1, cuda::stream()>>>(a, chunk, nchunks, part);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    dim3 g2((unsigned)M, (unsigned)a.heads);
    kv_combine<<<g2, 128, smem2, cuda::stream()>>>(a, nchunks, part);
    e = cudaGetLastError();
  }
  cudaFreeAsync(part, cuda::stream());
  ENGRAM_CUDA_CHECK(e);
  ENGRAM_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

}  // namespace quant
}  // namespace engram
