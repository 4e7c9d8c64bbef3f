// Sliding-window causal attention on CUDA: one warp per (b, t, h) query row.
// Lanes split the head dim for the q.k dot product (shuffle reduction) and
// own Dv/32 output channels each; an online softmax walks the row's window.
// Head dims up to 256 (kMaxPer * 32); larger ones report unsupported.
#include "../common.cuh"
#include "../kernels.cuh"
#include "engram/params_model.h"

namespace engram {
namespace cuda {

namespace {
constexpr int kMaxPer = 8;  // output channels per lane: Dv <= 256

struct WinArgs {
  const void *q, *k, *v;
  DType dt;
  int64_t qs[4], ks[4], vs[4];
  int64_t B, T, H, D, S, Hkv, Dv, window;
  float scale;
  void* out;
};

__global__ void sdpa_window_kernel(WinArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t rows = a.B * a.T * a.H, nwarps = (int64_t)gridDim.x * blockDim.x / 32;
  for (int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32; warp < rows; warp += nwarps) {
  const int64_t h = warp % a.H, t = (warp / a.H) % a.T, b = warp / (a.H * a.T);
  const int64_t hk = h / (a.H / a.Hkv), pos = t + a.S - a.T, lo = window_lo(pos, a.window);
  float acc[kMaxPer];
  for (int i = 0; i < kMaxPer; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  const int64_t qb = b * a.qs[0] + t * a.qs[1] + h * a.qs[2];
  for (int64_t s = lo; s <= pos; ++s) {
    const int64_t kb = b * a.ks[0] + s * a.ks[1] + hk * a.ks[2];
    float dot = 0.0f;
    for (int64_t d = lane; d < a.D; d += 32) dot += load_f32(a.q, qb + d * a.qs[3], a.dt) * load_f32(a.k, kb + d * a.ks[3], a.dt);
    for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    const float sc = dot * a.scale, mx = fmaxf(m, sc), corr = __expf(m - mx), w = __expf(sc - mx);
    l = l * corr + w;
    m = mx;
    const int64_t vb = b * a.vs[0] + s * a.vs[1] + hk * a.vs[2];
    for (int i = 0; i < kMaxPer; ++i) {
      const int64_t d = lane + 32 * (int64_t)i;
      if (d < a.Dv) acc[i] = acc[i] * corr + w * load_f32(a.v, vb + d * a.vs[3], a.dt);
    }
  }
  const int64_t ob = ((b * a.T + t) * a.H + h) * a.Dv;
  for (int i = 0; i < kMaxPer; ++i) {
    const int64_t d = lane + 32 * (int64_t)i;
    if (d < a.Dv) store_f32(a.out, ob + d, a.dt, acc[i] / l);
  }
  }
}
}  // namespace

bool sdpa_window_supported(const OpCall& c) { return c.in[2].size(3) <= 32 * kMaxPer; }

void launch_sdpa_window(OpCall& c) {
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &O = c.out[0];
  const SdpaWindowParams& p = c.p<SdpaWindowParams>();
  WinArgs a{};
  a.q = Q.raw();
  a.k = K.raw();
  a.v = V.raw();
  a.dt = Q.dtype();
  for (int d = 0; d < 4; ++d) {
    a.qs[d] = Q.stride(d);
    a.ks[d] = K.stride(d);
    a.vs[d] = V.stride(d);
  }
  a.B = Q.size(0);
  a.T = Q.size(1);
  a.H = Q.size(2);
  a.D = Q.size(3);
  a.S = K.size(1);
  a.Hkv = K.size(2);
  a.Dv = V.size(3);
  a.window = p.window;
  a.scale = p.scale > 0 ? p.scale : 1.0f / std::sqrt((float)a.D);
  a.out = O.raw();
  const int64_t threads = a.B * a.T * a.H * 32;
  if (threads == 0) return;
  sdpa_window_kernel<<<grid_for(threads, 256), 256, 0, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("sdpaWindow");
}

}  // namespace cuda
}  // namespace engram
