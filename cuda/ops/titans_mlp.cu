// titansMlp on the GPU: one block per (batch, head) walking the tokens in
// order — the stale-anchor token loop of ref_titans_mlp in f32, which is the
// function the CPU's chunk dual form computes for every chunk size. The loop
// body is cuda/hd/titans_mlp_body.h, shared with a CPU block emulation that
// build/test_cuda_math and the parity harness's cuda-emu pass check against
// the reference; this file is the launch
// shell (executor: __syncthreads, warp-per-row dot products). Per token,
// O(d dh) work spread over the block; the memories, momenta and anchors live
// in a global workspace (6 d dh floats per head, L2-resident at the usual
// sizes), token vectors in shared memory.
// Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity harness covers it
// wherever one is present).
#include "../hd/memory_args.h"
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kMlpThreads = 256;

__global__ void __launch_bounds__(kMlpThreads) titans_mlp_kernel(TitansMlpArgs a) {
  extern __shared__ __align__(16) float sm[];
  titans_mlp_block(a, (int)blockIdx.x, sm, BlockExec{});
}

size_t smem_bytes(int d, int dh) { return (size_t)titans_mlp_smem_floats(d, dh) * sizeof(float); }

}  // namespace

bool titans_mlp_cuda_ok(const OpCall& c) {
  const int64_t d = c.in[0].size(3), dh = titans_hidden(c);
  if (d > 4096 || dh > 65536 || c.in[0].size(1) > ((int64_t)1 << 30)) return false;
  return smem_fits((const void*)titans_mlp_kernel, smem_bytes((int)d, (int)dh));
}

void titans_mlp_cuda(OpCall& c) {
  TitansMlpArgs a = titans_mlp_args(c);
  const int BH = a.B * a.H;
  if (BH > 0) {
    const int64_t per = (int64_t)6 * a.d * a.dh;
    Tensor ws = Tensor::empty(Dims{(int64_t)BH * per}, DType::F32, DeviceType::CUDA);
    a.ws = ws.data<float>();
    const size_t bytes = smem_bytes(a.d, a.dh);
    ENGRAM_CHECK(smem_fits((const void*)titans_mlp_kernel, bytes), UNSUPPORTED,
                 "titansMlp: the token vectors do not fit in shared memory on this GPU");
    titans_mlp_kernel<<<BH, kMlpThreads, bytes, stream()>>>(a);
    ENGRAM_CUDA_LAUNCHED("titans_mlp_kernel");
  }
  write_offset(c.out[7], (a.offset + (int64_t)a.T) % a.C);
}

}  // namespace cuda
}  // namespace engram
