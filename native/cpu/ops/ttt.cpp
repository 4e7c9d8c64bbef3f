// tttLinear / tttMlp on the CPU (semantics: native/core/ops/ttt.cpp).
//   ref_ttt_*: the primal mini-batch form in double: per token the gradient at
//     the mini-batch anchor, W_t = W0 - c_t sum_{i<=t} eta_i grad_i
//     materialised, o_t = f(q_t; W_t) (the spec).
//   cpu_ttt_*: the dual form (chunk_ttt.h), one task per (b, h) when there
//     are enough heads, else heads in turn with threaded GEMMs and row passes.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/chunk_ttt.h"
#include "../memory/mem_io.h"
#include "engram/memory_params.h"
#include "engram/threadpool.h"

namespace engram {

int64_t ttt_hidden(const OpCall& c);  // native/core/ops/ttt.cpp

namespace cpu {

namespace {

struct TDims {
  int64_t B, T, H, dk, dv, dh;
};
TDims tdims(const OpCall& c, bool mlp) {
  return {c.in[0].size(0), c.in[0].size(1), c.in[0].size(2), c.in[0].size(3), c.in[2].size(3),
          mlp ? ttt_hidden(c) : 0};
}

// Runs fn(bh) for every head: tasks over heads, or heads in turn (inner threading).
template <class F>
void for_heads(int64_t BH, const F& fn) {
  if (BH >= num_threads() || in_parallel_region()) {
    parallel_for(BH, 1, [&](int64_t a, int64_t e) {
      for (int64_t bh = a; bh < e; ++bh) fn(bh);
    });
  } else {
    for (int64_t bh = 0; bh < BH; ++bh) fn(bh);
  }
}

// Loads chunk n of (b, h) and prepares it.
void load_chunk(const OpCall& c, const TttParams& p, const TDims& d, int64_t b, int64_t h, int64_t n,
                mem::TttChunk& ch, std::vector<float>& buf) {
  const int64_t C = p.chunk, t0 = n * C, nn = std::min(C, d.T - t0);
  ch.bind(buf.data(), C, nn, d.dk, d.dv);
  mem::load_rows(c.in[0], b, h, t0, nn, ch.Q, d.dk);
  mem::load_rows(c.in[1], b, h, t0, nn, ch.K, d.dk);
  mem::load_rows(c.in[2], b, h, t0, nn, ch.V, d.dv);
  mem::load_gate(c.in[3], b, h, t0, nn, ch.eta);
  mem::ttt_prep(ch, p);
}

}  // namespace

void cpu_ttt_linear(OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  const TDims d = tdims(c, false);
  const int64_t nchunks = (d.T + p.chunk - 1) / p.chunk;
  for_heads(d.B * d.H, [&](int64_t bh) {
    const int64_t b = bh / d.H, h = bh % d.H;
    std::vector<float> W((size_t)(d.dk * d.dv)), bias((size_t)d.dv), gam((size_t)d.dv), bet((size_t)d.dv);
    mem::load_state(c.input(6), b, h, d.dk * d.dv, W.data());
    mem::load_state(c.input(7), b, h, d.dv, bias.data());
    mem::TttLn ln{mem::load_head_param(c.input(4), h, d.dv, gam.data()) ? gam.data() : nullptr,
                  mem::load_head_param(c.input(5), h, d.dv, bet.data()) ? bet.data() : nullptr};
    std::vector<float> buf(mem::TttChunk::floats(p.chunk, d.dk, d.dv)), Y;
    mem::TttScratch s;
    for (int64_t n = 0; n < nchunks; ++n) {
      mem::TttChunk ch;
      load_chunk(c, p, d, b, h, n, ch, buf);
      Y.resize((size_t)(ch.n * d.dv));
      mem::ttt_linear_step(ch, p, ln, W.data(), p.bias ? bias.data() : nullptr, Y.data(), s);
      mem::store_rows(c.out[0], b, h, n * p.chunk, ch.n, 0, d.dv, Y.data(), d.dv);
    }
    mem::store_state(c.out[1], b, h, d.dk * d.dv, W.data());
    mem::store_state(c.out[2], b, h, d.dv, bias.data());
  });
}

void cpu_ttt_mlp(OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  const TDims d = tdims(c, true);
  const int64_t nchunks = (d.T + p.chunk - 1) / p.chunk;
  for_heads(d.B * d.H, [&](int64_t bh) {
    const int64_t b = bh / d.H, h = bh % d.H;
    std::vector<float> W1((size_t)(d.dk * d.dh)), b1((size_t)d.dh), W2((size_t)(d.dh * d.dv)), b2((size_t)d.dv),
        gam((size_t)d.dv), bet((size_t)d.dv);
    mem::load_state(c.input(6), b, h, d.dk * d.dh, W1.data());
    mem::load_state(c.input(7), b, h, d.dh, b1.data());
    mem::load_state(c.input(8), b, h, d.dh * d.dv, W2.data());
    mem::load_state(c.input(9), b, h, d.dv, b2.data());
    mem::TttLn ln{mem::load_head_param(c.input(4), h, d.dv, gam.data()) ? gam.data() : nullptr,
                  mem::load_head_param(c.input(5), h, d.dv, bet.data()) ? bet.data() : nullptr};
    std::vector<float> buf(mem::TttChunk::floats(p.chunk, d.dk, d.dv)), Y;
    mem::TttScratch s;
    for (int64_t n = 0; n < nchunks; ++n) {
      mem::TttChunk ch;
      load_chunk(c, p, d, b, h, n, ch, buf);
      Y.resize((size_t)(ch.n * d.dv));
      mem::ttt_mlp_step(ch, p, ln, d.dh, W1.data(), p.bias ? b1.data() : nullptr, W2.data(),
                        p.bias ? b2.data() : nullptr, Y.data(), s);
      mem::store_rows(c.out[0], b, h, n * p.chunk, ch.n, 0, d.dv, Y.data(), d.dv);
    }
    mem::store_state(c.out[1], b, h, d.dk * d.dh, W1.data());
    mem::store_state(c.out[2], b, h, d.dh, b1.data());
    mem::store_state(c.out[3], b, h, d.dh * d.dv, W2.data());
    mem::store_state(c.out[4], b, h, d.dv, b2.data());
  });
}

// ---- references (double) ----
namespace {

using Vec = std::vector<double>;

double at4(const Tensor& x, int64_t b, int64_t t, int64_t h, int64_t i) {
  return read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2) + i * x.stride(3));
}

struct RefCtx {
  const OpCall& c;
  const TttParams& p;
  TDims d;
  Vec gamma, beta;  // [dv]
  Vec row(int which, int64_t b, int64_t t, int64_t h, int64_t D) const {
    Vec r((size_t)D);
    for (int64_t i = 0; i < D; ++i) r[(size_t)i] = at4(c.in[which], b, t, h, i);
    return r;
  }
  // LN(z) (or z without LN)
  Vec ln(const Vec& z) const {
    if (!p.layer_norm) return z;
    const double D = (double)z.size();
    double mu = 0, var = 0;
    for (double x : z) mu += x;
    mu /= D;
    for (double x : z) var += (x - mu) * (x - mu);
    var /= D;
    const double rs = 1.0 / std::sqrt(var + p.eps);
    Vec y(z.size());
    for (size_t j = 0; j < z.size(); ++j) y[j] = gamma[j] * (z[j] - mu) * rs + beta[j];
    return y;
  }
  // d/dz || LN(z) - tgt ||^2 via the chain rule through mean and variance.
  Vec loss_grad(const Vec& z, const Vec& tgt) const {
    const size_t D = z.size();
    Vec g(D);
    if (!p.layer_norm) {
      for (size_t j = 0; j < D; ++j) g[j] = 2.0 * (z[j] - tgt[j]);
      return g;
    }
    double mu = 0, var = 0;
    for (double x : z) mu += x;
    mu /= (double)D;
    for (double x : z) var += (x - mu) * (x - mu);
    var /= (double)D;
    const double s = std::sqrt(var + p.eps);
    Vec xh(D), dxh(D);
    for (size_t j = 0; j < D; ++j) {
      xh[j] = (z[j] - mu) / s;
      dxh[j] = 2.0 * (gamma[j] * xh[j] + beta[j] - tgt[j]) * gamma[j];
    }
    // dz_j = (1/s) (dxh_j - mean(dxh) - xh_j mean(dxh * xh))
    double m1 = 0, m2 = 0;
    for (size_t j = 0; j < D; ++j) m1 += dxh[j], m2 += dxh[j] * xh[j];
    m1 /= (double)D, m2 /= (double)D;
    for (size_t j = 0; j < D; ++j) g[j] = (dxh[j] - m1 - xh[j] * m2) / s;
    return g;
  }
  Vec target(const Vec& k, const Vec& v) const {
    Vec t = v;
    if (p.residual)
      for (size_t j = 0; j < t.size(); ++j) t[j] -= k[j];
    return t;
  }
  void out(int64_t b, int64_t t, int64_t h, const Vec& q, const Vec& zb) const {
    Vec y = ln(zb);
    for (int64_t j = 0; j < d.dv; ++j)
      write_f32(c.out[0], ((b * d.T + t) * d.H + h) * d.dv + j, (float)(y[(size_t)j] + (p.residual ? q[(size_t)j] : 0.0)));
  }
  double ct(int64_t local) const { return p.token_idx ? 1.0 / (double)(local + 1) : 1.0; }
  double eta(int64_t b, int64_t t, int64_t h) const {
    const Tensor& g = c.in[3];
    return read_f32(g, b * g.stride(0) + t * g.stride(1) + h * g.stride(2));
  }
};

RefCtx make_ctx(const OpCall& c, bool mlp, int64_t h) {
  RefCtx r{c, c.p<TttParams>(), tdims(c, mlp), {}, {}};
  r.gamma.assign((size_t)r.d.dv, 1.0);
  r.beta.assign((size_t)r.d.dv, 0.0);
  std::vector<float> tmp((size_t)r.d.dv);
  if (mem::load_head_param(c.input(4), h, r.d.dv, tmp.data())) std::copy(tmp.begin(), tmp.end(), r.gamma.begin());
  if (mem::load_head_param(c.input(5), h, r.d.dv, tmp.data())) std::copy(tmp.begin(), tmp.end(), r.beta.begin());
  return r;
}

Vec load_vec(const OpCall& c, int idx, int64_t b, int64_t h, int64_t n) {
  std::vector<float> f((size_t)n);
  mem::load_state(c.input(idx), b, h, n, f.data());
  return Vec(f.begin(), f.end());
}
void store_vec(const OpCall& c, int idx, int64_t b, int64_t h, const Vec& v) {
  std::vector<float> f(v.begin(), v.end());
  mem::store_state(c.out[idx], b, h, (int64_t)f.size(), f.data());
}

}  // namespace

