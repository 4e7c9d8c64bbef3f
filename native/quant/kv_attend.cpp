// KVCache attention on the CPU, computed from the packed codes
// (algorithms.md §11.1(c)): per KV head, the queries are transformed once
// (qt = A_k q·scale: rotation / sketch), scores are lookups against the key
// codes (kernels.h scores), a flash-style online softmax runs over chunks of
// tokens, the values are summed in their transformed space (accumulate) and
// mapped back once (A_vᵀ). Window tokens (full precision) take the plain path
// and are added in the original space. Chunks are split across threads and
// merged (flash-decoding); blocks of more than 4 queries (prefill) decode a
// page into a tile once and use GEMMs instead of per-query lookups.
//
// attend_ref: the readable reference — decode every token with the scalar
// references and attend in double precision.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../cpu/gemm.h"
#include "engram/alloc.h"
#include "engram/error.h"
#include "engram/threadpool.h"
#include "kernels.h"
#include "kvcache.h"

namespace engram {
namespace quant {

namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int kFusedMaxQueries = 4;

inline int table_head(const Quantizer& q, int h) { return q.table_heads() > 1 ? h : 0; }

TileDesc window_desc(int D) {
  TileDesc d{};
  d.kind = TileKind::F32;
  d.dim = D;
  d.t_dim = D;
  d.block_tokens = 1;
  d.block_bytes = 4 * D;
  return d;
}

// Calls f(ptr, t, e) for the encoded tokens [a, b) of head h, one page at a time.
template <class F>
void code_segments(const KVCache::Stream& s, int64_t P, int h, int64_t a, int64_t b, F&& f) {
  for (int64_t t = a; t < b;) {
    const int64_t p = t / P, e = std::min(b, (p + 1) * P);
    const uint8_t* ptr = static_cast<const uint8_t*>(s.pages[(size_t)p]->data) + h * s.head_bytes + (t - p * P) / s.bt * s.bb;
    f(ptr, t, e);
    t = e;
  }
}

// Calls f(rows, t, e) for the window tokens [a, b) of head h (contiguous ring runs).
template <class F>
void window_segments(const KVCache::Stream& s, int D, int h, int64_t a, int64_t b, F&& f) {
  for (int64_t t = a; t < b;) {
    const int64_t slot = t % s.wcap, e = std::min(b, t + (s.wcap - slot));
    f(s.ring.data() + ((int64_t)h * s.wcap + slot) * D, t, e);
    t = e;
  }
}

}  // namespace

void KVCache::attend(int layer, const float* q, int64_t Tq, int hq, const AttendOptions& o, float* out) const {
  check_layer(layer, "KVCache.attend");
  const Layer& L = layers_[(size_t)layer];
  const int H = opt_.heads, D = opt_.head_dim;
  ENGRAM_CHECK(Tq >= 1, SHAPE, "KVCache.attend: no queries");
  ENGRAM_CHECK(hq >= H && hq % H == 0, SHAPE, "KVCache.attend: ", hq, " query heads is not a multiple of the ", H,
               " cache heads");
  ENGRAM_CHECK(L.n > 0, STATE, "KVCache.attend: layer ", layer, " is empty");
  ENGRAM_CHECK(!o.causal || Tq <= L.n, SHAPE, "KVCache.attend: ", Tq, " causal queries but only ", L.n,
               " cached tokens (queries are the last Tq tokens)");
  ENGRAM_CHECK(std::isfinite(o.scale) && o.scale >= 0, ARG, "KVCache.attend: scale must be positive, got ", o.scale);
  for (int64_t i = 0; i < Tq * hq * D; ++i)
    ENGRAM_CHECK(std::isfinite(q[i]), NAN, "KVCache.attend: q has a non-finite value at index ", i);
  const float scale = o.scale > 0 ? o.scale : 1.0f / std::sqrt((float)D);
  if (o.reference) return attend_ref(layer, q, Tq, hq, o.causal, scale, out);
  if (opt_.device == DeviceType::CUDA) return attend_cuda(layer, q, Tq, hq, o.causal, scale, out);
  attend_cpu(layer, q, Tq, hq, o.causal, scale, out);
}

void KVCache::attend_cpu(int layer, const float* q, int64_t Tq, int hq, bool causal, float scale, float* out) const {
  const Layer& L = layers_[(size_t)layer];
  const Stream &K = L.k, &V = L.v;
  const int H = opt_.heads, D = opt_.head_dim, g = hq / H;
  const int64_t n = L.n, P = page_tokens_, C = 2 * P;
  const int tK = K.q->t_dim(), tV = V.q->t_dim();
  const TileDesc &dK = K.q->desc(), &dV = V.q->desc(), dW = window_desc(D);
  const int64_t M = Tq * g;  // queries per KV head: m -> token m / g, query head h * g + m % g
  const int64_t nqb = (M + kQueryBlock - 1) / kQueryBlock, nchunks = (n + C - 1) / C;
  const int64_t nsplit = std::max<int64_t>(1, std::min<int64_t>(nchunks, (4 * num_threads() + H * nqb - 1) / (H * nqb)));

  // Scaled raw queries (window scores) and transformed queries, per KV head.
  std::vector<float> qs((size_t)(H * M * D)), qt((size_t)(H * M * tK));
  for (int h = 0; h < H; ++h)
    for (int64_t m = 0; m < M; ++m) {
      const float* src = q + ((m / g) * hq + h * g + m % g) * D;
      float* dst = qs.data() + (h * M + m) * D;
      for (int c = 0; c < D; ++c) dst[c] = src[c] * scale;
    }
  parallel_for(H, 1, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h)
      K.q->transform_queries(qs.data() + h * M * D, D, M, table_head(*K.q, (int)h), qt.data() + h * M * tK, tK);
  });

  // Partials per (head, query block, split): running max, sum, t-space and window accumulators.
  const int64_t ntasks = H * nqb * nsplit, stride = 2 + tV + D;
  std::vector<float> part((size_t)(ntasks * kQueryBlock * stride));
  parallel_for(ntasks, 1, [&](int64_t task0, int64_t task1) {
    std::vector<float> S((size_t)(kQueryBlock * C)), tile_buf;
    std::vector<int64_t> lim((size_t)kQueryBlock);
    for (int64_t task = task0; task < task1; ++task) {
      const int64_t split = task % nsplit, qb = (task / nsplit) % nqb;
      const int h = (int)(task / (nsplit * nqb));
      const int64_t m0 = qb * kQueryBlock, Mb = std::min(kQueryBlock, M - m0);
      const float* qth = qt.data() + (h * M + m0) * tK;
      const float* qsh = qs.data() + (h * M + m0) * D;
      float* pt = part.data() + task * kQueryBlock * stride;
      float *mrun = pt, *lrun = pt + kQueryBlock, *accT = pt + 2 * kQueryBlock, *accW = accT + kQueryBlock * tV;
      std::fill(pt, pt + kQueryBlock * stride, 0.0f);
      int64_t max_lim = 0;
      for (int64_t m = 0; m < Mb; ++m) {
        mrun[m] = -INFINITY;
        lim[(size_t)m] = causal ? n - Tq + (m0 + m) / g + 1 : n;
        max_lim = std::max(max_lim, lim[(size_t)m]);
      }
      const bool fused = Mb <= kFusedMaxQueries;
      const int64_t cA = split * nchunks / nsplit, cB = (split + 1) * nchunks / nsplit;
      for (int64_t c = cA; c < cB; ++c) {
        const int64_t c0 = c * C, c1 = std::min(n, c0 + C), Ct = c1 - c0;
        if (c0 >= max_lim) break;
        // scores S[m][j] for tokens c0 + j
        code_segments(K, P, h, c0, std::min(c1, K.nq), [&](const uint8_t* ptr, int64_t t, int64_t e) {
          if (fused) {
            scores(dK, qth, tK, (int)Mb, ptr, e - t, S.data() + (t - c0), C);
          } else {
            tile_buf.resize((size_t)((e - t) * tK));
            tile(dK, ptr, e - t, tile_buf.data(), tK);
            cpu::sgemm(false, true, Mb, e - t, tK, 1.0f, qth, tK, tile_buf.data(), tK, 0.0f, S.data() + (t - c0), C);
          }
        });
        window_segments(K, D, h, std::max(c0, K.nq), c1, [&](const float* rows, int64_t t, int64_t e) {
          if (fused) scores(dW, qsh, D, (int)Mb, reinterpret_cast<const uint8_t*>(rows), e - t, S.data() + (t - c0), C);
          else cpu::sgemm(false, true, Mb, e - t, D, 1.0f, qsh, D, rows, D, 0.0f, S.data() + (t - c0), C);
        });
        // online softmax: S becomes the unnormalised probabilities
        for (int64_t m = 0; m < Mb; ++m) {
          float* row = S.data() + m * C;
          const int64_t vis = std::max<int64_t>(0, std::min(Ct, lim[(size_t)m] - c0));
          const float cmax = row_max(row, vis, -INFINITY);
          const float newm = cmax > mrun[m] ? cmax : mrun[m];
          if (newm == -INFINITY) {
            std::fill(row, row + Ct, 0.0f);
            continue;
          }
          const float alpha = std::exp(mrun[m] - newm);  // exp(-inf) = 0 on the first visible chunk
          if (alpha != 1.0f) {
            lrun[m] *= alpha;
            for (int e = 0; e < tV; ++e) accT[m * tV + e] *= alpha;
            for (int e = 0; e < D; ++e) accW[m * D + e] *= alpha;
          }
          const float sum = exp_sum(row, vis, newm);
          std::fill(row + vis, row + Ct, 0.0f);
          lrun[m] += sum;
          mrun[m] = newm;
        }
        // values
        code_segments(V, P, h, c0, std::min(c1, V.nq), [&](const uint8_t* ptr, int64_t t, int64_t e) {
          if (fused) {
            for (int64_t m = 0; m < Mb; ++m) accumulate(dV, S.data() + m * C + (t - c0), ptr, e - t, accT + m * tV);
          } else {
            tile_buf.resize((size_t)((e - t) * tV));
            tile(dV, ptr, e - t, tile_buf.data(), tV);
            cpu::sgemm(false, false, Mb, tV, e - t, 1.0f, S.data() + (t - c0), C, tile_buf.data(), tV, 1.0f, accT, tV);
          }
        });
        window_segments(V, D, h, std::max(c0, V.nq), c1, [&](const float* rows, int64_t t, int64_t e) {
          if (fused) {
            for (int64_t m = 0; m < Mb; ++m)
              accumulate(dW, S.data() + m * C + (t - c0), reinterpret_cast<const uint8_t*>(rows), e - t, accW + m * D);
          } else {
            cpu::sgemm(false, false, Mb, D, e - t, 1.0f, S.data() + (t - c0), C, rows, D, 1.0f, accW, D);
          }
        });
      }
    }
  });

  // Merge the splits, normalise, map the t-space sums back once per query.
  parallel_for(H * nqb, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> accT((size_t)(kQueryBlock * tV)), accW((size_t)(kQueryBlock * D)), res((size_t)(kQueryBlock * D));
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int h = (int)(blk / nqb);
      const int64_t qb = blk % nqb, m0 = qb * kQueryBlock, Mb = std::min(kQueryBlock, M - m0);
      for (int64_t m = 0; m < Mb; ++m) {
        float mx = -INFINITY;
        for (int64_t s = 0; s < nsplit; ++s) mx = std::fmax(mx, part[(size_t)((blk * nsplit + s) * kQueryBlock * stride + m)]);
        double l = 0;
        std::fill(accT.begin() + m * tV, accT.begin() + (m + 1) * tV, 0.0f);
        std::fill(accW.begin() + m * D, accW.begin() + (m + 1) * D, 0.0f);
        for (int64_t s = 0; s < nsplit; ++s) {
          const float* pt = part.data() + (blk * nsplit + s) * kQueryBlock * stride;
          if (pt[m] == -INFINITY) continue;
          const float w = std::exp(pt[m] - mx);
          l += (double)w * pt[kQueryBlock + m];
          const float* aT = pt + 2 * kQueryBlock + m * tV;
          const float* aW = pt + 2 * kQueryBlock + kQueryBlock * tV + m * D;
          for (int e = 0; e < tV; ++e) accT[(size_t)(m * tV + e)] += w * aT[e];
          for (int e = 0; e < D; ++e) accW[(size_t)(m * D + e)] += w * aW[e];
        }
        const float inv = (float)(1.0 / l);
        for (int e = 0; e < tV; ++e) accT[(size_t)(m * tV + e)] *= inv;
        for (int e = 0; e < D; ++e) accW[(size_t)(m * D + e)] *= inv;
      }
      V.q->transform_back_rows(accT.data(), tV, Mb, table_head(*V.q, h), res.data(), D);
      for (int64_t m = 0; m < Mb; ++m) {
        const int64_t mm = m0 + m;
        float* dst = out + ((mm / g) * hq + h * g + mm % g) * D;
        for (int e = 0; e < D; ++e) dst[e] = res[(size_t)(m * D + e)] + accW[(size_t)(m * D + e)];
      }
    }
  });
}

