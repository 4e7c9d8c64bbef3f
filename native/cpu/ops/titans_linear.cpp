// titansLinear on the CPU (semantics: native/core/ops/titans.cpp).
//   ref_titans_linear: the stale-anchor token loop in double (the spec).
//   cpu_titans_linear: the chunk dual form (chunk_linear.h) over
//     (b, h) x value-row slices, or with mode 'recurrent' the same stale token
//     loop in f32 (O(dk dv) per token, for decoding and as a baseline).
// Both continue a chunk a previous call started (state offset + anchor,
// native/core/ops/titans.cpp).
#include <algorithm>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/chunk_linear.h"
#include "../memory/mem_io.h"
#include "engram/memory_params.h"

namespace engram {
namespace cpu {

namespace {

struct Dimsx {
  int64_t B, T, H, dk, dv;
};
Dimsx dims_of(const OpCall& c) { return {c.in[0].size(0), c.in[0].size(1), c.in[0].size(2), c.in[0].size(3), c.in[2].size(3)}; }

double at4(const Tensor& x, int64_t b, int64_t t, int64_t h, int64_t d) {
  return read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2) + d * x.stride(3));
}
double at3(const Tensor& g, int64_t b, int64_t t, int64_t h) {
  return read_f32(g, b * g.stride(0) + t * g.stride(1) + h * g.stride(2));
}

// Writes the final (memory, momentum) of (b, h) from row-interleaved X [dv, sw].
void store_final(const OpCall& c, int64_t b, int64_t h, const float* X, int64_t dv, int64_t dk, bool mom,
                 const float* Slast) {
  if (c.out[1].numel() == 0) return;
  std::vector<float> m((size_t)(dv * dk)), s((size_t)(dv * dk));
  const int64_t sw = mom ? 2 * dk : dk;
  for (int64_t j = 0; j < dv; ++j)
    for (int64_t e = 0; e < dk; ++e) {
      m[(size_t)(j * dk + e)] = X[j * sw + e];
      s[(size_t)(j * dk + e)] = mom ? X[j * sw + dk + e] : Slast[j * dk + e];
    }
  mem::store_state(c.out[1], b, h, dv * dk, m.data());
  mem::store_state(c.out[2], b, h, dv * dk, s.data());
}

// Initial state of (b, h) as X [dv, sw] (+ Slast [dv, dk] with momentum off).
void load_initial(const OpCall& c, int64_t b, int64_t h, int64_t dv, int64_t dk, bool mom, float* X, float* Slast) {
  std::vector<float> m((size_t)(dv * dk)), s((size_t)(dv * dk));
  mem::load_state(c.input(6), b, h, dv * dk, m.data());
  mem::load_state(c.input(7), b, h, dv * dk, s.data());
  const int64_t sw = mom ? 2 * dk : dk;
  for (int64_t j = 0; j < dv; ++j)
    for (int64_t e = 0; e < dk; ++e) {
      X[j * sw + e] = m[(size_t)(j * dk + e)];
      if (mom) X[j * sw + dk + e] = s[(size_t)(j * dk + e)];
      else if (Slast) Slast[j * dk + e] = s[(size_t)(j * dk + e)];
    }
}

// mode 'recurrent': per (b, h, row slice) the stale token loop in f32.
void titans_linear_recurrent(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  const Dimsx d = dims_of(c);
  const int64_t BH = d.B * d.H, C = p.chunk, sw = p.momentum ? 2 * d.dk : d.dk, DD = d.dv * d.dk;
  const int64_t off = mem::read_offset("titansLinear", c.input(9), C), end_off = (off + d.T) % C;
  const int64_t ns = mem::plan_slices(BH, d.dv, 16);
  std::vector<float> X((size_t)(BH * d.dv * sw)), Sl(p.momentum ? 0 : (size_t)(BH * d.dv * d.dk));
  std::vector<float> AN((size_t)(BH * DD));  // anchors [dv, dk] per head: initial, then final
  parallel_for(BH, 1, [&](int64_t a, int64_t e) {
    for (int64_t bh = a; bh < e; ++bh) {
      float* x = X.data() + bh * d.dv * sw;
      load_initial(c, bh / d.H, bh % d.H, d.dv, d.dk, p.momentum, x, Sl.empty() ? nullptr : Sl.data() + bh * d.dv * d.dk);
      float* an = AN.data() + bh * DD;
      if (off > 0 && c.has_input(8)) mem::load_state(c.input(8), bh / d.H, bh % d.H, DD, an);
      else
        for (int64_t j = 0; j < d.dv; ++j) std::copy(x + j * sw, x + j * sw + d.dk, an + j * d.dk);
    }
  });
  const int64_t TB = 64;  // tokens loaded per block
  parallel_for(BH * ns, 1, [&](int64_t a, int64_t e) {
    std::vector<float> q((size_t)(TB * d.dk)), k((size_t)(TB * d.dk)), v((size_t)(TB * d.dv)), g((size_t)(3 * TB));
    std::vector<float> y, anc;
    for (int64_t task = a; task < e; ++task) {
      const int64_t bh = task / ns, s = task % ns, b = bh / d.H, h = bh % d.H;
      const int64_t j0 = s * d.dv / ns, w = (s + 1) * d.dv / ns - j0;
      float* Xs = X.data() + (bh * d.dv + j0) * sw;
      float* Ss = Sl.empty() ? nullptr : Sl.data() + (bh * d.dv + j0) * d.dk;
      y.assign((size_t)(TB * w), 0.0f);
      float* an = AN.data() + bh * DD + j0 * d.dk;
      anc.assign(an, an + w * d.dk);
      for (int64_t t0 = 0; t0 < d.T; t0 += TB) {
        const int64_t nb = std::min(TB, d.T - t0);
        mem::load_rows(c.in[0], b, h, t0, nb, q.data(), d.dk);
        mem::load_rows(c.in[1], b, h, t0, nb, k.data(), d.dk);
        mem::load_rows(c.in[2], b, h, t0, nb, v.data(), d.dv);
        mem::load_gate(c.in[3], b, h, t0, nb, g.data());
        mem::load_gate(c.input(4), b, h, t0, nb, g.data() + TB);
        mem::load_gate(c.input(5), b, h, t0, nb, g.data() + 2 * TB);
        for (int64_t i = 0; i < nb; ++i) {
          const int64_t t = t0 + i;
          if ((off + t) % C == 0)
            for (int64_t j = 0; j < w; ++j) std::copy(Xs + j * sw, Xs + j * sw + d.dk, anc.data() + j * d.dk);
          const float th = g[(size_t)i], at = p.decay ? 1.0f - g[(size_t)(TB + i)] : 1.0f;
          const float et = p.momentum ? g[(size_t)(2 * TB + i)] : 0.0f;
          const float* kt = k.data() + i * d.dk;
          const float* qt = q.data() + i * d.dk;
          for (int64_t j = 0; j < w; ++j) {
            const float gr = 2.0f * (mem::vdot(d.dk, anc.data() + j * d.dk, kt) - v[(size_t)(i * d.dv + j0 + j)]);
            float* M = Xs + j * sw;
            if (p.momentum) {
              float* S = M + d.dk;
              mem::vscale(d.dk, et, S);
              mem::vaxpy(d.dk, -th * gr, kt, S);
              mem::vaxpby(d.dk, 1.0f, S, at, M);
            } else {
              mem::vscale(d.dk, at, M);
              mem::vaxpy(d.dk, -th * gr, kt, M);
              if (t == d.T - 1)
                for (int64_t e2 = 0; e2 < d.dk; ++e2) Ss[j * d.dk + e2] = -th * gr * kt[e2];
            }
            y[(size_t)(i * w + j)] = mem::vdot(d.dk, M, qt);
          }
        }
        mem::store_rows(c.out[0], b, h, t0, nb, j0, w, y.data(), w);
      }
      // the anchor of the chunk in progress, or the memory on a chunk boundary
      for (int64_t j = 0; j < w; ++j)
        if (end_off) std::copy(anc.data() + j * d.dk, anc.data() + (j + 1) * d.dk, an + j * d.dk);
        else std::copy(Xs + j * sw, Xs + j * sw + d.dk, an + j * d.dk);
    }
  });
  for (int64_t bh = 0; bh < BH; ++bh) {
    store_final(c, bh / d.H, bh % d.H, X.data() + bh * d.dv * sw, d.dv, d.dk, p.momentum,
                Sl.empty() ? nullptr : Sl.data() + bh * d.dv * d.dk);
    mem::store_state(c.out[3], bh / d.H, bh % d.H, DD, AN.data() + bh * DD);
  }
  mem::store_offset(c.out[4], end_off);
}

}  // namespace

