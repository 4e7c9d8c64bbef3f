// trellis on the CPU (semantics: native/core/ops/trellis.cpp, docs/trellis.md).
//   ref_trellis: the token loop in double (the spec).
//   cpu_trellis: mode 'chunk': the phased chunk form of memory/chunk_trellis.h,
//     one task per (b, h), or with fewer heads than threads each phase spread
//     over slot / token / value-channel slices of every head; mode
//     'recurrent': the same function as an f32 token loop over (b, h), O(m d)
//     per token (decoding).
#include <algorithm>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/chunk_trellis.h"
#include "../memory/mem_io.h"
#include "engram/threadpool.h"
#include "engram/trellis_hd.h"

namespace engram {
namespace cpu {

namespace {

namespace I = trellis_in;
namespace O = trellis_out;

struct TrDims {
  int64_t B, T, H, dk, dv, m, C, offset;
  bool mom, slot, decay;
};

TrDims dims_of(const OpCall& c) {
  TrDims d;
  d.B = c.in[I::Q].size(0), d.T = c.in[I::Q].size(1), d.H = c.in[I::Q].size(2);
  d.dk = c.in[I::Q].size(3), d.dv = c.in[I::V].size(3), d.m = c.in[I::ALPHA].size(3);
  d.C = c.p<TrellisParams>().chunk;
  d.mom = c.has_input(I::ETA);
  d.slot = c.has_input(I::BETA) && c.in[I::BETA].ndim() == 4;
  d.decay = c.has_input(I::BETA) && !d.slot;
  d.offset = c.has_input(I::OFFSET) ? *static_cast<const int32_t*>(c.in[I::OFFSET].raw()) : 0;
  return d;
}

void store_offset(const OpCall& c, const TrDims& d) {
  if (c.out[O::OFFSET].numel()) c.out[O::OFFSET].data<int32_t>()[0] = (int32_t)((d.offset + d.T) % d.C);
}

double at4(const Tensor& x, int64_t b, int64_t t, int64_t h, int64_t j) {
  return read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2) + j * x.stride(3));
}
double at3(const Tensor& g, int64_t b, int64_t t, int64_t h) {
  return read_f32(g, b * g.stride(0) + t * g.stride(1) + h * g.stride(2));
}

// The initial memories of (b, h) as row-major [m, d] f32 blocks: M, S (zeros
// when absent) and the anchor (the carried anchor, else the memory).
void load_mem(const OpCall& c, int in_m, int in_s, int in_a, int64_t b, int64_t h, int64_t per, float* M, float* S,
              float* A) {
  mem::load_state(c.input(in_m), b, h, per, M);
  if (S) mem::load_state(c.input(in_s), b, h, per, S);
  if (c.has_input(in_a)) mem::load_state(c.input(in_a), b, h, per, A);
  else std::copy(M, M + per, A);
}

}  // namespace