void KVCache::attend_ref(int layer, const float* q, int64_t Tq, int hq, bool causal, float scale, float* out) const {
  const Layer& L = layers_[(size_t)layer];
  const int H = opt_.heads, D = opt_.head_dim, g = hq / H;
  const int64_t n = L.n, P = page_tokens_;
  // Dequantised K and V: [n][H][D] in double-checked f32 (scalar reference decode).
  std::vector<float> kv[2];
  const Stream* st[2] = {&L.k, &L.v};
  for (int w = 0; w < 2; ++w) {
    const Stream& s = *st[w];
    kv[w].resize((size_t)(n * H * D));
    for (int h = 0; h < H; ++h) {
      for (int64_t t = 0; t < s.nq; t += s.bt) {
        const int64_t p = t / P;
        std::vector<uint8_t> blk((size_t)s.bb);
        copy_bytes(blk.data(), DeviceType::CPU, static_cast<const uint8_t*>(s.pages[(size_t)p]->data) + h * s.head_bytes + (t - p * P) / s.bt * s.bb,
                   opt_.device, (size_t)s.bb);
        s.q->decode_ref(blk.data(), s.bt, table_head(*s.q, h), kv[w].data() + (t * H + h) * D, (int64_t)H * D);
      }
      for (int64_t t = s.nq; t < n; ++t)
        std::memcpy(kv[w].data() + (t * H + h) * D, s.ring.data() + ((int64_t)h * s.wcap + t % s.wcap) * D,
                    sizeof(float) * (size_t)D);
    }
  }
  std::vector<double> sc((size_t)n), acc((size_t)D);
  for (int64_t i = 0; i < Tq; ++i)
    for (int hh = 0; hh < hq; ++hh) {
      const int h = hh / g;
      const float* qi = q + (i * hq + hh) * D;
      const int64_t lim = causal ? n - Tq + i + 1 : n;
      double mx = -INFINITY;
      for (int64_t t = 0; t < lim; ++t) {
        double s = 0;
        for (int c = 0; c < D; ++c) s += (double)qi[c] * kv[0][(size_t)((t * H + h) * D + c)];
        sc[(size_t)t] = s * scale;
        mx = std::fmax(mx, sc[(size_t)t]);
      }
      double l = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = 0; t < lim; ++t) {
        const double p = std::exp(sc[(size_t)t] - mx);
        l += p;
        for (int c = 0; c < D; ++c) acc[(size_t)c] += p * kv[1][(size_t)((t * H + h) * D + c)];
      }
      for (int c = 0; c < D; ++c) out[(i * hq + hh) * D + c] = (float)(acc[(size_t)c] / l);
    }
}

}  // namespace quant
}  // namespace engram