void cpu_titans_linear(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  if (p.recurrent) {
    titans_linear_recurrent(c);
    return;
  }
  const Dimsx d = dims_of(c);
  const int64_t BH = d.B * d.H, C = p.chunk;
  const mem::ChunkGrid grid{d.T, C, mem::read_offset("titansLinear", c.input(9), C)};
  const int64_t nchunks = grid.count();
  const bool mom = p.momentum, anc_in = grid.off > 0;
  const int64_t sw = mom ? 2 * d.dk : d.dk, per = sw * d.dv, DD = d.dk * d.dv;
  // State of each head in row convention: X = [M^T ; S^T] [sw, dv]; Sl = S^T
  // after the last token when momentum is off; AN = the anchor^T [dk, dv]
  // (initial, for the rest of a started chunk; then the final one).
  std::vector<float> X((size_t)(BH * per)), Sl((size_t)(BH * DD)), AN((size_t)(BH * DD));
  parallel_for(BH, 1, [&](int64_t a, int64_t e) {
    std::vector<float> m((size_t)DD), s((size_t)DD), an((size_t)DD);
    for (int64_t bh = a; bh < e; ++bh) {
      mem::load_state(c.input(6), bh / d.H, bh % d.H, DD, m.data());
      mem::load_state(c.input(7), bh / d.H, bh % d.H, DD, s.data());
      if (anc_in && c.has_input(8)) mem::load_state(c.input(8), bh / d.H, bh % d.H, DD, an.data());
      else an = m;  // absent anchor: the initial memory
      float* x = X.data() + bh * per;
      for (int64_t j = 0; j < d.dv; ++j)
        for (int64_t k = 0; k < d.dk; ++k) {
          x[k * d.dv + j] = m[(size_t)(j * d.dk + k)];
          (mom ? x[(d.dk + k) * d.dv + j] : Sl[(size_t)(bh * DD + k * d.dv + j)]) = s[(size_t)(j * d.dk + k)];
          AN[(size_t)(bh * DD + k * d.dv + j)] = an[(size_t)(j * d.dk + k)];
        }
    }
  });
  const int64_t ns = mem::plan_slices(BH, d.dv, 16);
  const size_t pf = mem::LinChunk::floats(C, d.dk, d.dv);
  auto chunk_len = [&](int64_t n) { return grid.len(n); };
  mem::run_scan(
      BH, nchunks, ns, C, pf,
      [&](int64_t bh, int64_t n, float* buf) {
        const int64_t b = bh / d.H, h = bh % d.H, t0 = grid.start(n), nn = chunk_len(n);
        mem::LinChunk ch;
        ch.bind(buf, C, nn, d.dk, d.dv, mom);
        mem::load_rows(c.in[0], b, h, t0, nn, ch.Q, d.dk);
        mem::load_rows(c.in[1], b, h, t0, nn, ch.K, d.dk);
        mem::load_rows(c.in[2], b, h, t0, nn, ch.V, d.dv);
        mem::load_gate(c.in[3], b, h, t0, nn, ch.theta());
        mem::load_gate(c.input(4), b, h, t0, nn, ch.alpha(C));
        mem::load_gate(c.input(5), b, h, t0, nn, ch.eta(C));
        mem::lin_prep(ch, C, p.decay);
      },
      [&](int64_t bh, int64_t n, int64_t s, const float* buf) {
        thread_local std::vector<float> Y, R;
        const int64_t b = bh / d.H, h = bh % d.H, nn = chunk_len(n);
        int64_t j0, w;
        mem::slice_range(d.dv, ns, s, &j0, &w);
        mem::LinChunk ch;
        ch.bind(const_cast<float*>(buf), C, nn, d.dk, d.dv, mom);
        R.resize((size_t)(nn * w));
        float* Sl_s = (!mom && n == nchunks - 1) ? Sl.data() + bh * DD + j0 : nullptr;
        float* Xs = X.data() + bh * per + j0;
        float* As = AN.data() + bh * DD + j0;
        const float* anc = n == 0 && anc_in ? As : nullptr;  // the rest of a chunk a previous call started
        // Ending inside a chunk: its start memory is the final anchor (unchanged if it is segment 0).
        if (n == nchunks - 1 && grid.end_offset() && !anc)
          for (int64_t e = 0; e < d.dk; ++e) std::copy(Xs + e * d.dv, Xs + e * d.dv + w, As + e * d.dv);
        if (c.out[0].dtype() == DType::F32) {  // the GEMMs write the outputs in place
          float* o = c.out[0].data<float>() + ((b * d.T + grid.start(n)) * d.H + h) * d.dv + j0;
          mem::lin_step(ch, j0, w, Xs, d.dv, o, d.H * d.dv, R.data(), Sl_s, anc, d.dv);
        } else {
          Y.resize((size_t)(nn * w));
          mem::lin_step(ch, j0, w, Xs, d.dv, Y.data(), w, R.data(), Sl_s, anc, d.dv);
          mem::store_rows(c.out[0], b, h, grid.start(n), nn, j0, w, Y.data(), w);
        }
      });
  if (c.out[1].numel() == 0) return;
  mem::store_offset(c.out[4], grid.end_offset());
  parallel_for(BH, 1, [&](int64_t a, int64_t e) {
    std::vector<float> m((size_t)DD), s((size_t)DD), an((size_t)DD);
    for (int64_t bh = a; bh < e; ++bh) {
      const float* x = X.data() + bh * per;
      for (int64_t j = 0; j < d.dv; ++j)
        for (int64_t k = 0; k < d.dk; ++k) {
          m[(size_t)(j * d.dk + k)] = x[k * d.dv + j];
          s[(size_t)(j * d.dk + k)] = mom ? x[(d.dk + k) * d.dv + j] : Sl[(size_t)(bh * DD + k * d.dv + j)];
          an[(size_t)(j * d.dk + k)] = AN[(size_t)(bh * DD + k * d.dv + j)];
        }
      mem::store_state(c.out[1], bh / d.H, bh % d.H, DD, m.data());
      mem::store_state(c.out[2], bh / d.H, bh % d.H, DD, s.data());
      // on a chunk boundary the next chunk starts at the final memory
      mem::store_state(c.out[3], bh / d.H, bh % d.H, DD, grid.end_offset() ? an.data() : m.data());
    }
  });
}