void ref_trellis(OpCall& c) {
  const TrellisParams& p = c.p<TrellisParams>();
  const TrDims d = dims_of(c);
  const int64_t m = d.m, dk = d.dk, dv = d.dv;
  const Tensor &Q = c.in[I::Q], &K = c.in[I::K], &V = c.in[I::V], &AL = c.in[I::ALPHA];
  const Tensor &BE = c.input(I::BETA), &GA = c.input(I::GAMMA), &ET = c.input(I::ETA);
  std::vector<float> f(std::max(m * dk, m * dv));
  auto load = [&](int in, int64_t b, int64_t h, int64_t per, std::vector<double>& x) {
    mem::load_state(c.input(in), b, h, per, f.data());
    x.assign(f.begin(), f.begin() + per);
  };
  auto store = [&](int out, int64_t b, int64_t h, const std::vector<double>& x) {
    if (c.out[out].numel() == 0) return;
    for (size_t i = 0; i < x.size(); ++i) f[i] = (float)x[i];
    mem::store_state(c.out[out], b, h, (int64_t)x.size(), f.data());
  };
  std::vector<double> MK, MV, SK, SV, AK, AV, z(m), u(m), a(m), be(m), s(m), kt(dk), qt(dk), vt(dv);
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h) {
      load(I::MK, b, h, m * dk, MK);
      load(I::MV, b, h, m * dv, MV);
      load(I::SK, b, h, m * dk, SK);
      load(I::SV, b, h, m * dv, SV);
      if (c.has_input(I::AK)) load(I::AK, b, h, m * dk, AK);
      else AK = MK;
      if (c.has_input(I::AV)) load(I::AV, b, h, m * dv, AV);
      else AV = MV;
      // One pass: M [m, w] (+ momentum S) written with vector x, anchor A.
      auto pass = [&](std::vector<double>& M, std::vector<double>& S, const std::vector<double>& A,
                      const std::vector<double>& x, int64_t w, double gam, double eta) {
        for (int64_t r = 0; r < m; ++r) {
          double acc = 0;
          for (int64_t e = 0; e < w; ++e) acc += A[(size_t)(r * w + e)] * x[(size_t)e];
          z[(size_t)r] = acc;
        }
        if (p.write == TrellisWrite::ADDITIVE)
          for (int64_t r = 0; r < m; ++r) u[(size_t)r] = -a[(size_t)r];
        else
          tr_phi_grad_row<double>(p.phi, (int)m, z.data(), a.data(), (double)p.eps, u.data());
        for (int64_t r = 0; r < m; ++r)
          for (int64_t e = 0; e < w; ++e) {
            const size_t i = (size_t)(r * w + e);
            const double step = gam * u[(size_t)r] * x[(size_t)e];  // gamma * grad of the loss w.r.t. M
            if (d.mom) {
              S[i] = eta * S[i] - step;
              M[i] = be[(size_t)r] * M[i] + S[i];
            } else {
              M[i] = be[(size_t)r] * M[i] - step;
            }
          }
      };
      for (int64_t t = 0; t < d.T; ++t) {
        if ((d.offset + t) % d.C == 0) {  // a new chunk: the anchors are the memories now
          AK = MK;
          AV = MV;
        }
        const double gam = c.has_input(I::GAMMA) ? at3(GA, b, t, h) : (double)p.lr;
        const double eta = d.mom ? at3(ET, b, t, h) : 0.0;
        for (int64_t r = 0; r < m; ++r) {
          a[(size_t)r] = at4(AL, b, t, h, r);
          be[(size_t)r] = d.slot ? at4(BE, b, t, h, r) : d.decay ? at3(BE, b, t, h) : 1.0;
        }
        for (int64_t e = 0; e < dk; ++e) {
          kt[(size_t)e] = at4(K, b, t, h, e);
          qt[(size_t)e] = at4(Q, b, t, h, e);
        }
        for (int64_t j = 0; j < dv; ++j) vt[(size_t)j] = at4(V, b, t, h, j);
        pass(MK, SK, AK, kt, dk, gam, eta);  // pass 1: key memory
        for (int64_t r = 0; r < m; ++r) {      // slot scores from the updated key memory
          double acc = 0;
          for (int64_t e = 0; e < dk; ++e) acc += MK[(size_t)(r * dk + e)] * qt[(size_t)e];
          s[(size_t)r] = acc;
        }
        tr_f_row<double>(p.f, (int)m, s.data(), (double)p.scale, (double)p.eps, s.data());
        pass(MV, SV, AV, vt, dv, gam, eta);  // pass 2: value memory
        for (int64_t j = 0; j < dv; ++j) {     // o = MV^T s
          double y = 0;
          for (int64_t r = 0; r < m; ++r) y += s[(size_t)r] * MV[(size_t)(r * dv + j)];
          write_f32(c.out[O::O], ((b * d.T + t) * d.H + h) * dv + j, (float)y);
        }
      }
      store(O::MK, b, h, MK);
      store(O::MV, b, h, MV);
      store(O::SK, b, h, SK);
      store(O::SV, b, h, SV);
      store(O::AK, b, h, AK);
      store(O::AV, b, h, AV);
    }
  store_offset(c, d);
}

