// gatedDeltaRule on the CPU (semantics: native/core/ops/gated_delta_rule.cpp).
//   ref_gated_delta_rule: the token recurrence in double (fla's naive_recurrent).
//   cpu_gated_delta_rule: mode 'chunk' = the WY/UT chunk form (chunk_gdn.h)
//     over (b, h) x value-column slices; mode 'recurrent' = the token loop in
//     f32 over the same slices (decoding).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/chunk_gdn.h"
#include "../memory/mem_io.h"
#include "engram/memory_params.h"

namespace engram {
namespace cpu {

namespace {

float gdn_scale(const OpCall& c) {
  const GdnParams& p = c.p<GdnParams>();
  return p.scale > 0 ? p.scale : 1.0f / std::sqrt((float)c.in[0].size(3));
}

void gdn_recurrent(OpCall& c, std::vector<float>& Sall, int64_t ns) {
  const int64_t B = c.in[0].size(0), T = c.in[0].size(1), H = c.in[0].size(2), dk = c.in[0].size(3),
                dv = c.in[2].size(3);
  const float scale = gdn_scale(c);
  const int64_t TB = 64;
  parallel_for(B * H * ns, 1, [&](int64_t a, int64_t e) {
    std::vector<float> q((size_t)(TB * dk)), k((size_t)(TB * dk)), v((size_t)(TB * dv)), g((size_t)TB),
        be((size_t)TB), y, tmp;
    for (int64_t task = a; task < e; ++task) {
      const int64_t bh = task / ns, s = task % ns, b = bh / H, h = bh % H;
      int64_t j0, w;
      mem::slice_range(dv, ns, s, &j0, &w);
      float* S = Sall.data() + bh * dk * dv + j0;  // row stride dv
      y.assign((size_t)(TB * w), 0.0f);
      tmp.assign((size_t)w, 0.0f);
      for (int64_t t0 = 0; t0 < T; t0 += TB) {
        const int64_t nb = std::min(TB, T - t0);
        mem::load_rows(c.in[0], b, h, t0, nb, q.data(), dk);
        mem::load_rows(c.in[1], b, h, t0, nb, k.data(), dk);
        mem::load_rows(c.in[2], b, h, t0, nb, v.data(), dv);
        mem::load_gate(c.in[3], b, h, t0, nb, g.data());
        mem::load_gate(c.in[4], b, h, t0, nb, be.data());
        for (int64_t i = 0; i < nb; ++i) {
          const float dec = std::exp(g[(size_t)i]);
          const float* kt = k.data() + i * dk;
          const float* qt = q.data() + i * dk;
          std::fill(tmp.begin(), tmp.end(), 0.0f);
          for (int64_t r = 0; r < dk; ++r) {  // S = exp(g) S; tmp = k^T S
            mem::vscale(w, dec, S + r * dv);
            mem::vaxpy(w, kt[r], S + r * dv, tmp.data());
          }
          for (int64_t j = 0; j < w; ++j) tmp[(size_t)j] = be[(size_t)i] * (v[(size_t)(i * dv + j0 + j)] - tmp[(size_t)j]);
          float* yt = y.data() + i * w;
          std::fill(yt, yt + w, 0.0f);
          for (int64_t r = 0; r < dk; ++r) {  // S += k u^T; o = scale q^T S
            mem::vaxpy(w, kt[r], tmp.data(), S + r * dv);
            mem::vaxpy(w, scale * qt[r], S + r * dv, yt);
          }
        }
        mem::store_rows(c.out[0], b, h, t0, nb, j0, w, y.data(), w);
      }
    }
  });
}

}  // namespace

void cpu_gated_delta_rule(OpCall& c) {
  const GdnParams& p = c.p<GdnParams>();
  const int64_t B = c.in[0].size(0), T = c.in[0].size(1), H = c.in[0].size(2), dk = c.in[0].size(3),
                dv = c.in[2].size(3);
  const int64_t BH = B * H, DD = dk * dv;
  std::vector<float> Sall((size_t)(BH * DD));
  parallel_for(BH, 1, [&](int64_t a, int64_t e) {
    for (int64_t bh = a; bh < e; ++bh) mem::load_state(c.input(5), bh / H, bh % H, DD, Sall.data() + bh * DD);
  });
  const int64_t ns = mem::plan_slices(BH, dv, 16);
  if (p.recurrent) {
    gdn_recurrent(c, Sall, ns);
  } else {
    const int64_t C = p.chunk, nchunks = (T + C - 1) / C;
    const float scale = gdn_scale(c);
    auto chunk_len = [&](int64_t n) { return std::min(C, T - n * C); };
    mem::run_scan(
        BH, nchunks, ns, C, mem::GdnChunk::floats(C, dk, dv),
        [&](int64_t bh, int64_t n, float* buf) {
          const int64_t b = bh / H, h = bh % H, t0 = n * C, nn = chunk_len(n);
          mem::GdnChunk ch;
          ch.bind(buf, C, nn, dk, dv);
          mem::load_rows(c.in[0], b, h, t0, nn, ch.Q, dk);
          mem::load_rows(c.in[1], b, h, t0, nn, ch.K, dk);
          mem::load_rows(c.in[2], b, h, t0, nn, ch.V, ch.ldz);
          mem::load_gate(c.in[3], b, h, t0, nn, ch.g);
          mem::load_gate(c.in[4], b, h, t0, nn, ch.beta);
          mem::gdn_prep(ch, C, scale);
        },
        [&](int64_t bh, int64_t n, int64_t s, const float* buf) {
          thread_local std::vector<float> Y, Vn;
          const int64_t b = bh / H, h = bh % H, nn = chunk_len(n);
          int64_t j0, w;
          mem::slice_range(dv, ns, s, &j0, &w);
          mem::GdnChunk ch;
          ch.bind(const_cast<float*>(buf), C, nn, dk, dv);
          Vn.resize((size_t)(2 * nn * w));
          float* S = Sall.data() + bh * DD + j0;
          if (c.out[0].dtype() == DType::F32) {  // the GEMMs write the outputs in place
            float* o = c.out[0].data<float>() + ((b * T + n * C) * H + h) * dv + j0;
            mem::gdn_step(ch, j0, w, S, dv, o, H * dv, Vn.data());
          } else {
            Y.resize((size_t)(nn * w));
            mem::gdn_step(ch, j0, w, S, dv, Y.data(), w, Vn.data());
            mem::store_rows(c.out[0], b, h, n * C, nn, j0, w, Y.data(), w);
          }
        });
  }
  for (int64_t bh = 0; bh < BH; ++bh) mem::store_state(c.out[1], bh / H, bh % H, DD, Sall.data() + bh * DD);
}

void ref_gated_delta_rule(OpCall& c) {
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &G = c.in[3], &BE = c.in[4];
  const int64_t B = Q.size(0), T = Q.size(1), H = Q.size(2), dk = Q.size(3), dv = V.size(3), DD = dk * dv;
  const double scale = gdn_scale(c);
  auto at4 = [](const Tensor& x, int64_t b, int64_t t, int64_t h, int64_t d) {
    return (double)read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2) + d * x.stride(3));
  };
  auto at3 = [](const Tensor& x, int64_t b, int64_t t, int64_t h) {
    return (double)read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2));
  };
  std::vector<float> s0((size_t)DD);
  std::vector<double> S((size_t)DD), u((size_t)dv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      mem::load_state(c.input(5), b, h, DD, s0.data());
      std::copy(s0.begin(), s0.end(), S.begin());
      for (int64_t t = 0; t < T; ++t) {
        const double dec = std::exp(at3(G, b, t, h)), be = at3(BE, b, t, h);
        for (double& x : S) x *= dec;                       // S = exp(g) S
        for (int64_t j = 0; j < dv; ++j) {                  // u = beta (v - k^T S)
          double kS = 0;
          for (int64_t e = 0; e < dk; ++e) kS += at4(K, b, t, h, e) * S[(size_t)(e * dv + j)];
          u[(size_t)j] = be * (at4(V, b, t, h, j) - kS);
        }
        for (int64_t e = 0; e < dk; ++e)                    // S += k u^T
          for (int64_t j = 0; j < dv; ++j) S[(size_t)(e * dv + j)] += at4(K, b, t, h, e) * u[(size_t)j];
        for (int64_t j = 0; j < dv; ++j) {                  // o = (scale q)^T S
          double o = 0;
          for (int64_t e = 0; e < dk; ++e) o += at4(Q, b, t, h, e) * S[(size_t)(e * dv + j)];
          write_f32(c.out[0], ((b * T + t) * H + h) * dv + j, (float)(scale * o));
        }
      }
      if (c.out[1].numel()) {
        for (int64_t i = 0; i < DD; ++i) s0[(size_t)i] = (float)S[(size_t)i];
        mem::store_state(c.out[1], b, h, DD, s0.data());
      }
    }
}

}  // namespace cpu
}  // namespace engram
