// The TNT token loop of one (batch, head) for every module configuration
// (global + up to 8 locals, linear or residual-MLP memories, momentum/decay,
// every Q-K projection mode, a carried state): ref_tnt in f32. Shared by the
// CUDA kernel (cuda/ops/tnt_token.cu; it runs what the fused linear kernels
// of tnt.cu do not: MLP memories and the 'sequence' projection) and its CPU
// block emulation in test_cuda_math. The working state is the packed state
// layout of engram/tnt_params.h (the output state itself, or a workspace of
// the same layout), so nothing is copied at the end but the header.
//   per token at position p, per module:
//     local:  p % shard == 0: memory = W_init, momentum = 0, Pi = 0 (not 'sequence')
//     p % chunk == 0: anchor = memory (and Pi = 0 for the 'chunk' projection)
//     write:  u = grad ||f(anchor, k) - v||^2; S = eta S - lr u; memory = (1 - alpha) memory + S
//     read:   global: f(anchor, q); local: Pi += k k^T / |k|^2, f(memory, Pi q) (or f(memory, q))
//   o = sum of the reads.
#pragma once
#include <cstdint>

#include "titans_mlp_body.h"  // MlpSeq, MlpState, mlp_write_step, mlp_read

namespace engram {
namespace cuda {

constexpr int kTntTokMods = 9;

struct TntTokMod {
  MlpSeq lr, alpha, eta;              // alpha / eta: p null when off
  MlpState init1, init2;              // W_init (local) / starting memory (global); p null: zeros
  int64_t mem[2], anc[2], mom[2], pi;  // part offsets (floats) in the packed state
  int64_t per[2];                     // floats per (b, h) of memory part 0 / 1 (part 1: MLP W2)
  int64_t chunk, shard;
  int hidden;                         // 0: linear memory M [dv, dk]
  MemAct act;
  bool global, momentum, decay, has_pi;
};

struct TntTokArgs {
  MlpSeq q, k, v;
  const float* pin;  // the carried packed state (null: fresh)
  float* st;         // the working packed state (same layout)
  void* o;
  DType odt;
  int B, T, H, dk, dv, nm, proj;  // proj: (int)TntProj
  int64_t pos0;
  TntTokMod m[kTntTokMods];
};

ENGRAM_HD int tnt_token_smem_floats(int dk, int dv, int dh_max) {
  return 4 * dk + 3 * dv + 4 * dh_max + 3 * kTntTokMods + 1;
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <class X>
ENGRAM_HDT void tnt_token_block(const TntTokArgs& a, int bh, float* sm, int dh_max, const X& x) {
  const int b = bh / a.H, h = bh % a.H, dk = a.dk, dv = a.dv, tid = x.tid(), nt = x.nt();
  constexpr int kChunk = 2, kSequence = 3;  // (int)TntProj::CHUNK, ::SEQUENCE
  float *ks = sm, *qs = ks + dk, *qp = qs + dk, *e = qp + dk, *vs = e + dk, *y = vs + dv, *o = y + dv;
  float *z = o + dv, *hh = z + dh_max, *dl = hh + dh_max, *hq = dl + dh_max, *sc = hq + dh_max,
        *kk = sc + 3 * kTntTokMods;
  const int64_t blk = (int64_t)b * a.H + h;
  // the module's parts for this (b, h)
  auto part = [&](int64_t off, int64_t per) { return a.st + off + blk * per; };
  // start: the carried state, else memory = anchor = init, momentum = 0, Pi = 0
  for (int mi = 0; mi < a.nm; ++mi) {
    const TntTokMod& m = a.m[mi];
    const int nmem = m.hidden ? 2 : 1;
    for (int w = 0; w < nmem; ++w) {
      const int64_t per = m.per[w];
      float *cur = part(m.mem[w], per), *anc = part(m.anc[w], per);
      float* mom = m.momentum ? part(m.mom[w], per) : nullptr;
      const MlpState& init = w ? m.init2 : m.init1;
      const int64_t cols = m.hidden ? (w ? dk : m.hidden) : dk;  // linear M [dv, dk]; W1 [d, dh]; W2 [dh, d]
      for (int64_t i = tid; i < per; i += nt) {
        if (a.pin) {
          cur[i] = a.pin[m.mem[w] + blk * per + i];
          anc[i] = a.pin[m.anc[w] + blk * per + i];
          if (mom) mom[i] = a.pin[m.mom[w] + blk * per + i];
        } else {
          cur[i] = anc[i] = mlp_state(init, b, h, i / cols, i % cols);
          if (mom) mom[i] = 0.0f;
        }
      }
    }
    if (m.has_pi) {
      float* pi = part(m.pi, (int64_t)dk * dk);
      for (int64_t i = tid; i < (int64_t)dk * dk; i += nt) pi[i] = a.pin ? a.pin[m.pi + blk * dk * dk + i] : 0.0f;
    }
  }
  x.sync();
  for (int t = 0; t < a.T; ++t) {
    const int64_t pos = a.pos0 + t;
    for (int i = tid; i < dk; i += nt) {
      ks[i] = mlp_seq(a.k, b, t, h, i);
      qs[i] = mlp_seq(a.q, b, t, h, i);
    }
    for (int j = tid; j < dv; j += nt) {
      vs[j] = mlp_seq(a.v, b, t, h, j);
      o[j] = 0.0f;
    }
    if (tid == 0) {
      float s = 0.0f;
      for (int i = 0; i < dk; ++i) {
        const float kv = mlp_seq(a.k, b, t, h, i);
        s += kv * kv;
      }
      kk[0] = s;
      for (int mi = 0; mi < a.nm; ++mi) {
        const TntTokMod& m = a.m[mi];
        sc[3 * mi] = mlp_seq(m.lr, b, t, h, 0);
        sc[3 * mi + 1] = m.decay ? 1.0f - mlp_seq(m.alpha, b, t, h, 0) : 1.0f;
        sc[3 * mi + 2] = m.momentum ? mlp_seq(m.eta, b, t, h, 0) : 0.0f;
      }
    }
    x.sync();
    for (int mi = 0; mi < a.nm; ++mi) {
      const TntTokMod& m = a.m[mi];
      const int nmem = m.hidden ? 2 : 1;
      const bool reset = !m.global && pos % m.shard == 0, start = pos % m.chunk == 0;
      float *cur0 = part(m.mem[0], m.per[0]), *anc0 = part(m.anc[0], m.per[0]);
      float *cur1 = nmem > 1 ? part(m.mem[1], m.per[1]) : nullptr, *anc1 = nmem > 1 ? part(m.anc[1], m.per[1]) : nullptr;
      float *mom0 = m.momentum ? part(m.mom[0], m.per[0]) : nullptr;
      float *mom1 = m.momentum && nmem > 1 ? part(m.mom[1], m.per[1]) : nullptr;
      float* pi = m.has_pi ? part(m.pi, (int64_t)dk * dk) : nullptr;
      if (reset || start) {
        for (int w = 0; w < nmem; ++w) {
          const int64_t per = m.per[w];
          float *cur = w ? cur1 : cur0, *anc = w ? anc1 : anc0, *mom = w ? mom1 : mom0;
          const MlpState& init = w ? m.init2 : m.init1;
          const int64_t cols = m.hidden ? (w ? dk : m.hidden) : dk;
          for (int64_t i = tid; i < per; i += nt) {
            if (reset) {  // periodic reset to the learnable initial state
              cur[i] = mlp_state(init, b, h, i / cols, i % cols);
              if (mom) mom[i] = 0.0f;
            }
            if (start) anc[i] = cur[i];  // the gradient anchor (and the global's read state)
          }
        }
        if (pi && ((reset && a.proj != kSequence) || (start && a.proj == kChunk)))
          for (int64_t i = tid; i < (int64_t)dk * dk; i += nt) pi[i] = 0.0f;
        x.sync();
      }
      // write: u = grad ||f(anchor, k) - v||^2, S = eta S - lr u, memory = (1 - alpha) memory + S
      const float* g3 = sc + 3 * mi;
      if (m.hidden) {
        mlp_write_step(x, dk, m.hidden, m.act, anc0, anc1, ks, vs, g3, cur0, cur1, mom0, mom1, z, hh, e, dl);
      } else {
        const float lr = g3[0], al = g3[1], et = g3[2];
        for (int j = tid; j < dv; j += nt) {
          float r = -vs[j];
          for (int c = 0; c < dk; ++c) r += anc0[(int64_t)j * dk + c] * ks[c];
          for (int c = 0; c < dk; ++c) {
            const int64_t i = (int64_t)j * dk + c;
            const float u = lr * (2.0f * r * ks[c]);
            if (mom0) {
              mom0[i] = et * mom0[i] - u;
              cur0[i] = al * cur0[i] + mom0[i];
            } else {
              cur0[i] = al * cur0[i] - u;
            }
          }
        }
        x.sync();
      }
      // read: the global at its chunk-start anchor; a local at its memory, through Pi
      const float* W0 = m.global ? anc0 : cur0;
      const float* W1r = m.global ? anc1 : cur1;
      const float* xin = qs;
      if (pi) {
        const float inv = kk[0] > 0.0f ? 1.0f / kk[0] : 0.0f;
        if (kk[0] > 0.0f)
          for (int64_t i = tid; i < (int64_t)dk * dk; i += nt) pi[i] += ks[i / dk] * ks[i % dk] * inv;
        x.sync();
        for (int i = tid; i < dk; i += nt) {
          float s = 0.0f;
          for (int c = 0; c < dk; ++c) s += pi[(int64_t)i * dk + c] * qs[c];
          qp[i] = s;
        }
        x.sync();
        xin = qp;
      }
      if (m.hidden) {
        mlp_read(x, dk, m.hidden, m.act, W0, W1r, xin, z, hq, y);
      } else {
        for (int j = tid; j < dv; j += nt) {
          float s = 0.0f;
          for (int c = 0; c < dk; ++c) s += W0[(int64_t)j * dk + c] * xin[c];
          y[j] = s;
        }
        x.sync();
      }
      for (int j = tid; j < dv; j += nt) o[j] += y[j];
      x.sync();
    }
    for (int j = tid; j < dv; j += nt) store_any(a.o, (((int64_t)b * a.T + t) * a.H + h) * dv + j, a.odt, o[j]);
    x.sync();  // the next token overwrites the vectors and the gates
  }
}

}  // namespace cuda
}  // namespace engram
