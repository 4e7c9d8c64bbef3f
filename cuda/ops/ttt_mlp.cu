// tttMlp on the GPU: one block per (batch, head) walking the tokens in order —
// the primal mini-batch form of ref_ttt_mlp in f32 (per token the gradient at
// the mini-batch anchors, W_t = A - c_t G read on the fly), which is the
// function the CPU's dual form computes. The loop body is
// cuda/hd/ttt_mlp_body.h, shared with a CPU block emulation that
// build/test_cuda_math and the parity harness's cuda-emu pass check against
// the reference; this file is the launch
// shell. Anchors and gradient sums live in a global workspace
// (2 (dk dh + dh dv + dh + dv) floats per head), token vectors in shared memory.
// Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity harness covers it
// wherever one is present).
#include "../hd/memory_args.h"
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kTttMlpThreads = 256;

__global__ void __launch_bounds__(kTttMlpThreads) ttt_mlp_kernel(TttMlpArgs a) {
  extern __shared__ __align__(16) float sm[];
  ttt_mlp_block(a, (int)blockIdx.x, sm, BlockExec{});
}

size_t smem_bytes(int dk, int dv, int dh) { return (size_t)ttt_mlp_smem_floats(dk, dv, dh) * sizeof(float); }

}  // namespace

bool ttt_mlp_cuda_ok(const OpCall& c) {
  const int64_t dk = c.in[0].size(3), dv = c.in[2].size(3), dh = ttt_hidden(c);
  if (dk > 4096 || dv > 4096 || dh > 65536 || c.in[0].size(1) > ((int64_t)1 << 30)) return false;
  return smem_fits((const void*)ttt_mlp_kernel, smem_bytes((int)dk, (int)dv, (int)dh));
}

void ttt_mlp_cuda(OpCall& c) {
  TttMlpArgs a = ttt_mlp_args(c);
  const int BH = a.B * a.H;
  if (BH == 0) return;
  Tensor ws = Tensor::empty(Dims{(int64_t)BH * ttt_mlp_ws_floats(a.dk, a.dv, a.dh)}, DType::F32, DeviceType::CUDA);
  a.ws = ws.data<float>();
  const size_t bytes = smem_bytes(a.dk, a.dv, a.dh);
  ENGRAM_CHECK(smem_fits((const void*)ttt_mlp_kernel, bytes), UNSUPPORTED,
               "tttMlp: the token vectors do not fit in shared memory on this GPU");
  ttt_mlp_kernel<<<BH, kTttMlpThreads, bytes, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("ttt_mlp_kernel");
}

}  // namespace cuda
}  // namespace engram
