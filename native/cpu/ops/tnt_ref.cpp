// ref_tnt: the readable token loop of TNT in double (algorithms.md §4(b),
// generalised to N local memories, momentum/decay per module, MLP memories,
// the Q-K projection modes and a carried state). This is the spec the fast
// kernels (tnt.cpp, cuda/ops/tnt.cu) are checked against.
//
//   for each token t at absolute position p:
//     global: if p % C_G == 0: anchor = memory           (chunk start)
//     local:  if p % S_L == 0: memory = W_init, momentum = 0, Pi = 0 (shard reset)
//             if p % C_L == 0: anchor = memory
//     every module: u = grad ||f(anchor, k) - v||^2;  S = eta S - lr u;  memory = (1 - alpha) memory + S
//     local: Pi += k k^T / ||k||^2;  o_t += f(memory, Pi q)      (write-before-read)
//     global: o_t += f(anchor, q)                                 (frozen chunk-start read)
#include <algorithm>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/mem_io.h"
#include "engram/tnt_params.h"

namespace engram {
namespace cpu {

namespace {

using Vec = std::vector<double>;

struct RefMod {
  Vec cur[2], anc[2], mom[2], init[2], pi;
};

double at4(const Tensor& x, int64_t b, int64_t t, int64_t h, int64_t i) {
  return read_f32(x, b * x.stride(0) + t * x.stride(1) + h * x.stride(2) + i * x.stride(3));
}
double at3(const Tensor& g, int64_t b, int64_t t, int64_t h) {
  return read_f32(g, b * g.stride(0) + t * g.stride(1) + h * g.stride(2));
}

// f(W, x) for the linear memory W [dv, dk] or the residual MLP (W1 [d, dh], W2 [dh, d]).
void read_mem(const TntModule& md, const Vec* W, const Vec& x, int64_t dk, int64_t dv, Vec& y) {
  if (!md.mlp()) {
    for (int64_t j = 0; j < dv; ++j) {
      double s = 0;
      for (int64_t e = 0; e < dk; ++e) s += W[0][(size_t)(j * dk + e)] * x[(size_t)e];
      y[(size_t)j] = s;
    }
    return;
  }
  const int64_t d = dk, dh = md.hidden;
  Vec hq((size_t)dh);
  for (int64_t j = 0; j < dh; ++j) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += W[1][(size_t)(j * d + i)] * x[(size_t)i];
    hq[(size_t)j] = mem::act_ref(md.act, s);
  }
  for (int64_t i = 0; i < d; ++i) {
    double s = x[(size_t)i];
    for (int64_t j = 0; j < dh; ++j) s += W[0][(size_t)(i * dh + j)] * hq[(size_t)j];
    y[(size_t)i] = s;
  }
}

// Gradients of ||f(A, k) - v||^2 at A into g[0] (and g[1] for the MLP).
void grad_mem(const TntModule& md, const Vec* A, const Vec& k, const Vec& v, int64_t dk, int64_t dv, Vec* g) {
  if (!md.mlp()) {
    for (int64_t j = 0; j < dv; ++j) {
      double r = -v[(size_t)j];
      for (int64_t e = 0; e < dk; ++e) r += A[0][(size_t)(j * dk + e)] * k[(size_t)e];
      for (int64_t e = 0; e < dk; ++e) g[0][(size_t)(j * dk + e)] = 2.0 * r * k[(size_t)e];
    }
    return;
  }
  const int64_t d = dk, dh = md.hidden;
  Vec z((size_t)dh), hh((size_t)dh), e((size_t)d);
  for (int64_t j = 0; j < dh; ++j) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += A[1][(size_t)(j * d + i)] * k[(size_t)i];
    z[(size_t)j] = s;
    hh[(size_t)j] = mem::act_ref(md.act, s);
  }
  for (int64_t i = 0; i < d; ++i) {
    double s = k[(size_t)i] - v[(size_t)i];
    for (int64_t j = 0; j < dh; ++j) s += A[0][(size_t)(i * dh + j)] * hh[(size_t)j];
    e[(size_t)i] = s;
  }
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < dh; ++j) g[0][(size_t)(i * dh + j)] = 2.0 * e[(size_t)i] * hh[(size_t)j];
  for (int64_t j = 0; j < dh; ++j) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += A[0][(size_t)(i * dh + j)] * e[(size_t)i];
    const double dl = 2.0 * s * mem::act_grad_ref(md.act, z[(size_t)j]);
    for (int64_t i = 0; i < d; ++i) g[1][(size_t)(j * d + i)] = dl * k[(size_t)i];
  }
}

