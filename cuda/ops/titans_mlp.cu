// titansMlp on the GPU: one block per (batch, head) walking the tokens in
// order — the stale-anchor token loop of ref_titans_mlp in f32, which is the
// function the CPU's chunk dual form computes for every chunk size. The loop
// body is cuda/hd/titans_mlp_body.h, shared with a CPU replay that
// build/test_cuda_math checks against the reference; this file is the launch
// shell (executor: __syncthreads, warp-per-row dot products). Per token,
// O(d dh) work spread over the block; the memories, momenta and anchors live
// in a global workspace (6 d dh floats per head, L2-resident at the usual
// sizes), token vectors in shared memory.
// Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity harness covers it
// wherever one is present).
#include "../hd/titans_mlp_body.h"
#include "memory.cuh"
#include "../../native/core/ops/memory_common.h"  // mem::read_offset

namespace engram {

int64_t titans_hidden(const OpCall& c);  // native/core/ops/titans.cpp

namespace cuda {

namespace {

constexpr int kMlpThreads = 256;


__global__ void __launch_bounds__(kMlpThreads) titans_mlp_kernel(TitansMlpArgs a) {
  extern __shared__ __align__(16) float sm[];
  titans_mlp_block(a, (int)blockIdx.x, sm, BlockExec{});
}

__global__ void mlp_set_offset_kernel(int32_t* p, int32_t v) { *p = v; }

size_t smem_bytes(int d, int dh) { return (size_t)titans_mlp_smem_floats(d, dh) * sizeof(float); }

}  // namespace

MlpSeq mlp_seq_view(const Tensor& t) {
  if (!t.defined()) return MlpSeq{nullptr, DType::F32, 0, 0, 0, 0};
  return MlpSeq{t.raw(), t.dtype(), t.stride(0), t.stride(1), t.stride(2), t.ndim() == 4 ? t.stride(3) : 0};
}
MlpState mlp_state_view(const Tensor& s) {
  if (!s.defined() || s.numel() == 0) return MlpState{nullptr, 0, 0, 0, 0};
  const int nd = s.ndim();
  if (nd == 2) return MlpState{s.data<float>(), 0, s.stride(0), s.stride(1), 0};  // [H, D] head parameters
  return MlpState{s.data<float>(), s.size(0) == 1 ? 0 : s.stride(0), s.stride(1), s.stride(2), nd > 3 ? s.stride(3) : 0};
}

bool titans_mlp_cuda_ok(const OpCall& c) {
  const int64_t d = c.in[0].size(3), dh = titans_hidden(c);
  if (d > 4096 || dh > 65536 || c.in[0].size(1) > ((int64_t)1 << 30)) return false;
  return smem_fits((const void*)titans_mlp_kernel, smem_bytes((int)d, (int)dh));
}

void titans_mlp_cuda(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  TitansMlpArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.theta = mlp_seq_view(c.in[3]);
  a.alpha = mlp_seq_view(c.input(4));
  a.eta = mlp_seq_view(c.input(5));
  a.W1_0 = mlp_state_view(c.input(6));
  a.W2_0 = mlp_state_view(c.input(7));
  a.S1_0 = mlp_state_view(c.input(8));
  a.S2_0 = mlp_state_view(c.input(9));
  a.A1_0 = mlp_state_view(c.input(10));
  a.A2_0 = mlp_state_view(c.input(11));
  a.W1f = mlp_state_view(c.out[1]);
  a.W2f = mlp_state_view(c.out[2]);
  a.S1f = mlp_state_view(c.out[3]);
  a.S2f = mlp_state_view(c.out[4]);
  a.A1f = mlp_state_view(c.out[5]);
  a.A2f = mlp_state_view(c.out[6]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.d = (int)c.in[0].size(3);
  a.dh = (int)titans_hidden(c);
  a.C = (int)p.chunk;
  a.mom = p.momentum;
  a.decay = p.decay;
  a.act = p.act;
  a.offset = (int)mem::read_offset("titansMlp", c.input(12), p.chunk);
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
  if (c.out[7].numel()) {
    mlp_set_offset_kernel<<<1, 1, 0, stream()>>>(c.out[7].data<int32_t>(), (int32_t)((a.offset + (int64_t)a.T) % a.C));
    ENGRAM_CUDA_LAUNCHED("mlp_set_offset_kernel");
  }
}

}  // namespace cuda
}  // namespace engram
