// titansMlp on the CPU (semantics: native/core/ops/titans.cpp).
//   ref_titans_mlp: the stale-anchor token loop in double with per-token
//     gradients of the residual MLP memory (the spec).
//   cpu_titans_mlp: the chunk dual form (chunk_mlp.h), one task per (b, h)
//     when there are enough heads, else heads in turn with each chunk step
//     split over hidden-unit slices.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/chunk_mlp.h"
#include "../memory/mem_io.h"
#include "engram/memory_params.h"
#include "engram/threadpool.h"

namespace engram {

int64_t titans_hidden(const OpCall& c);  // native/core/ops/titans.cpp

namespace cpu {

namespace {

struct MlpDims {
  int64_t B, T, H, d, dh;
};
MlpDims mlp_dims(const OpCall& c) {
  return {c.in[0].size(0), c.in[0].size(1), c.in[0].size(2), c.in[0].size(3), titans_hidden(c)};
}

// [rows, w] block <-> interleaved rows of X [rows, sw] at column offset off.
void put_cols(float* X, int64_t rows, int64_t w, int64_t sw, int64_t off, const float* src) {
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * w, src + (r + 1) * w, X + r * sw + off);
}
void get_cols(const float* X, int64_t rows, int64_t w, int64_t sw, int64_t off, float* dst) {
  for (int64_t r = 0; r < rows; ++r) std::copy(X + r * sw + off, X + r * sw + off + w, dst + r * w);
}

}  // namespace

void cpu_titans_mlp(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  const MlpDims m = mlp_dims(c);
  const int64_t d = m.d, dh = m.dh, C = p.chunk, BH = m.B * m.H;
  const mem::ChunkGrid grid{m.T, C, mem::read_offset("titansMlp", c.input(12), C)};
  const int64_t nchunks = grid.count(), end_off = grid.end_offset();
  const bool mom = p.momentum, anc_in = grid.off > 0;
  const int64_t sw1 = mom ? 2 * dh : dh, sw2 = mom ? 2 * d : d, P = d * dh;
  const size_t pf = mem::LinChunk::floats(C, d, d);
  const int64_t ns = mem::plan_slices(BH, dh, 32);

  auto run_head = [&](int64_t bh) {
    const int64_t b = bh / m.H, h = bh % m.H;
    std::vector<float> X1((size_t)(d * sw1)), X2((size_t)(dh * sw2)), tmp((size_t)P), S1l, S2l;
    mem::load_state(c.input(6), b, h, P, tmp.data());
    put_cols(X1.data(), d, dh, sw1, 0, tmp.data());
    mem::load_state(c.input(7), b, h, P, tmp.data());
    put_cols(X2.data(), dh, d, sw2, 0, tmp.data());
    S1l.resize((size_t)P);
    S2l.resize((size_t)P);
    mem::load_state(c.input(8), b, h, P, S1l.data());
    mem::load_state(c.input(9), b, h, P, S2l.data());
    if (mom) {
      put_cols(X1.data(), d, dh, sw1, dh, S1l.data());
      put_cols(X2.data(), dh, d, sw2, d, S2l.data());
    }
    // anchors W1 [d, dh], W2 [dh, d]: the initial ones (the rest of a started chunk), then the final ones
    std::vector<float> A1((size_t)P), A2((size_t)P);
    if (anc_in && c.has_input(10)) mem::load_state(c.input(10), b, h, P, A1.data());
    else get_cols(X1.data(), d, dh, sw1, 0, A1.data());
    if (anc_in && c.has_input(11)) mem::load_state(c.input(11), b, h, P, A2.data());
    else get_cols(X2.data(), dh, d, sw2, 0, A2.data());
    std::vector<float> buf(pf), Y;
    mem::MlpScratch scr;
    for (int64_t n = 0; n < nchunks; ++n) {
      const int64_t t0 = grid.start(n), nn = grid.len(n);
      const bool started = n == 0 && anc_in;  // gradients at the anchors a previous call left
      if (n == nchunks - 1 && end_off && !started) {  // ending inside this chunk: its start memory is the anchor
        get_cols(X1.data(), d, dh, sw1, 0, A1.data());
        get_cols(X2.data(), dh, d, sw2, 0, A2.data());
      }
      mem::LinChunk ch;
      ch.bind(buf.data(), C, nn, d, d, mom);
      mem::load_rows(c.in[0], b, h, t0, nn, ch.Q, d);
      mem::load_rows(c.in[1], b, h, t0, nn, ch.K, d);
      mem::load_rows(c.in[2], b, h, t0, nn, ch.V, d);
      mem::load_gate(c.in[3], b, h, t0, nn, ch.theta());
      mem::load_gate(c.input(4), b, h, t0, nn, ch.alpha(C));
      mem::load_gate(c.input(5), b, h, t0, nn, ch.eta(C));
      mem::lin_prep(ch, C, p.decay);
      Y.resize((size_t)(nn * d));
      const bool last = n == nchunks - 1;
      mem::MlpState st{X1.data(), X2.data()};
      if (started) st.A1 = A1.data(), st.A2 = A2.data(), st.lda1 = dh, st.lda2 = d;
      mem::mlp_step(ch, C, dh, p.act, st, Y.data(), scr, last && !mom ? S1l.data() : nullptr,
                    last && !mom ? S2l.data() : nullptr, ns);
      mem::store_rows(c.out[0], b, h, t0, nn, 0, d, Y.data(), d);
    }
    if (c.out[1].numel()) {
      get_cols(X1.data(), d, dh, sw1, 0, tmp.data());
      mem::store_state(c.out[1], b, h, P, tmp.data());
      get_cols(X2.data(), dh, d, sw2, 0, tmp.data());
      mem::store_state(c.out[2], b, h, P, tmp.data());
      if (mom) {
        get_cols(X1.data(), d, dh, sw1, dh, S1l.data());
        get_cols(X2.data(), dh, d, sw2, d, S2l.data());
      }
      mem::store_state(c.out[3], b, h, P, S1l.data());
      mem::store_state(c.out[4], b, h, P, S2l.data());
      if (!end_off) {  // on a chunk boundary the next chunk starts at the final memory
        get_cols(X1.data(), d, dh, sw1, 0, A1.data());
        get_cols(X2.data(), dh, d, sw2, 0, A2.data());
      }
      mem::store_state(c.out[5], b, h, P, A1.data());
      mem::store_state(c.out[6], b, h, P, A2.data());
    }
  };
  // Tasks over heads, and with fewer heads than threads, over hidden-unit slices inside each chunk.
  if (ns == 1) {
    parallel_for(BH, 1, [&](int64_t a, int64_t e) {
      for (int64_t bh = a; bh < e; ++bh) run_head(bh);
    });
  } else {
    for (int64_t bh = 0; bh < BH; ++bh) run_head(bh);
  }
  mem::store_offset(c.out[7], end_off);
}


void ref_titans_mlp(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  const MlpDims m = mlp_dims(c);
  const int64_t d = m.d, dh = m.dh, P = d * dh;
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &TH = c.in[3], &AL = c.input(4), &ET = c.input(5);
  auto at4 = [](const Tensor& x, int64_t b, int64_t t, int64_t h, int64_t i) {
    return (double)read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2) + i * x.stride(3));
  };
  auto at3 = [](const Tensor& x, int64_t b, int64_t t, int64_t h) {
    return (double)read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2));
  };
  std::vector<float> tmp((size_t)P);
  // W1 [d, dh], W2 [dh, d], momenta S1, S2, anchors A1, A2
  std::vector<double> W1((size_t)P), W2((size_t)P), S1((size_t)P), S2((size_t)P), A1, A2;
  std::vector<double> k((size_t)d), v((size_t)d), q((size_t)d), z((size_t)dh), hh((size_t)dh), e((size_t)d),
      dl((size_t)dh), hq((size_t)dh);
  auto load = [&](int idx, int64_t b, int64_t h, std::vector<double>& dst) {
    mem::load_state(c.input(idx), b, h, P, tmp.data());
    std::copy(tmp.begin(), tmp.end(), dst.begin());
  };
  auto store = [&](int idx, int64_t b, int64_t h, const std::vector<double>& src) {
    for (int64_t i = 0; i < P; ++i) tmp[(size_t)i] = (float)src[(size_t)i];
    mem::store_state(c.out[idx], b, h, P, tmp.data());
  };
  const int64_t off = mem::read_offset("titansMlp", c.input(12), p.chunk);
  for (int64_t b = 0; b < m.B; ++b)
    for (int64_t h = 0; h < m.H; ++h) {
      load(6, b, h, W1);
      load(7, b, h, W2);
      load(8, b, h, S1);
      load(9, b, h, S2);
      A1 = W1, A2 = W2;  // a chunk a previous call started: its anchors (absent: the initial memory)
      if (off > 0 && c.has_input(10)) load(10, b, h, A1);
      if (off > 0 && c.has_input(11)) load(11, b, h, A2);
      for (int64_t t = 0; t < m.T; ++t) {
        if ((off + t) % p.chunk == 0) A1 = W1, A2 = W2;  // stale anchor
        for (int64_t i = 0; i < d; ++i) k[(size_t)i] = at4(K, b, t, h, i), v[(size_t)i] = at4(V, b, t, h, i),
                                        q[(size_t)i] = at4(Q, b, t, h, i);
        const double th = at3(TH, b, t, h), a = p.decay ? 1.0 - at3(AL, b, t, h) : 1.0;
        const double et = p.momentum ? at3(ET, b, t, h) : 0.0;
        // forward of the anchor memory on k: z = W2 k, h = act(z), e = k + W1 h - v
        for (int64_t j = 0; j < dh; ++j) {
          double s = 0;
          for (int64_t i = 0; i < d; ++i) s += A2[(size_t)(j * d + i)] * k[(size_t)i];
          z[(size_t)j] = s;
          hh[(size_t)j] = mem::act_ref(p.act, s);
        }
        for (int64_t i = 0; i < d; ++i) {
          double s = k[(size_t)i] - v[(size_t)i];
          for (int64_t j = 0; j < dh; ++j) s += A1[(size_t)(i * dh + j)] * hh[(size_t)j];
          e[(size_t)i] = s;
        }
        // delta = 2 (W1^T e) * act'(z); grads: dW1 = 2 e h^T, dW2 = delta k^T
        for (int64_t j = 0; j < dh; ++j) {
          double s = 0;
          for (int64_t i = 0; i < d; ++i) s += A1[(size_t)(i * dh + j)] * e[(size_t)i];
          dl[(size_t)j] = 2.0 * s * mem::act_grad_ref(p.act, z[(size_t)j]);
        }
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < dh; ++j) {
            const size_t x = (size_t)(i * dh + j);
            S1[x] = et * S1[x] - th * 2.0 * e[(size_t)i] * hh[(size_t)j];
            W1[x] = a * W1[x] + S1[x];
          }
        for (int64_t j = 0; j < dh; ++j)
          for (int64_t i = 0; i < d; ++i) {
            const size_t x = (size_t)(j * d + i);
            S2[x] = et * S2[x] - th * dl[(size_t)j] * k[(size_t)i];
            W2[x] = a * W2[x] + S2[x];
          }
        // y = q + W1 act(W2 q) with the updated memory
        for (int64_t j = 0; j < dh; ++j) {
          double s = 0;
          for (int64_t i = 0; i < d; ++i) s += W2[(size_t)(j * d + i)] * q[(size_t)i];
          hq[(size_t)j] = mem::act_ref(p.act, s);
        }
        for (int64_t i = 0; i < d; ++i) {
          double s = q[(size_t)i];
          for (int64_t j = 0; j < dh; ++j) s += W1[(size_t)(i * dh + j)] * hq[(size_t)j];
          write_f32(c.out[0], ((b * m.T + t) * m.H + h) * d + i, (float)s);
        }
      }
      if (c.out[1].numel()) {
        store(1, b, h, W1);
        store(2, b, h, W2);
        store(3, b, h, S1);
        store(4, b, h, S2);
        const bool boundary = (off + m.T) % p.chunk == 0;  // then the next chunk starts at W
        store(5, b, h, boundary ? W1 : A1);
        store(6, b, h, boundary ? W2 : A2);
      }
    }
  mem::store_offset(c.out[7], (off + m.T) % p.chunk);
}

}  // namespace cpu
}  // namespace engram
