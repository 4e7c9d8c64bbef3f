// tttMlp on the GPU: one block per (batch, head) walking the tokens in order —
// the primal mini-batch form of ref_ttt_mlp in f32 (per token the gradient at
// the mini-batch anchors, W_t = A - c_t G read on the fly), which is the
// function the CPU's dual form computes. The loop body is
// cuda/hd/ttt_mlp_body.h, shared with a CPU block emulation that
// build/test_cuda_math checks against the reference; this file is the launch
// shell. Anchors and gradient sums live in a global workspace
// (2 (dk dh + dh dv + dh + dv) floats per head), token vectors in shared memory.
// Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity harness covers it
// wherever one is present).
#include "../hd/ttt_mlp_body.h"
#include "memory.cuh"

namespace engram {

int64_t ttt_hidden(const OpCall& c);  // native/core/ops/ttt.cpp

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
  const TttParams& p = c.p<TttParams>();
  TttMlpArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.eta = mlp_seq_view(c.in[3]);
  a.gamma = mlp_state_view(c.input(4));
  a.beta = mlp_state_view(c.input(5));
  a.W1_0 = mlp_state_view(c.input(6));
  a.b1_0 = mlp_state_view(c.input(7));
  a.W2_0 = mlp_state_view(c.input(8));
  a.b2_0 = mlp_state_view(c.input(9));
  a.W1f = mlp_state_view(c.out[1]);
  a.b1f = mlp_state_view(c.out[2]);
  a.W2f = mlp_state_view(c.out[3]);
  a.b2f = mlp_state_view(c.out[4]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.dh = (int)ttt_hidden(c);
  a.C = (int)p.chunk;
  a.layer_norm = p.layer_norm;
  a.residual = p.residual;
  a.bias = p.bias;
  a.token_idx = p.token_idx;
  a.eps = p.eps;
  a.act = p.act;
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
