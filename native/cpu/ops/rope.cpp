// rope on the CPU: the fast kernel builds one cos/sin table per position
// (in double, see rope_angle), then rotates rows of [B, T, H, D] in parallel.
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "engram/params_model.h"

namespace engram {
namespace cpu {

namespace {
int64_t rope_dims(const OpCall& c) {
  int64_t d = c.p<RopeParams>().dims;
  return d ? d : c.in[0].size(3);
}
int64_t position(const Tensor& P, int64_t b, int64_t t) {
  const int32_t* p = static_cast<const int32_t*>(P.raw());
  return P.ndim() == 1 ? p[t * P.stride(0)] : p[b * P.stride(0) + t * P.stride(1)];
}
}  // namespace

void cpu_rope(OpCall& c) {
  const Tensor X = as_f32_contiguous(c.in[0]);
  const Tensor& P = c.in[1];
  const Tensor& O = c.out[0];
  const double theta = c.p<RopeParams>().theta;
  const int64_t B = X.size(0), T = X.size(1), H = X.size(2), D = X.size(3), dims = rope_dims(c), half = dims / 2;
  Tensor acc = O.dtype() == DType::F32 ? O : Tensor::empty(O.shape(), DType::F32);
  const float* x = X.data<float>();
  float* y = acc.data<float>();
  parallel_for(B * T, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> cs((size_t)half), sn((size_t)half);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / T, t = r % T, pos = position(P, b, t);
      for (int64_t i = 0; i < half; ++i) {
        double a = rope_angle(pos, i, dims, theta);
        cs[(size_t)i] = (float)std::cos(a);
        sn[(size_t)i] = (float)std::sin(a);
      }
      for (int64_t h = 0; h < H; ++h) {
        const float* xr = x + (r * H + h) * D;
        float* yr = y + (r * H + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          const float a = xr[i], bb = xr[i + half];
          yr[i] = a * cs[(size_t)i] - bb * sn[(size_t)i];
          yr[i + half] = bb * cs[(size_t)i] + a * sn[(size_t)i];
        }
        for (int64_t i = dims; i < D; ++i) yr[i] = xr[i];
      }
    }
  });
  if (O.dtype() != DType::F32) store_f32_into(acc, O);
}

void ref_rope(OpCall& c) {
  const Tensor &X = c.in[0], &P = c.in[1], &O = c.out[0];
  const double theta = c.p<RopeParams>().theta;
  const int64_t B = X.size(0), T = X.size(1), H = X.size(2), D = X.size(3), dims = rope_dims(c), half = dims / 2;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t pos = position(P, b, t);
        auto at = [&](int64_t d) {
          return read_f32(X, b * X.stride(0) + t * X.stride(1) + h * X.stride(2) + d * X.stride(3));
        };
        const int64_t base = ((b * T + t) * H + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          double a = rope_angle(pos, i, dims, theta);
          float cs = (float)std::cos(a), sn = (float)std::sin(a);
          float x0 = at(i), x1 = at(i + half);
          write_f32(O, base + i, x0 * cs - x1 * sn);
          write_f32(O, base + i + half, x1 * cs + x0 * sn);
        }
        for (int64_t i = dims; i < D; ++i) write_f32(O, base + i, at(i));
      }
}

}  // namespace cpu
}  // namespace engram
