// causalConv1d on the CPU. Channels are the contiguous axis of [B, T, C], so
// the fast kernel runs over (batch, block of time steps) tasks and vectorises
// over channels with the taps transposed to [K, C] in f32.
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "engram/hd_math.h"
#include "engram/params_model.h"

namespace engram {
namespace cpu {

namespace {
inline float conv_act(ConvActivation a, float x) { return a == ConvActivation::SILU ? hd_silu(x) : x; }
}  // namespace

void cpu_causal_conv1d(OpCall& c) {
  const Tensor X = as_f32_contiguous(c.in[0]);
  const Tensor& W = c.in[1];
  const Tensor& O = c.out[0];
  const ConvActivation act = c.p<CausalConv1dParams>().activation;
  const int64_t B = X.size(0), T = X.size(1), C = X.size(2), K = W.size(1);
  std::vector<float> wt((size_t)(K * C)), bias((size_t)C, 0.0f);
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t j = 0; j < K; ++j) wt[(size_t)(j * C + ch)] = read_f32(W, ch * W.stride(0) + j * W.stride(1));
  if (c.has_input(2))
    for (int64_t ch = 0; ch < C; ++ch) bias[(size_t)ch] = read_f32(c.in[2], ch * c.in[2].stride(0));
  Tensor S;
  if (c.has_input(3)) S = as_f32_contiguous(c.in[3]);
  const float* x = X.data<float>();
  const float* s = S.defined() ? S.data<float>() : nullptr;
  Tensor acc = O.dtype() == DType::F32 ? O : Tensor::empty(O.shape(), DType::F32);
  float* y = acc.data<float>();
  const int64_t tb = 16;  // time steps per task
  const int64_t nblk = (T + tb - 1) / tb;
  parallel_for(B * nblk, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t task = b0; task < b1; ++task) {
      const int64_t b = task / nblk, t0 = (task % nblk) * tb, t1 = std::min(T, t0 + tb);
      for (int64_t t = t0; t < t1; ++t) {
        float* yr = y + (b * T + t) * C;
        for (int64_t ch = 0; ch < C; ++ch) yr[ch] = bias[(size_t)ch];
        for (int64_t j = 0; j < K; ++j) {
          const int64_t src = t - (K - 1) + j;  // time index read by tap j
          const float* xr;
          if (src >= 0) xr = x + (b * T + src) * C;
          else if (s) xr = s + (b * (K - 1) + (K - 1) + src) * C;
          else continue;
          const float* wr = wt.data() + j * C;
          for (int64_t ch = 0; ch < C; ++ch) yr[ch] += wr[ch] * xr[ch];
        }
        if (act != ConvActivation::NONE)
          for (int64_t ch = 0; ch < C; ++ch) yr[ch] = conv_act(act, yr[ch]);
      }
    }
  });
  if (O.dtype() != DType::F32) store_f32_into(acc, O);
}

void ref_causal_conv1d(OpCall& c) {
  const Tensor &X = c.in[0], &W = c.in[1], &O = c.out[0];
  const ConvActivation act = c.p<CausalConv1dParams>().activation;
  const int64_t B = X.size(0), T = X.size(1), C = X.size(2), K = W.size(1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t ch = 0; ch < C; ++ch) {
        double acc = c.has_input(2) ? read_f32(c.in[2], ch * c.in[2].stride(0)) : 0.0;
        for (int64_t j = 0; j < K; ++j) {
          const int64_t src = t - (K - 1) + j;
          double xv = 0;
          if (src >= 0) {
            xv = read_f32(X, b * X.stride(0) + src * X.stride(1) + ch * X.stride(2));
          } else if (c.has_input(3)) {
            const Tensor& S = c.in[3];
            xv = read_f32(S, b * S.stride(0) + (K - 1 + src) * S.stride(1) + ch * S.stride(2));
          }
          acc += (double)read_f32(W, ch * W.stride(0) + j * W.stride(1)) * xv;
        }
        write_f32(O, (b * T + t) * C + ch, conv_act(act, (float)acc));
      }
}

}  // namespace cpu
}  // namespace engram
