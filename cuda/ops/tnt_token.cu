// TNT token loop on the GPU: one block per (batch, head) running every module
// token by token (ref_tnt in f32) on the packed state itself. It runs the
// configurations the fused linear kernels of tnt.cu do not: MLP memories and
// the 'sequence' projection (simulated devices stay a CPU feature). The loop
// body is cuda/hd/tnt_token_body.h, shared with a CPU block emulation that
// the parity cuda-emu pass checks against ref_tnt; this file is the launch shell.
// Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity harness's TNT MLP
// cases cover it wherever one is present).
#include "../hd/memory_args.h"
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kTntTokThreads = 256;
static_assert(kTntTokMods >= 1 + kTntMaxLocals, "a global and every local");

__global__ void __launch_bounds__(kTntTokThreads) tnt_token_kernel(TntTokArgs a, int dh_max) {
  extern __shared__ __align__(16) float sm[];
  tnt_token_block(a, (int)blockIdx.x, sm, dh_max, BlockExec{});
}

int max_hidden(const TntParams& p) {
  int64_t m = 0;
  for (const TntModule& md : p.mods) m = std::max(m, md.hidden);
  return (int)m;
}

}  // namespace

bool tnt_token_cuda_ok(const OpCall& c) {
  const TntParams& p = c.p<TntParams>();
  if (p.devices > 0 || (int)p.mods.size() > kTntTokMods) return false;
  const int64_t dk = c.in[0].size(3), dv = c.in[2].size(3), dh = max_hidden(p);
  if (dk > 4096 || dv > 4096 || dh > 65536 || c.in[0].size(1) > ((int64_t)1 << 30)) return false;
  return smem_fits((const void*)tnt_token_kernel,
                   (size_t)tnt_token_smem_floats((int)dk, (int)dv, (int)dh) * sizeof(float));
}

void tnt_token_cuda(OpCall& c) {
  const TntParams& p = c.p<TntParams>();
  Tensor keep;
  int dh_max = 0;
  TntTokArgs a = tnt_token_args(c, &keep, &dh_max);
  const TntLayout L = tnt_layout(p, a.B, a.H, a.dk, a.dv);
  Tensor ws;
  if (c.out[1].numel()) {
    a.st = c.out[1].data<float>();
  } else {
    ws = Tensor::empty(Dims{L.total}, DType::F32, DeviceType::CUDA);
    a.st = ws.data<float>();
  }
  const int BH = a.B * a.H;
  if (BH > 0) {
    const size_t bytes = (size_t)tnt_token_smem_floats(a.dk, a.dv, dh_max) * sizeof(float);
    ENGRAM_CHECK(smem_fits((const void*)tnt_token_kernel, bytes), UNSUPPORTED,
                 "tnt: the token vectors do not fit in shared memory on this GPU");
    tnt_token_kernel<<<BH, kTntTokThreads, bytes, stream()>>>(a, dh_max);
    ENGRAM_CUDA_LAUNCHED("tnt_token_kernel");
  }
  if (c.out[1].numel()) write_tnt_header(a.st, a.pos0 + a.T, (int64_t)p.mods.size(), L.total);
}

}  // namespace cuda
}  // namespace engram