namespace {

// mode 'recurrent': per (b, h) the token loop in f32, O(m (dk + dv)) per token.
void trellis_recurrent(OpCall& c) {
  const TrellisParams& p = c.p<TrellisParams>();
  const TrDims d = dims_of(c);
  const int64_t m = d.m, dk = d.dk, dv = d.dv, BH = d.B * d.H, TB = std::max<int64_t>(1, std::min<int64_t>(64, d.T));
  parallel_for(BH, 1, [&](int64_t a0, int64_t a1) {
    std::vector<float> MK(m * dk), MV(m * dv), SK(d.mom ? m * dk : 0), SV(d.mom ? m * dv : 0), AK(m * dk), AV(m * dv);
    std::vector<float> q(TB * dk), k(TB * dk), v(TB * dv), al(TB * m), bs(d.slot ? TB * m : 0), g(3 * TB), y(TB * dv);
    std::vector<float> z(m), u(m), s(m), be(m);
    for (int64_t bh = a0; bh < a1; ++bh) {
      const int64_t b = bh / d.H, h = bh % d.H;
      load_mem(c, I::MK, I::SK, I::AK, b, h, m * dk, MK.data(), d.mom ? SK.data() : nullptr, AK.data());
      load_mem(c, I::MV, I::SV, I::AV, b, h, m * dv, MV.data(), d.mom ? SV.data() : nullptr, AV.data());
      auto pass = [&](float* M, float* S, const float* A, const float* x, int64_t w, const float* al_t, float gam,
                      float eta) {
        for (int64_t r = 0; r < m; ++r) z[r] = mem::vdot(w, A + r * w, x);
        if (p.write == TrellisWrite::ADDITIVE)
          for (int64_t r = 0; r < m; ++r) u[r] = -al_t[r];
        else
          tr_phi_grad_row<float>(p.phi, (int)m, z.data(), al_t, p.eps, u.data());
        for (int64_t r = 0; r < m; ++r) {
          float* row = M + r * w;
          if (d.mom) {
            float* srow = S + r * w;
            mem::vscale(w, eta, srow);
            mem::vaxpy(w, -gam * u[r], x, srow);
            mem::vaxpby(w, 1.0f, srow, be[r], row);
          } else {
            mem::vscale(w, be[r], row);
            mem::vaxpy(w, -gam * u[r], x, row);
          }
        }
      };
      for (int64_t t0 = 0; t0 < d.T; t0 += TB) {
        const int64_t nb = std::min(TB, d.T - t0);
        mem::load_rows(c.in[I::Q], b, h, t0, nb, q.data(), dk);
        mem::load_rows(c.in[I::K], b, h, t0, nb, k.data(), dk);
        mem::load_rows(c.in[I::V], b, h, t0, nb, v.data(), dv);
        mem::load_rows(c.in[I::ALPHA], b, h, t0, nb, al.data(), m);
        if (d.slot) mem::load_rows(c.in[I::BETA], b, h, t0, nb, bs.data(), m);
        if (d.decay) mem::load_gate(c.in[I::BETA], b, h, t0, nb, g.data());
        if (c.has_input(I::GAMMA)) mem::load_gate(c.in[I::GAMMA], b, h, t0, nb, g.data() + TB);
        else std::fill(g.begin() + TB, g.begin() + 2 * TB, p.lr);
        if (d.mom) mem::load_gate(c.in[I::ETA], b, h, t0, nb, g.data() + 2 * TB);
        for (int64_t i = 0; i < nb; ++i) {
          if ((d.offset + t0 + i) % d.C == 0) {
            std::copy(MK.begin(), MK.end(), AK.begin());
            std::copy(MV.begin(), MV.end(), AV.begin());
          }
          for (int64_t r = 0; r < m; ++r) be[r] = d.slot ? bs[i * m + r] : d.decay ? g[i] : 1.0f;
          const float gam = g[TB + i], eta = d.mom ? g[2 * TB + i] : 0.0f;
          const float* al_t = al.data() + i * m;
          pass(MK.data(), SK.data(), AK.data(), k.data() + i * dk, dk, al_t, gam, eta);
          for (int64_t r = 0; r < m; ++r) s[r] = mem::vdot(dk, MK.data() + r * dk, q.data() + i * dk);
          tr_f_row<float>(p.f, (int)m, s.data(), p.scale, p.eps, s.data());
          pass(MV.data(), SV.data(), AV.data(), v.data() + i * dv, dv, al_t, gam, eta);
          float* yt = y.data() + i * dv;
          std::fill(yt, yt + dv, 0.0f);
          for (int64_t r = 0; r < m; ++r) mem::vaxpy(dv, s[r], MV.data() + r * dv, yt);
        }
        mem::store_rows(c.out[O::O], b, h, t0, nb, 0, dv, y.data(), dv);
      }
      mem::store_state(c.out[O::MK], b, h, m * dk, MK.data());
      mem::store_state(c.out[O::MV], b, h, m * dv, MV.data());
      if (d.mom) {
        mem::store_state(c.out[O::SK], b, h, m * dk, SK.data());
        mem::store_state(c.out[O::SV], b, h, m * dv, SV.data());
      }
      mem::store_state(c.out[O::AK], b, h, m * dk, AK.data());
      mem::store_state(c.out[O::AV], b, h, m * dv, AV.data());
    }
  });
  store_offset(c, d);
}

// Loads (b, h)'s initial state into the chunk layout (KX = [MK^T; SK^T], VX = [MV; SV], AKt, AV).
void head_load(const OpCall& c, const TrDims& d, int64_t bh, mem::TrHead& hd) {
  const int64_t m = d.m, dk = d.dk, dv = d.dv, b = bh / d.H, h = bh % d.H;
  std::vector<float> M(m * dk), S(d.mom ? m * dk : 0), A(m * dk);
  load_mem(c, I::MK, I::SK, I::AK, b, h, m * dk, M.data(), d.mom ? S.data() : nullptr, A.data());
  for (int64_t r = 0; r < m; ++r)
    for (int64_t e = 0; e < dk; ++e) {
      hd.KX[e * m + r] = M[r * dk + e];
      if (d.mom) hd.KX[(dk + e) * m + r] = S[r * dk + e];
      hd.AKt[e * m + r] = A[r * dk + e];
    }
  load_mem(c, I::MV, I::SV, I::AV, b, h, m * dv, hd.VX, d.mom ? hd.VX + m * dv : nullptr, hd.AV);
}

void head_store(const OpCall& c, const TrDims& d, int64_t bh, const mem::TrHead& hd) {
  if (c.out[O::MK].numel() == 0) return;
  const int64_t m = d.m, dk = d.dk, dv = d.dv, b = bh / d.H, h = bh % d.H;
  std::vector<float> M(m * dk);
  auto untranspose = [&](const float* X, int out) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t e = 0; e < dk; ++e) M[r * dk + e] = X[e * m + r];
    mem::store_state(c.out[out], b, h, m * dk, M.data());
  };
  untranspose(hd.KX, O::MK);
  mem::store_state(c.out[O::MV], b, h, m * dv, hd.VX);
  if (d.mom) {
    untranspose(hd.KX + dk * m, O::SK);
    mem::store_state(c.out[O::SV], b, h, m * dv, hd.VX + m * dv);
  }
  untranspose(hd.AKt, O::AK);
  mem::store_state(c.out[O::AV], b, h, m * dv, hd.AV);
}

}  // namespace