void ref_ttt_linear(OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  const TDims d = tdims(c, false);
  const int64_t dk = d.dk, dv = d.dv;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h) {
      RefCtx r = make_ctx(c, false, h);
      Vec W = load_vec(c, 6, b, h, dk * dv), bias = p.bias ? load_vec(c, 7, b, h, dv) : Vec((size_t)dv, 0.0);
      for (int64_t t0 = 0; t0 < d.T; t0 += p.chunk) {
        const int64_t n = std::min(p.chunk, d.T - t0);
        const Vec W0 = W, b0 = bias;
        Vec gW((size_t)(dk * dv), 0.0), gb((size_t)dv, 0.0);  // sum_{i<=t} eta_i grad_i
        for (int64_t i = 0; i < n; ++i) {
          const int64_t t = t0 + i;
          const Vec k = r.row(1, b, t, h, dk), v = r.row(2, b, t, h, dv), q = r.row(0, b, t, h, dk);
          Vec z((size_t)dv);
          for (int64_t j = 0; j < dv; ++j) {
            double s = b0[(size_t)j];
            for (int64_t e = 0; e < dk; ++e) s += k[(size_t)e] * W0[(size_t)(e * dv + j)];
            z[(size_t)j] = s;
          }
          const Vec gz = r.loss_grad(z, r.target(k, v));  // gradient at the anchor
          const double et = r.eta(b, t, h);
          for (int64_t e = 0; e < dk; ++e)
            for (int64_t j = 0; j < dv; ++j) gW[(size_t)(e * dv + j)] += et * k[(size_t)e] * gz[(size_t)j];
          for (int64_t j = 0; j < dv; ++j) gb[(size_t)j] += et * gz[(size_t)j];
          const double ct = r.ct(i);
          for (size_t x = 0; x < W.size(); ++x) W[x] = W0[x] - ct * gW[x];  // W_t
          if (p.bias)
            for (size_t x = 0; x < bias.size(); ++x) bias[x] = b0[x] - ct * gb[x];
          Vec zb((size_t)dv);
          for (int64_t j = 0; j < dv; ++j) {
            double s = bias[(size_t)j];
            for (int64_t e = 0; e < dk; ++e) s += q[(size_t)e] * W[(size_t)(e * dv + j)];
            zb[(size_t)j] = s;
          }
          r.out(b, t, h, q, zb);
        }
      }
      if (c.out[1].numel()) store_vec(c, 1, b, h, W);
      if (c.out[2].numel()) store_vec(c, 2, b, h, bias);
    }
}

