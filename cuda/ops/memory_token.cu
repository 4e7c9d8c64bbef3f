// Token-loop kernels of titansLinear and gatedDeltaRule: one block per
// (batch, head), a thread per value channel (each channel's state evolves on
// its own), the state in a global workspace. They run mode 'recurrent' and
// any shape the fused chunk kernels (titans.cu, gated_delta_rule.cu) cannot
// hold in shared memory — the same function either way. The loop bodies are
// cuda/hd/memory_token_body.h, shared with a CPU block emulation that
// build/test_cuda_math checks against the references; this file is the
// launch shell. Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity
// harness's recurrent cases cover it wherever one is present).
#include <cmath>

#include "../hd/memory_token_body.h"
#include "memory.cuh"
#include "../../native/core/ops/memory_common.h"  // mem::read_offset

namespace engram {
namespace cuda {

namespace {

constexpr int kTokThreads = 128;

__global__ void __launch_bounds__(kTokThreads) titans_linear_token_kernel(LinTokArgs a) {
  extern __shared__ __align__(16) float sm[];
  titans_linear_token_block(a, (int)blockIdx.x, sm, BlockExec{});
}

__global__ void __launch_bounds__(kTokThreads) gdn_token_kernel(GdnTokArgs a) {
  extern __shared__ __align__(16) float sm[];
  gdn_token_block(a, (int)blockIdx.x, sm, BlockExec{});
}

__global__ void token_set_offset_kernel(int32_t* p, int32_t v) { *p = v; }

bool dims_ok(const OpCall& c) {
  return c.in[0].size(3) <= 65536 && c.in[2].size(3) <= 65536 && c.in[0].size(1) <= ((int64_t)1 << 30);
}

}  // namespace

bool titans_linear_token_cuda_ok(const OpCall& c) {
  return dims_ok(c) && smem_fits((const void*)titans_linear_token_kernel,
                                 (size_t)lin_token_smem_floats((int)c.in[0].size(3)) * sizeof(float));
}

bool gated_delta_rule_token_cuda_ok(const OpCall& c) {
  return dims_ok(c) &&
         smem_fits((const void*)gdn_token_kernel, (size_t)gdn_token_smem_floats((int)c.in[0].size(3)) * sizeof(float));
}

void titans_linear_token_cuda(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  LinTokArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.theta = mlp_seq_view(c.in[3]);
  a.alpha = mlp_seq_view(c.input(4));
  a.eta = mlp_seq_view(c.input(5));
  a.M0 = mlp_state_view(c.input(6));
  a.S0 = mlp_state_view(c.input(7));
  a.A0 = mlp_state_view(c.input(8));
  a.Mf = mlp_state_view(c.out[1]);
  a.Sf = mlp_state_view(c.out[2]);
  a.Af = mlp_state_view(c.out[3]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.C = (int)p.chunk;
  a.mom = p.momentum;
  a.decay = p.decay;
  a.offset = (int)mem::read_offset("titansLinear", c.input(9), p.chunk);
  const int BH = a.B * a.H;
  if (BH > 0) {
    Tensor ws = Tensor::empty(Dims{(int64_t)BH * 3 * a.dk * a.dv}, DType::F32, DeviceType::CUDA);
    a.ws = ws.data<float>();
    const size_t bytes = (size_t)lin_token_smem_floats(a.dk) * sizeof(float);
    ENGRAM_CHECK(smem_fits((const void*)titans_linear_token_kernel, bytes), UNSUPPORTED,
                 "titansLinear: the token vectors do not fit in shared memory on this GPU");
    titans_linear_token_kernel<<<BH, kTokThreads, bytes, stream()>>>(a);
    ENGRAM_CUDA_LAUNCHED("titans_linear_token_kernel");
  }
  if (c.out[4].numel()) {
    token_set_offset_kernel<<<1, 1, 0, stream()>>>(c.out[4].data<int32_t>(), (int32_t)((a.offset + (int64_t)a.T) % a.C));
    ENGRAM_CUDA_LAUNCHED("token_set_offset_kernel");
  }
}

void gated_delta_rule_token_cuda(OpCall& c) {
  const GdnParams& p = c.p<GdnParams>();
  GdnTokArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.g = mlp_seq_view(c.in[3]);
  a.beta = mlp_seq_view(c.in[4]);
  a.S0 = mlp_state_view(c.input(5));
  a.Sf = mlp_state_view(c.out[1]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.scale = p.scale > 0 ? p.scale : 1.0f / std::sqrt((float)a.dk);
  const int BH = a.B * a.H;
  if (BH == 0) return;
  Tensor ws = Tensor::empty(Dims{(int64_t)BH * a.dk * a.dv}, DType::F32, DeviceType::CUDA);
  a.ws = ws.data<float>();
  const size_t bytes = (size_t)gdn_token_smem_floats(a.dk) * sizeof(float);
  ENGRAM_CHECK(smem_fits((const void*)gdn_token_kernel, bytes), UNSUPPORTED,
               "gatedDeltaRule: the token vectors do not fit in shared memory on this GPU");
  gdn_token_kernel<<<BH, kTokThreads, bytes, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("gdn_token_kernel");
}

}  // namespace cuda
}  // namespace engram