void load_part(const float* packed, const TntPart& pt, int64_t b, int64_t h, int64_t H, Vec& dst) {
  const float* s = packed + pt.at(b, h, H);
  dst.assign(s, s + pt.per);
}
void store_part(float* packed, const TntPart& pt, int64_t b, int64_t h, int64_t H, const Vec& src) {
  float* s = packed + pt.at(b, h, H);
  for (int64_t i = 0; i < pt.per; ++i) s[i] = (float)src[(size_t)i];
}

}  // namespace

void ref_tnt(OpCall& c) {
  const TntParams& p = c.p<TntParams>();
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2];
  const int64_t B = Q.size(0), T = Q.size(1), H = Q.size(2), dk = Q.size(3), dv = V.size(3);
  const TntLayout L = tnt_layout(p, B, H, dk, dv);
  const int nm = (int)p.mods.size();
  Tensor st_in;
  if (c.has_input(kTntStateInput)) st_in = contiguous(c.in[kTntStateInput]);
  const float* packed = st_in.defined() ? st_in.data<float>() : nullptr;
  const bool carried = packed && packed[0] == 1.0f;
  const int64_t pos0 = carried ? tnt_header_position(packed) : 0;
  float* out_state = c.out[1].numel() ? c.out[1].data<float>() : nullptr;
  std::vector<float> tmp;
  Vec q((size_t)dk), k((size_t)dk), v((size_t)dv), qp((size_t)dk), y((size_t)dv), o((size_t)dv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<RefMod> R((size_t)nm);
      std::vector<Vec> g0((size_t)nm), g1((size_t)nm);
      for (int m = 0; m < nm; ++m) {
        const TntModule& md = p.mods[(size_t)m];
        const TntModLayout& ml = L.mods[(size_t)m];
        RefMod& r = R[(size_t)m];
        const int s = p.slot(m);
        for (int i = 0; i < ml.nmem; ++i) {
          tmp.assign((size_t)ml.mem[i].per, 0.0f);
          mem::load_state(c.input(tnt_input(s, i ? TNT_INIT2 : TNT_INIT1)), b, h, ml.mem[i].per, tmp.data());
          r.init[i].assign(tmp.begin(), tmp.end());
          if (carried) {
            load_part(packed, ml.mem[i], b, h, H, r.cur[i]);
            load_part(packed, ml.anc[i], b, h, H, r.anc[i]);
            if (md.momentum) load_part(packed, ml.mom[i], b, h, H, r.mom[i]);
            else r.mom[i].assign((size_t)ml.mem[i].per, 0.0);
          } else {
            r.cur[i] = r.anc[i] = r.init[i];
            r.mom[i].assign((size_t)ml.mem[i].per, 0.0);
          }
        }
        if (ml.pi.per) {
          if (carried) load_part(packed, ml.pi, b, h, H, r.pi);
          else r.pi.assign((size_t)(dk * dk), 0.0);
        }
        g0[(size_t)m].assign((size_t)ml.mem[0].per, 0.0);
        g1[(size_t)m].assign((size_t)(ml.nmem > 1 ? ml.mem[1].per : 0), 0.0);
      }
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = pos0 + t;
        for (int64_t e = 0; e < dk; ++e) q[(size_t)e] = at4(Q, b, t, h, e), k[(size_t)e] = at4(K, b, t, h, e);
        for (int64_t j = 0; j < dv; ++j) v[(size_t)j] = at4(V, b, t, h, j);
        double kk = 0;
        for (int64_t e = 0; e < dk; ++e) kk += k[(size_t)e] * k[(size_t)e];
        std::fill(o.begin(), o.end(), 0.0);
        for (int m = 0; m < nm; ++m) {
          const TntModule& md = p.mods[(size_t)m];
          const TntModLayout& ml = L.mods[(size_t)m];
          RefMod& r = R[(size_t)m];
          const int s = p.slot(m);
          if (!md.global && pos % md.shard == 0) {  // periodic reset to the learnable initial state
            for (int i = 0; i < ml.nmem; ++i) {
              r.cur[i] = r.init[i];
              std::fill(r.mom[i].begin(), r.mom[i].end(), 0.0);
            }
            if (ml.pi.per && p.proj != TntProj::SEQUENCE) std::fill(r.pi.begin(), r.pi.end(), 0.0);
          }
          if (pos % md.chunk == 0) {  // chunk start: the gradient anchor (and the global read state)
            for (int i = 0; i < ml.nmem; ++i) r.anc[i] = r.cur[i];
            if (ml.pi.per && p.proj == TntProj::CHUNK) std::fill(r.pi.begin(), r.pi.end(), 0.0);
          }
          const double lr = at3(c.in[(size_t)tnt_input(s, TNT_LR)], b, t, h);
          const double a = md.decay ? 1.0 - at3(c.in[(size_t)tnt_input(s, TNT_ALPHA)], b, t, h) : 1.0;
          const double et = md.momentum ? at3(c.in[(size_t)tnt_input(s, TNT_ETA)], b, t, h) : 0.0;
          Vec gg[2] = {std::move(g0[(size_t)m]), std::move(g1[(size_t)m])};
          grad_mem(md, r.anc, k, v, dk, dv, gg);
          for (int i = 0; i < ml.nmem; ++i)
            for (size_t x = 0; x < r.cur[i].size(); ++x) {
              r.mom[i][x] = et * r.mom[i][x] - lr * gg[i][x];
              r.cur[i][x] = a * r.cur[i][x] + r.mom[i][x];
            }
          g0[(size_t)m] = std::move(gg[0]);
          g1[(size_t)m] = std::move(gg[1]);
          if (md.global) {
            read_mem(md, r.anc, q, dk, dv, y);  // frozen: the memory at the global chunk start
          } else {
            if (ml.pi.per) {
              if (kk > 0)
                for (int64_t i = 0; i < dk; ++i)
                  for (int64_t j = 0; j < dk; ++j) r.pi[(size_t)(i * dk + j)] += k[(size_t)i] * k[(size_t)j] / kk;
              for (int64_t i = 0; i < dk; ++i) {
                double s2 = 0;
                for (int64_t j = 0; j < dk; ++j) s2 += r.pi[(size_t)(i * dk + j)] * q[(size_t)j];
                qp[(size_t)i] = s2;
              }
              read_mem(md, r.cur, qp, dk, dv, y);
            } else {
              read_mem(md, r.cur, q, dk, dv, y);
            }
          }
          for (int64_t j = 0; j < dv; ++j) o[(size_t)j] += y[(size_t)j];
        }
        for (int64_t j = 0; j < dv; ++j) write_f32(c.out[0], ((b * T + t) * H + h) * dv + j, (float)o[(size_t)j]);
      }
      if (!out_state) continue;
      for (int m = 0; m < nm; ++m) {
        const TntModule& md = p.mods[(size_t)m];
        const TntModLayout& ml = L.mods[(size_t)m];
        const RefMod& r = R[(size_t)m];
        for (int i = 0; i < ml.nmem; ++i) {
          store_part(out_state, ml.mem[i], b, h, H, r.cur[i]);
          store_part(out_state, ml.anc[i], b, h, H, r.anc[i]);
          if (md.momentum) store_part(out_state, ml.mom[i], b, h, H, r.mom[i]);
        }
        if (ml.pi.per) store_part(out_state, ml.pi, b, h, H, r.pi);
      }
    }
  if (out_state) tnt_write_header(out_state, pos0 + T, nm, L.total);
}

}  // namespace cpu
}  // namespace engram
