// Sliding-window causal attention on the CPU, flash-style like sdpa.cpp: per
// (batch, head, block of 64 queries) only the key blocks that intersect the
// block's windows are visited, so the cost is O(T * window), not O(T * S).
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../gemm.h"
#include "../kernels.h"
#include "engram/params_model.h"

namespace engram {
namespace cpu {

namespace {
constexpr int64_t kBQ = 64, kBK = 128;
float window_scale(const SdpaWindowParams& p, int64_t D) {
  return p.scale > 0 ? p.scale : 1.0f / std::sqrt((float)D);
}
}  // namespace

void cpu_sdpa_window(OpCall& c) {
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &O = c.out[0];
  const SdpaWindowParams p = c.p<SdpaWindowParams>();
  const int64_t B = Q.size(0), T = Q.size(1), H = Q.size(2), D = Q.size(3);
  const int64_t S = K.size(1), Hkv = K.size(2), Dv = V.size(3);
  const int64_t group = H / Hkv, shift = S - T;
  const float scale = window_scale(p, D);
  const int64_t qblocks = (T + kBQ - 1) / kBQ;
  const size_t qes = elem_size(Q.dtype());
  Tensor acc = O.dtype() == DType::F32 ? O : Tensor::empty(O.shape(), DType::F32);
  float* out = acc.data<float>();

  parallel_for(B * H * qblocks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> sc((size_t)(kBQ * kBK)), ob((size_t)(kBQ * Dv)), m((size_t)kBQ), l((size_t)kBQ);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t qb = task % qblocks, bh = task / qblocks, h = bh % H, b = bh / H, hk = h / group;
      const int64_t q0 = qb * kBQ, nq = std::min(kBQ, T - q0);
      const int64_t kbeg = window_lo(q0 + shift, p.window), kend = q0 + nq + shift;
      std::fill(m.begin(), m.end(), -INFINITY);
      std::fill(l.begin(), l.end(), 0.0f);
      std::fill(ob.begin(), ob.end(), 0.0f);
      GemmArgs qk;
      qk.M = nq;
      qk.K = D;
      qk.A = static_cast<const char*>(Q.raw()) + (b * Q.stride(0) + q0 * Q.stride(1) + h * Q.stride(2)) * (int64_t)qes;
      qk.a_type = Q.dtype();
      qk.rsa = Q.stride(1);
      qk.csa = Q.stride(3);
      qk.b_type = K.dtype();
      qk.rsb = K.stride(3);
      qk.csb = K.stride(1);
      qk.C = sc.data();
      qk.rsc = kBK;
      qk.alpha = scale;
      GemmArgs pv;
      pv.M = nq;
      pv.N = Dv;
      pv.A = sc.data();
      pv.rsa = kBK;
      pv.csa = 1;
      pv.b_type = V.dtype();
      pv.rsb = V.stride(1);
      pv.csb = V.stride(3);
      pv.C = ob.data();
      pv.rsc = Dv;
      pv.beta = 1.0f;
      for (int64_t k0 = kbeg; k0 < kend; k0 += kBK) {
        const int64_t nk = std::min(kBK, kend - k0);
        qk.N = nk;
        qk.B = static_cast<const char*>(K.raw()) + (b * K.stride(0) + k0 * K.stride(1) + hk * K.stride(2)) * (int64_t)qes;
        gemm(qk);
        for (int64_t i = 0; i < nq; ++i) {
          float* row = sc.data() + i * kBK;
          const int64_t pos = q0 + i + shift;
          // visible keys of this row inside the block: [lo, hi)
          const int64_t lo = std::max<int64_t>(window_lo(pos, p.window) - k0, 0);
          const int64_t hi = std::min<int64_t>(nk, pos - k0 + 1);
          if (hi <= lo) {
            for (int64_t j = 0; j < nk; ++j) row[j] = 0.0f;
            continue;
          }
          float mx = m[(size_t)i];
          for (int64_t j = lo; j < hi; ++j) mx = std::fmax(mx, row[j]);
          const float corr = std::exp(m[(size_t)i] - mx);  // exp(-inf) = 0 before the first visible key
          float s = 0.0f;
          for (int64_t j = 0; j < lo; ++j) row[j] = 0.0f;
          for (int64_t j = lo; j < hi; ++j) {
            row[j] = std::exp(row[j] - mx);
            s += row[j];
          }
          for (int64_t j = hi; j < nk; ++j) row[j] = 0.0f;
          l[(size_t)i] = l[(size_t)i] * corr + s;
          m[(size_t)i] = mx;
          float* orow = ob.data() + i * Dv;
          if (corr != 1.0f)
            for (int64_t d = 0; d < Dv; ++d) orow[d] *= corr;
        }
        pv.K = nk;
        pv.B = static_cast<const char*>(V.raw()) + (b * V.stride(0) + k0 * V.stride(1) + hk * V.stride(2)) * (int64_t)qes;
        gemm(pv);
      }
      for (int64_t i = 0; i < nq; ++i) {
        float inv = 1.0f / l[(size_t)i];
        float* dst = out + ((b * T + q0 + i) * H + h) * Dv;
        for (int64_t d = 0; d < Dv; ++d) dst[d] = ob[(size_t)(i * Dv + d)] * inv;
      }
    }
  });
  if (O.dtype() != DType::F32) store_f32_into(acc, O);
}

void ref_sdpa_window(OpCall& c) {
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &O = c.out[0];
  const SdpaWindowParams p = c.p<SdpaWindowParams>();
  const int64_t B = Q.size(0), T = Q.size(1), H = Q.size(2), D = Q.size(3);
  const int64_t S = K.size(1), Hkv = K.size(2), Dv = V.size(3);
  const double scale = window_scale(p, D);
  auto at = [](const Tensor& x, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return (double)read_f32(x, i0 * x.stride(0) + i1 * x.stride(1) + i2 * x.stride(2) + i3 * x.stride(3));
  };
  std::vector<double> w((size_t)S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t hk = h / (H / Hkv), pos = t + (S - T), lo = window_lo(pos, p.window);
        double mx = -INFINITY;
        for (int64_t s = lo; s <= pos; ++s) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += at(Q, b, t, h, d) * at(K, b, s, hk, d);
          w[(size_t)s] = dot * scale;
          mx = std::fmax(mx, w[(size_t)s]);
        }
        double sum = 0;
        for (int64_t s = lo; s <= pos; ++s) sum += (w[(size_t)s] = std::exp(w[(size_t)s] - mx));
        for (int64_t d = 0; d < Dv; ++d) {
          double a = 0;
          for (int64_t s = lo; s <= pos; ++s) a += w[(size_t)s] * at(V, b, s, hk, d);
          write_f32(O, ((b * T + t) * H + h) * Dv + d, (float)(a / sum));
        }
      }
}

}  // namespace cpu
}  // namespace engram
