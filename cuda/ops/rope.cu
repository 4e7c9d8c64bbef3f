// rope on CUDA: one thread per rotated pair (or passed-through element) of
// [B, T, H, D]; angles in double (rope_angle), like the CPU kernels.
#include "../common.cuh"
#include "../kernels.cuh"
#include "engram/params_model.h"

namespace engram {
namespace cuda {

namespace {
struct RopeArgs {
  const void* x;
  DType xt;
  int64_t xs[4];
  const int32_t* pos;
  int pos_nd;
  int64_t ps[2];
  int64_t B, T, H, D, dims;
  double theta;
  void* out;
  DType ot;
};

__global__ void rope_kernel(RopeArgs a) {
  const int64_t half = a.dims / 2, per_row = half + (a.D - a.dims);  // work items per (b, t, h)
  const int64_t n = a.B * a.T * a.H * per_row;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t e = i % per_row, row = i / per_row;
    const int64_t h = row % a.H, t = (row / a.H) % a.T, b = row / (a.H * a.T);
    const int64_t xb = b * a.xs[0] + t * a.xs[1] + h * a.xs[2];
    const int64_t ob = row * a.D;
    if (e < half) {
      const int64_t p = a.pos_nd == 1 ? a.pos[t * a.ps[0]] : a.pos[b * a.ps[0] + t * a.ps[1]];
      const double ang = rope_angle(p, e, a.dims, a.theta);
      const float cs = (float)cos(ang), sn = (float)sin(ang);
      const float x0 = load_f32(a.x, xb + e * a.xs[3], a.xt), x1 = load_f32(a.x, xb + (e + half) * a.xs[3], a.xt);
      store_f32(a.out, ob + e, a.ot, x0 * cs - x1 * sn);
      store_f32(a.out, ob + e + half, a.ot, x1 * cs + x0 * sn);
    } else {
      const int64_t d = a.dims + (e - half);
      store_f32(a.out, ob + d, a.ot, load_f32(a.x, xb + d * a.xs[3], a.xt));
    }
  }
}
}  // namespace

void launch_rope(OpCall& c) {
  const Tensor &X = c.in[0], &P = c.in[1], &O = c.out[0];
  const RopeParams& p = c.p<RopeParams>();
  RopeArgs a{};
  a.x = X.raw();
  a.xt = X.dtype();
  for (int d = 0; d < 4; ++d) a.xs[d] = X.stride(d);
  a.pos = P.data<int32_t>();
  a.pos_nd = P.ndim();
  a.ps[0] = P.stride(0);
  a.ps[1] = P.ndim() > 1 ? P.stride(1) : 0;
  a.B = X.size(0);
  a.T = X.size(1);
  a.H = X.size(2);
  a.D = X.size(3);
  a.dims = p.dims ? p.dims : a.D;
  a.theta = p.theta;
  a.out = O.raw();
  a.ot = O.dtype();
  const int64_t n = a.B * a.T * a.H * (a.dims / 2 + a.D - a.dims);
  if (n == 0) return;
  rope_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("rope");
}

}  // namespace cuda
}  // namespace engram
