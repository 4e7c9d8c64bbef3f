// causalConv1d on CUDA: one thread per output element [b, t, c]; taps read
// x (or the carried state for t - (K-1) + j < 0) through strided indexing.
#include "../common.cuh"
#include "../kernels.cuh"
#include "engram/hd_math.h"
#include "engram/params_model.h"

namespace engram {
namespace cuda {

namespace {
struct ConvArgs {
  const void *x, *w, *bias, *state;
  DType xt, wt, bt, st;
  int64_t xs[3], ws[2], bs, ss[3];
  int64_t B, T, C, K;
  ConvActivation act;
  void* out;
  DType ot;
};

__global__ void conv_kernel(ConvArgs a) {
  const int64_t n = a.B * a.T * a.C;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ch = i % a.C, t = (i / a.C) % a.T, b = i / (a.C * a.T);
    float acc = a.bias ? load_f32(a.bias, ch * a.bs, a.bt) : 0.0f;
    for (int64_t j = 0; j < a.K; ++j) {
      const int64_t src = t - (a.K - 1) + j;
      float xv = 0.0f;
      if (src >= 0) xv = load_f32(a.x, b * a.xs[0] + src * a.xs[1] + ch * a.xs[2], a.xt);
      else if (a.state) xv = load_f32(a.state, b * a.ss[0] + (a.K - 1 + src) * a.ss[1] + ch * a.ss[2], a.st);
      acc += load_f32(a.w, ch * a.ws[0] + j * a.ws[1], a.wt) * xv;
    }
    if (a.act == ConvActivation::SILU) acc = hd_silu(acc);
    store_f32(a.out, i, a.ot, acc);
  }
}
}  // namespace

void launch_causal_conv1d(OpCall& c) {
  const Tensor &X = c.in[0], &W = c.in[1], &O = c.out[0];
  ConvArgs a{};
  a.x = X.raw();
  a.xt = X.dtype();
  for (int d = 0; d < 3; ++d) a.xs[d] = X.stride(d);
  a.w = W.raw();
  a.wt = W.dtype();
  a.ws[0] = W.stride(0);
  a.ws[1] = W.stride(1);
  a.bias = c.has_input(2) ? c.in[2].raw() : nullptr;
  a.bt = c.has_input(2) ? c.in[2].dtype() : DType::F32;
  a.bs = c.has_input(2) ? c.in[2].stride(0) : 0;
  a.state = c.has_input(3) ? c.in[3].raw() : nullptr;
  a.st = c.has_input(3) ? c.in[3].dtype() : DType::F32;
  for (int d = 0; d < 3; ++d) a.ss[d] = c.has_input(3) ? c.in[3].stride(d) : 0;
  a.B = X.size(0);
  a.T = X.size(1);
  a.C = X.size(2);
  a.K = W.size(1);
  a.act = c.p<CausalConv1dParams>().activation;
  a.out = O.raw();
  a.ot = O.dtype();
  conv_kernel<<<grid_for(O.numel(), 256), 256, 0, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("causalConv1d");
}

}  // namespace cuda
}  // namespace engram