void cpu_trellis(OpCall& c) {
  const TrellisParams& p = c.p<TrellisParams>();
  if (p.recurrent) {
    trellis_recurrent(c);
    return;
  }
  const TrDims d = dims_of(c);
  const int64_t m = d.m, dk = d.dk, dv = d.dv, C = d.C, BH = d.B * d.H;
  // The chunk grid follows absolute positions: a call that starts mid-chunk
  // (offset > 0) first finishes that chunk with the carried anchors.
  const int64_t n0 = std::min(d.T, d.offset > 0 ? C - d.offset : C);
  const int64_t nchunks = d.T == 0 ? 0 : 1 + (d.T - n0 + C - 1) / C;
  auto bounds = [&](int64_t k, int64_t* t0, int64_t* n) {
    *t0 = k == 0 ? 0 : n0 + (k - 1) * C;
    *n = k == 0 ? n0 : std::min(C, d.T - *t0);
  };
  const bool want_anchor = c.out[O::AK].numel() > 0;
  const int64_t ns = mem::plan_slices(BH, m, 16);
  const size_t hf = mem::TrHead::floats(C, dk, dv, m, d.mom, ns), cf = mem::TrChunk::floats(C, dk, dv, m);
  const size_t sf = mem::tr_scratch_floats(C, dk, m, m);
  auto load_chunk = [&](int64_t bh, int64_t k, float* buf, mem::TrChunk& ch) {
    const int64_t b = bh / d.H, h = bh % d.H;
    int64_t t0, n;
    bounds(k, &t0, &n);
    ch.bind(buf, C, n, dk, dv, m, d.mom, d.slot, d.decay);
    mem::load_rows(c.in[I::Q], b, h, t0, n, ch.lin.Q, dk);
    mem::load_rows(c.in[I::K], b, h, t0, n, ch.lin.K, dk);
    mem::load_rows(c.in[I::V], b, h, t0, n, ch.V, dv);
    mem::load_rows(c.in[I::ALPHA], b, h, t0, n, ch.alpha, m);
    if (c.has_input(I::GAMMA)) mem::load_gate(c.in[I::GAMMA], b, h, t0, n, ch.gamma());
    else std::fill(ch.gamma(), ch.gamma() + n, p.lr);
    if (d.mom) mem::load_gate(c.in[I::ETA], b, h, t0, n, ch.eta());
    if (d.slot) mem::load_rows(c.in[I::BETA], b, h, t0, n, ch.bslot, m);
    if (d.decay) {
      float* a = ch.one_minus_beta();
      mem::load_gate(c.in[I::BETA], b, h, t0, n, a);
      for (int64_t i = 0; i < n; ++i) a[i] = 1.0f - a[i];
    }
    mem::tr_prep(ch);
  };
  auto store_out = [&](int64_t bh, int64_t k, const mem::TrHead& hd, int64_t j0, int64_t w) {
    int64_t t0, n;
    bounds(k, &t0, &n);
    mem::store_rows(c.out[O::O], bh / d.H, bh % d.H, t0, n, j0, w, hd.Yo + j0, dv);
  };
  auto is_anchored = [&](int64_t k) { return k == 0 && d.offset > 0; };
  auto saves = [&](int64_t k) { return want_anchor && k == nchunks - 1; };

  if (ns == 1) {
    parallel_for(BH, 1, [&](int64_t a0, int64_t a1) {
      std::vector<float> hb(hf), cb(cf), sc(sf);
      mem::TrHead hd;
      hd.bind(hb.data(), C, dk, dv, m, d.mom, 1);
      for (int64_t bh = a0; bh < a1; ++bh) {
        head_load(c, d, bh, hd);
        for (int64_t k = 0; k < nchunks; ++k) {
          mem::TrChunk ch;
          load_chunk(bh, k, cb.data(), ch);
          mem::tr_p1(ch, hd, 0, m, is_anchored(k), saves(k));
          mem::tr_p2(ch, p, hd, 0, ch.n);
          mem::tr_p3(ch, hd, 0, m, sc.data());
          mem::tr_p4(ch, p, hd, 0, ch.n);
          mem::tr_p5(ch, hd, 0, 0, m, sc.data());
          mem::tr_p6(ch, hd, 1, 0, dv);
          store_out(bh, k, hd, 0, dv);
        }
        head_store(c, d, bh, hd);
      }
    });
    store_offset(c, d);
    return;
  }

  // Fewer heads than threads: every head in flight at once, each phase of a
  // chunk one parallel_for over (head, slice); chunk preparation (state-free)
  // runs ahead in parallel over blocks of chunks.
  std::vector<float> heads(hf * (size_t)BH);
  std::vector<mem::TrHead> hds((size_t)BH);
  parallel_for(BH, 1, [&](int64_t a0, int64_t a1) {
    for (int64_t bh = a0; bh < a1; ++bh) {
      hds[(size_t)bh].bind(heads.data() + hf * (size_t)bh, C, dk, dv, m, d.mom, ns);
      head_load(c, d, bh, hds[(size_t)bh]);
    }
  });
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(nchunks, 2048 / C));
  std::vector<float> bufs((size_t)(BH * block) * cf);
  std::vector<mem::TrChunk> chs((size_t)(BH * block));
  auto phase = [&](const std::function<void(int64_t bh, int64_t s)>& fn) {
    parallel_for(BH * ns, 1, [&](int64_t a0, int64_t a1) {
      for (int64_t i = a0; i < a1; ++i) fn(i / ns, i % ns);
    });
  };
  for (int64_t k0 = 0; k0 < nchunks; k0 += block) {
    const int64_t nb = std::min(block, nchunks - k0);
    parallel_for(BH * nb, 1, [&](int64_t a0, int64_t a1) {
      for (int64_t i = a0; i < a1; ++i) {
        const size_t at = (size_t)((i / nb) * block + i % nb);
        load_chunk(i / nb, k0 + i % nb, bufs.data() + at * cf, chs[at]);
      }
    });
    for (int64_t kk = 0; kk < nb; ++kk) {
      const int64_t k = k0 + kk;
      auto chunk_of = [&](int64_t bh) -> const mem::TrChunk& { return chs[(size_t)(bh * block + kk)]; };
      auto slots = [&](int64_t s, int64_t* j0, int64_t* w) { mem::slice_range(m, ns, s, j0, w); };
      phase([&](int64_t bh, int64_t s) {
        int64_t j0, w;
        slots(s, &j0, &w);
        if (w) mem::tr_p1(chunk_of(bh), hds[(size_t)bh], j0, w, is_anchored(k), saves(k));
      });
      phase([&](int64_t bh, int64_t s) {
        const mem::TrChunk& ch = chunk_of(bh);
        int64_t t0, w;
        mem::slice_range(ch.n, ns, s, &t0, &w);
        mem::tr_p2(ch, p, hds[(size_t)bh], t0, t0 + w);
      });
      phase([&](int64_t bh, int64_t s) {
        thread_local std::vector<float> sc;
        int64_t j0, w;
        slots(s, &j0, &w);
        sc.resize(sf);
        if (w) mem::tr_p3(chunk_of(bh), hds[(size_t)bh], j0, w, sc.data());
      });
      phase([&](int64_t bh, int64_t s) {
        const mem::TrChunk& ch = chunk_of(bh);
        int64_t t0, w;
        mem::slice_range(ch.n, ns, s, &t0, &w);
        mem::tr_p4(ch, p, hds[(size_t)bh], t0, t0 + w);
      });
      phase([&](int64_t bh, int64_t s) {
        thread_local std::vector<float> sc;
        const mem::TrChunk& ch = chunk_of(bh);
        int64_t j0, w;
        slots(s, &j0, &w);
        sc.resize(sf);
        mem::TrHead& hd = hds[(size_t)bh];
        if (w) {
          mem::tr_p5(ch, hd, s, j0, w, sc.data());
        } else {  // an empty slice adds nothing to the sums of P6
          std::fill(hd.W2p + s * C * C, hd.W2p + s * C * C + ch.n * ch.n, 0.0f);
          std::fill(hd.Yp + s * C * dv, hd.Yp + s * C * dv + ch.n * dv, 0.0f);
        }
      });
      phase([&](int64_t bh, int64_t s) {
        int64_t j0, w;
        mem::slice_range(dv, ns, s, &j0, &w);
        if (!w) return;
        mem::tr_p6(chunk_of(bh), hds[(size_t)bh], ns, j0, w);
        store_out(bh, k, hds[(size_t)bh], j0, w);
      });
    }
  }
  parallel_for(BH, 1, [&](int64_t a0, int64_t a1) {
    for (int64_t bh = a0; bh < a1; ++bh) head_store(c, d, bh, hds[(size_t)bh]);
  });
  store_offset(c, d);
}

}  // namespace cpu
}  // namespace engram