void ref_titans_linear(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  const Dimsx d = dims_of(c);
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &TH = c.in[3], &AL = c.input(4), &ET = c.input(5);
  const int64_t DD = d.dv * d.dk;
  std::vector<float> m0((size_t)DD), s0((size_t)DD);
  const int64_t off = mem::read_offset("titansLinear", c.input(9), p.chunk);
  std::vector<double> M((size_t)DD), S((size_t)DD), Anc((size_t)DD), r((size_t)d.dv);
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h) {
      mem::load_state(c.input(6), b, h, DD, m0.data());
      mem::load_state(c.input(7), b, h, DD, s0.data());
      std::copy(m0.begin(), m0.end(), M.begin());
      std::copy(s0.begin(), s0.end(), S.begin());
      Anc = M;  // a chunk a previous call started: its anchor (absent: the initial memory)
      if (off > 0 && c.has_input(8)) {
        mem::load_state(c.input(8), b, h, DD, m0.data());
        std::copy(m0.begin(), m0.end(), Anc.begin());
      }
      for (int64_t t = 0; t < d.T; ++t) {
        if ((off + t) % p.chunk == 0) Anc = M;  // the stale anchor: memory at the chunk start
        const double th = at3(TH, b, t, h);
        const double a = p.decay ? 1.0 - at3(AL, b, t, h) : 1.0;
        const double et = p.momentum ? at3(ET, b, t, h) : 0.0;
        for (int64_t j = 0; j < d.dv; ++j) {
          double mk = 0;
          for (int64_t e = 0; e < d.dk; ++e) mk += Anc[(size_t)(j * d.dk + e)] * at4(K, b, t, h, e);
          r[(size_t)j] = mk - at4(V, b, t, h, j);
        }
        for (int64_t j = 0; j < d.dv; ++j)
          for (int64_t e = 0; e < d.dk; ++e) {
            const size_t i = (size_t)(j * d.dk + e);
            const double u = 2.0 * r[(size_t)j] * at4(K, b, t, h, e);  // grad of ||M k - v||^2
            S[i] = et * S[i] - th * u;
            M[i] = a * M[i] + S[i];
          }
        for (int64_t j = 0; j < d.dv; ++j) {  // write-before-read: y_t = M_t q_t
          double y = 0;
          for (int64_t e = 0; e < d.dk; ++e) y += M[(size_t)(j * d.dk + e)] * at4(Q, b, t, h, e);
          write_f32(c.out[0], ((b * d.T + t) * d.H + h) * d.dv + j, (float)y);
        }
      }
      if (c.out[1].numel()) {
        for (int64_t i = 0; i < DD; ++i) {
          m0[(size_t)i] = (float)M[(size_t)i];
          s0[(size_t)i] = (float)S[(size_t)i];
        }
        mem::store_state(c.out[1], b, h, DD, m0.data());
        mem::store_state(c.out[2], b, h, DD, s0.data());
        const bool boundary = (off + d.T) % p.chunk == 0;  // then the next chunk starts at M
        for (int64_t i = 0; i < DD; ++i) m0[(size_t)i] = (float)(boundary ? M : Anc)[(size_t)i];
        mem::store_state(c.out[3], b, h, DD, m0.data());
      }
    }
  mem::store_offset(c.out[4], (off + d.T) % p.chunk);
}

}  // namespace cpu
}  // namespace engram
