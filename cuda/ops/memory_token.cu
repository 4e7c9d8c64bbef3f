// Token-loop kernels of titansLinear and gatedDeltaRule: one block per
// (batch, head), a thread per value channel (each channel's state evolves on
// its own), the state in a global workspace. They run mode 'recurrent' and
// any shape the fused chunk kernels (titans.cu, gated_delta_rule.cu) cannot
// hold in shared memory — the same function either way. The loop bodies are
// cuda/hd/memory_token_body.h, shared with a CPU block emulation that
// build/test_cuda_math and the parity cuda-emu pass check against the references; this file is the
// launch shell. Compiled for sm_80/sm_90; NOT yet run on a GPU (the parity
// harness's recurrent cases cover it wherever one is present).
#include "../hd/memory_args.h"
#include "memory.cuh"

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
  LinTokArgs a = titans_linear_token_args(c);
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
  write_offset(c.out[4], (a.offset + (int64_t)a.T) % a.C);
}

void gated_delta_rule_token_cuda(OpCall& c) {
  GdnTokArgs a = gdn_token_args(c);
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