void ref_ttt_mlp(OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  const TDims d = tdims(c, true);
  const int64_t dk = d.dk, dv = d.dv, dh = d.dh;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h) {
      RefCtx r = make_ctx(c, true, h);
      Vec W1 = load_vec(c, 6, b, h, dk * dh), W2 = load_vec(c, 8, b, h, dh * dv);
      Vec b1 = p.bias ? load_vec(c, 7, b, h, dh) : Vec((size_t)dh, 0.0);
      Vec b2 = p.bias ? load_vec(c, 9, b, h, dv) : Vec((size_t)dv, 0.0);
      for (int64_t t0 = 0; t0 < d.T; t0 += p.chunk) {
        const int64_t n = std::min(p.chunk, d.T - t0);
        const Vec A1 = W1, A2 = W2, c1 = b1, c2 = b2;  // anchors
        Vec g1((size_t)(dk * dh), 0.0), g2((size_t)(dh * dv), 0.0), gb1((size_t)dh, 0.0), gb2((size_t)dv, 0.0);
        for (int64_t i = 0; i < n; ++i) {
          const int64_t t = t0 + i;
          const Vec k = r.row(1, b, t, h, dk), v = r.row(2, b, t, h, dv), q = r.row(0, b, t, h, dk);
          // forward at the anchor: z1 = k W1 + b1, x2 = act(z1), z2 = x2 W2 + b2
          Vec z1((size_t)dh), x2((size_t)dh), z2((size_t)dv);
          for (int64_t j = 0; j < dh; ++j) {
            double s = c1[(size_t)j];
            for (int64_t e = 0; e < dk; ++e) s += k[(size_t)e] * A1[(size_t)(e * dh + j)];
            z1[(size_t)j] = s;
            x2[(size_t)j] = mem::act_ref(p.act, s);
          }
          for (int64_t j = 0; j < dv; ++j) {
            double s = c2[(size_t)j];
            for (int64_t e = 0; e < dh; ++e) s += x2[(size_t)e] * A2[(size_t)(e * dv + j)];
            z2[(size_t)j] = s;
          }
          const Vec gz2 = r.loss_grad(z2, r.target(k, v));
          Vec gz1((size_t)dh);
          for (int64_t e = 0; e < dh; ++e) {
            double s = 0;
            for (int64_t j = 0; j < dv; ++j) s += gz2[(size_t)j] * A2[(size_t)(e * dv + j)];
            gz1[(size_t)e] = s * mem::act_grad_ref(p.act, z1[(size_t)e]);
          }
          const double et = r.eta(b, t, h), ct = r.ct(i);
          for (int64_t e = 0; e < dk; ++e)
            for (int64_t j = 0; j < dh; ++j) g1[(size_t)(e * dh + j)] += et * k[(size_t)e] * gz1[(size_t)j];
          for (int64_t e = 0; e < dh; ++e)
            for (int64_t j = 0; j < dv; ++j) g2[(size_t)(e * dv + j)] += et * x2[(size_t)e] * gz2[(size_t)j];
          for (int64_t j = 0; j < dh; ++j) gb1[(size_t)j] += et * gz1[(size_t)j];
          for (int64_t j = 0; j < dv; ++j) gb2[(size_t)j] += et * gz2[(size_t)j];
          for (size_t x = 0; x < W1.size(); ++x) W1[x] = A1[x] - ct * g1[x];
          for (size_t x = 0; x < W2.size(); ++x) W2[x] = A2[x] - ct * g2[x];
          if (p.bias) {
            for (size_t x = 0; x < b1.size(); ++x) b1[x] = c1[x] - ct * gb1[x];
            for (size_t x = 0; x < b2.size(); ++x) b2[x] = c2[x] - ct * gb2[x];
          }
          // o_t = f(q; W_t)
          Vec xq((size_t)dh), zb((size_t)dv);
          for (int64_t j = 0; j < dh; ++j) {
            double s = b1[(size_t)j];
            for (int64_t e = 0; e < dk; ++e) s += q[(size_t)e] * W1[(size_t)(e * dh + j)];
            xq[(size_t)j] = mem::act_ref(p.act, s);
          }
          for (int64_t j = 0; j < dv; ++j) {
            double s = b2[(size_t)j];
            for (int64_t e = 0; e < dh; ++e) s += xq[(size_t)e] * W2[(size_t)(e * dv + j)];
            zb[(size_t)j] = s;
          }
          r.out(b, t, h, q, zb);
        }
      }
      if (c.out[1].numel()) store_vec(c, 1, b, h, W1);
      if (c.out[2].numel()) store_vec(c, 2, b, h, b1);
      if (c.out[3].numel()) store_vec(c, 3, b, h, W2);
      if (c.out[4].numel()) store_vec(c, 4, b, h, b2);
    }
}

}  // namespace cpu
}  // namespace engram
