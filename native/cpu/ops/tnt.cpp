// tnt on the CPU (semantics: native/core/ops/tnt.cpp; the spec is ref_tnt in
// tnt_ref.cpp). The work is split the way TNT is meant to be parallelised
// (algorithms.md §4(c)):
//   1. the global memory: per (b, h) a sequential walk over the global chunks,
//      each a few large GEMMs (run_global); tasks over heads, or with fewer
//      heads than threads the heads in turn with threaded GEMMs;
//   2. every local memory, in module order: its shard pieces are independent
//      units of work (start state = W_init, or the carried state for a piece
//      that resumes mid-shard), one pool task per (b, h, piece).
// Outputs are summed in module order (global, local 0, local 1, ...) so the
// result does not depend on the thread count.
//
// devices > 0 runs the same work as that many simulated context-parallel
// devices (docs/tnt.md): the sequence is cut at multiples of lcm(C_G, S_L...),
// each device gets copies of its rows, the global state is relayed device to
// device as a packed message, local shards run on their device, and the
// outputs are gathered — bit-identical to the single-machine path.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../memory/mem_io.h"
#include "../memory/tnt_mods.h"
#include "engram/threadpool.h"
#include "engram/tnt_params.h"

namespace engram {
namespace cpu {

namespace {

using tnt::Dims4;
using tnt::ModState;
using tnt::Sink;
using tnt::Source;

struct Piece {
  int64_t t0, t1;
};

// Call tokens [t0, t1) cut at absolute multiples of S.
std::vector<Piece> pieces_of(int64_t pos0, int64_t t0, int64_t t1, int64_t S) {
  std::vector<Piece> v;
  for (int64_t t = t0; t < t1;) {
    const int64_t e = std::min(t1, t + (S - (pos0 + t) % S));
    v.push_back({t, e});
    t = e;
  }
  return v;
}

struct Ctx {
  const TntParams* p = nullptr;
  Dims4 d;
  TntLayout L;
  const float* packed = nullptr;  // carried state (valid flag set), or null
  int64_t pos0 = 0;
  float* ost = nullptr;  // packed final state, or null
  std::vector<Tensor> init1, init2;
  const TntModule& md(int m) const { return p->mods[(size_t)m]; }
  int64_t BH() const { return d.B * d.H; }
};

// The state a module starts the call with (carried, else its init).
void call_start(const Ctx& x, int m, int64_t b, int64_t h, ModState& s) {
  tnt::state_alloc(x.md(m), x.p->pi(m), x.d.dk, x.d.dv, s);
  if (x.packed) tnt::state_load_packed(x.md(m), x.L.mods[(size_t)m], x.packed, b, h, x.d.H, x.d.dk, x.d.dv, s);
  else tnt::state_load_init(x.md(m), x.init1[(size_t)m], x.init2[(size_t)m], b, h, x.d.dk, x.d.dv, s);
}

// Start state of a local piece at call token t0: the carried state when the
// call resumes mid-shard, else a reset to W_init (Pi: pi_start or 0).
void piece_start(const Ctx& x, int m, int64_t b, int64_t h, int64_t t0, const float* pi_start, ModState& s) {
  const TntModule& md = x.md(m);
  if (t0 == 0 && x.packed && x.pos0 % md.shard != 0) {
    call_start(x, m, b, h, s);
    return;
  }
  tnt::state_alloc(md, x.p->pi(m), x.d.dk, x.d.dv, s);
  tnt::state_load_init(md, x.init1[(size_t)m], x.init2[(size_t)m], b, h, x.d.dk, x.d.dv, s);
  if (pi_start && !s.pi.empty()) std::memcpy(s.pi.data(), pi_start, s.pi.size() * sizeof(float));
}

void store(const Ctx& x, int m, int64_t b, int64_t h, const ModState& s) {
  if (x.ost) tnt::state_store_packed(x.md(m), x.L.mods[(size_t)m], s, b, h, x.d.H, x.d.dk, x.d.dv, x.ost);
}

// 'sequence' projection: Pi at the start of every piece, [BH][piece][dk*dk]:
// the carried Pi (or 0) plus the key outer products of all earlier pieces.
// sums holds each piece's own sum (computed where the piece lives).
void pi_prefix(const Ctx& x, int m, size_t np, const std::vector<float>& sums, std::vector<float>& starts) {
  const int64_t P = x.d.dk * x.d.dk;
  starts.assign((size_t)x.BH() * np * (size_t)P, 0.0f);
  for (int64_t bh = 0; bh < x.BH(); ++bh) {
    float* s0 = starts.data() + (size_t)bh * np * (size_t)P;
    if (x.packed) std::memcpy(s0, x.packed + x.L.mods[(size_t)m].pi.at(bh / x.d.H, bh % x.d.H, x.d.H),
                              (size_t)P * sizeof(float));
    for (size_t j = 1; j < np; ++j) {
      float* sj = s0 + j * (size_t)P;
      const float* prev = s0 + (j - 1) * (size_t)P;
      const float* add = sums.data() + ((size_t)bh * np + j - 1) * (size_t)P;
      for (int64_t i = 0; i < P; ++i) sj[i] = prev[i] + add[i];
    }
  }
}

void piece_sum(const Source& src, const Ctx& x, int64_t bh, const Piece& pc, float* out) {
  std::fill(out, out + x.d.dk * x.d.dk, 0.0f);
  tnt::add_key_outer(src, bh / x.d.H, bh % x.d.H, pc.t0, pc.t1, x.d.dk, out);
}

// ---- one machine ------------------------------------------------------------
void run_host(const Ctx& x, const Source& src, Sink out) {
  const TntParams& p = *x.p;
  const Dims4& d = x.d;
  const int64_t BH = x.BH();
  int m0 = 0;
  if (p.has_global) {
    auto head = [&](int64_t bh) {
      ModState s;
      call_start(x, 0, bh / d.H, bh % d.H, s);
      tnt::run_global(x.md(0), 0, src, bh / d.H, bh % d.H, x.pos0, 0, d.T, d, s, out);
      store(x, 0, bh / d.H, bh % d.H, s);
    };
    if (BH >= num_threads()) {
      parallel_for(BH, 1, [&](int64_t a, int64_t e) {
        for (int64_t bh = a; bh < e; ++bh) head(bh);
      });
    } else {
      for (int64_t bh = 0; bh < BH; ++bh) head(bh);  // GEMMs threaded instead
    }
    out.add = true;
    m0 = 1;
  }
  for (int m = m0; m < (int)p.mods.size(); ++m) {
    const TntModule& md = x.md(m);
    const std::vector<Piece> pcs = pieces_of(x.pos0, 0, d.T, md.shard);
    const int64_t np = (int64_t)pcs.size(), P = d.dk * d.dk;
    std::vector<float> sums, starts;
    if (p.proj == TntProj::SEQUENCE) {
      sums.resize((size_t)(BH * np * P));
      parallel_for(BH * np, 1, [&](int64_t a, int64_t e) {
        for (int64_t i = a; i < e; ++i) piece_sum(src, x, i / np, pcs[(size_t)(i % np)], sums.data() + i * P);
      });
      pi_prefix(x, m, (size_t)np, sums, starts);
    }
    parallel_for(BH * np, 1, [&](int64_t a, int64_t e) {
      ModState s;
      for (int64_t i = a; i < e; ++i) {
        const int64_t bh = i / np, j = i % np, b = bh / d.H, h = bh % d.H;
        const Piece& pc = pcs[(size_t)j];
        piece_start(x, m, b, h, pc.t0, starts.empty() ? nullptr : starts.data() + i * P, s);
        tnt::run_local(md, m, p.proj, src, b, h, x.pos0, pc.t0, pc.t1, d, s, out);
        if (pc.t1 == d.T) store(x, m, b, h, s);
      }
    });
    out.add = true;
  }
}

// ---- simulated context-parallel devices ---------------------------------------
int64_t lcm_capped(int64_t a, int64_t b) {
  const int64_t g = std::gcd(a, b), r = a / g;
  return r > ((int64_t)1 << 40) / b ? ((int64_t)1 << 40) : r * b;
}

struct Device {
  int64_t a = 0, e = 0;  // call tokens [a, e)
  Source src;            // copies of its rows
  std::vector<float> o;  // its rows of the output, f32 [B, e - a, H, dv]
  Sink sink;
};

Tensor rows_copy(const Tensor& t, int64_t a, int64_t e) {
  if (!t.defined()) return t;
  return contiguous(t.slice(1, a, e));
}

void run_devices(const Ctx& x, const Source& full, float* out) {
  const TntParams& p = *x.p;
  const Dims4& d = x.d;
  const int64_t BH = x.BH(), H = d.H, dv = d.dv;
  // Cut points: absolute multiples of the period, so no global chunk and no shard straddles two devices.
  int64_t P = 1;
  for (const TntModule& md : p.mods) P = lcm_capped(P, md.global ? md.chunk : md.shard);
  std::vector<int64_t> cuts{0};
  for (int64_t u = P - x.pos0 % P; u < d.T; u += P) cuts.push_back(u);
  cuts.push_back(d.T);
  const int64_t units = (int64_t)cuts.size() - 1, nd = p.devices;
  std::vector<Device> dev((size_t)nd);
  for (int64_t k = 0; k < nd; ++k) {  // scatter: each device receives copies of its rows
    Device& v = dev[(size_t)k];
    v.a = cuts[(size_t)(k * units / nd)];
    v.e = cuts[(size_t)((k + 1) * units / nd)];
    if (v.e <= v.a) continue;
    v.src.q = rows_copy(full.q, v.a, v.e);
    v.src.k = rows_copy(full.k, v.a, v.e);
    v.src.v = rows_copy(full.v, v.a, v.e);
    for (size_t m = 0; m < p.mods.size(); ++m) {
      v.src.lr.push_back(rows_copy(full.lr[m], v.a, v.e));
      v.src.al.push_back(rows_copy(full.al[m], v.a, v.e));
      v.src.et.push_back(rows_copy(full.et[m], v.a, v.e));
    }
    v.src.base = v.a;
    v.o.resize((size_t)(d.B * (v.e - v.a) * H * dv));
    v.sink = Sink{v.o.data(), v.e - v.a, H, dv, v.a, false};
  }
  // Global relay: device k runs its global chunks from the state device k-1 sent (a packed message).
  int m0 = 0;
  if (p.has_global) {
    const TntModLayout& ml = x.L.mods[0];
    std::vector<float> msg((size_t)x.L.total);  // the global part of a packed state
    parallel_for(BH, 1, [&](int64_t a, int64_t e) {
      ModState s;
      for (int64_t bh = a; bh < e; ++bh) {
        call_start(x, 0, bh / H, bh % H, s);
        tnt::state_store_packed(x.md(0), ml, s, bh / H, bh % H, H, d.dk, dv, msg.data());
      }
    });
    for (Device& v : dev) {
      if (v.e <= v.a) continue;
      parallel_for(BH, 1, [&](int64_t a, int64_t e) {
        ModState s;
        for (int64_t bh = a; bh < e; ++bh) {
          tnt::state_alloc(x.md(0), false, d.dk, dv, s);
          tnt::state_load_packed(x.md(0), ml, msg.data(), bh / H, bh % H, H, d.dk, dv, s);  // receive
          tnt::run_global(x.md(0), 0, v.src, bh / H, bh % H, x.pos0, v.a, v.e, d, s, v.sink);
          tnt::state_store_packed(x.md(0), ml, s, bh / H, bh % H, H, d.dk, dv, msg.data());  // send on
        }
      });
      v.sink.add = true;
    }
    parallel_for(BH, 1, [&](int64_t a, int64_t e) {
      ModState s;
      for (int64_t bh = a; bh < e; ++bh) {
        tnt::state_alloc(x.md(0), false, d.dk, dv, s);
        tnt::state_load_packed(x.md(0), ml, msg.data(), bh / H, bh % H, H, d.dk, dv, s);
        store(x, 0, bh / H, bh % H, s);
      }
    });
    m0 = 1;
  }
  // 'sequence' projection: every device sums its pieces' keys; the sums are all-gathered and each
  // device forms the prefixes it needs (the same additions as on one machine).
  std::vector<std::vector<Piece>> pcs(p.mods.size());
  std::vector<std::vector<float>> starts(p.mods.size());
  const int64_t PP = d.dk * d.dk;
  for (int m = m0; m < (int)p.mods.size(); ++m) pcs[(size_t)m] = pieces_of(x.pos0, 0, d.T, x.md(m).shard);
  auto owner = [&](const Piece& pc) {
    for (int64_t k = 0; k < nd; ++k)
      if (pc.t0 >= dev[(size_t)k].a && pc.t1 <= dev[(size_t)k].e) return k;
    return (int64_t)-1;
  };
  if (p.proj == TntProj::SEQUENCE) {
    for (int m = m0; m < (int)p.mods.size(); ++m) {
      const size_t np = pcs[(size_t)m].size();
      std::vector<float> sums((size_t)BH * np * (size_t)PP);
      parallel_for(nd, 1, [&](int64_t a, int64_t e) {
        for (int64_t k = a; k < e; ++k)
          for (size_t j = 0; j < np; ++j)
            if (owner(pcs[(size_t)m][j]) == k)
              for (int64_t bh = 0; bh < BH; ++bh)
                piece_sum(dev[(size_t)k].src, x, bh, pcs[(size_t)m][j], sums.data() + ((size_t)bh * np + j) * PP);
      });
      pi_prefix(x, m, np, sums, starts[(size_t)m]);
    }
  }
  // Local shards, every device on its own (one pool task per device, its shards in turn).
  parallel_for(nd, 1, [&](int64_t a, int64_t e) {
    ModState s;
    for (int64_t k = a; k < e; ++k) {
      Device& v = dev[(size_t)k];
      if (v.e <= v.a) continue;
      Sink sk = v.sink;
      sk.add = p.has_global;
      for (int m = m0; m < (int)p.mods.size(); ++m) {
        const std::vector<Piece>& pl = pcs[(size_t)m];
        for (size_t j = 0; j < pl.size(); ++j) {
          if (owner(pl[j]) != k) continue;
          for (int64_t bh = 0; bh < BH; ++bh) {
            const float* ps = starts[(size_t)m].empty() ? nullptr
                                                        : starts[(size_t)m].data() + ((size_t)bh * pl.size() + j) * PP;
            piece_start(x, m, bh / H, bh % H, pl[j].t0, ps, s);
            tnt::run_local(x.md(m), m, p.proj, v.src, bh / H, bh % H, x.pos0, pl[j].t0, pl[j].t1, d, s, sk);
            if (pl[j].t1 == d.T) store(x, m, bh / H, bh % H, s);
          }
        }
        sk.add = true;
      }
    }
  });
  // Gather the output rows.
  for (const Device& v : dev)
    for (int64_t b = 0; b < d.B; ++b)
      for (int64_t t = v.a; t < v.e; ++t)
        std::memcpy(out + ((b * d.T + t) * H) * dv, v.o.data() + ((b * (v.e - v.a) + t - v.a) * H) * dv,
                    (size_t)(H * dv) * sizeof(float));
}

}  // namespace

void cpu_tnt(OpCall& c) {
  const TntParams& p = c.p<TntParams>();
  Ctx x;
  x.p = &p;
  x.d = {c.in[0].size(0), c.in[0].size(1), c.in[0].size(2), c.in[0].size(3), c.in[2].size(3)};
  x.L = tnt_layout(p, x.d.B, x.d.H, x.d.dk, x.d.dv);
  Tensor st;
  if (c.has_input(kTntStateInput)) st = contiguous(c.in[kTntStateInput]);
  if (st.defined() && st.data<float>()[0] == 1.0f) {
    x.packed = st.data<float>();
    x.pos0 = tnt_header_position(x.packed);
  }
  x.ost = c.out[1].numel() ? c.out[1].data<float>() : nullptr;
  Source src;
  src.q = c.in[0];
  src.k = c.in[1];
  src.v = c.in[2];
  for (int m = 0; m < (int)p.mods.size(); ++m) {
    const int s = p.slot(m);
    src.lr.push_back(c.input(tnt_input(s, TNT_LR)));
    src.al.push_back(c.input(tnt_input(s, TNT_ALPHA)));
    src.et.push_back(c.input(tnt_input(s, TNT_ETA)));
    x.init1.push_back(c.input(tnt_input(s, TNT_INIT1)));
    x.init2.push_back(c.input(tnt_input(s, TNT_INIT2)));
  }
  const Dims4& d = x.d;
  if (d.T == 0) {  // nothing to run: the final state is the starting state
    for (int m = 0; m < (int)p.mods.size(); ++m)
      for (int64_t bh = 0; bh < x.BH(); ++bh) {
        ModState s;
        call_start(x, m, bh / d.H, bh % d.H, s);
        store(x, m, bh / d.H, bh % d.H, s);
      }
  } else {
    const bool direct = c.out[0].dtype() == DType::F32;
    std::vector<float> scratch(direct ? 0 : (size_t)(d.B * d.T * d.H * d.dv));
    float* o = direct ? c.out[0].data<float>() : scratch.data();
    if (p.devices > 0) run_devices(x, src, o);
    else run_host(x, src, Sink{o, d.T, d.H, d.dv, 0, false});
    if (!direct)
      dispatch_float(c.out[0].dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* y = c.out[0].data<T>();
        const int64_t n = (int64_t)scratch.size();
        parallel_for(n, 1 << 14, [&](int64_t a, int64_t e) {
          for (int64_t i = a; i < e; ++i) y[i] = from_f32<T>(scratch[(size_t)i]);
        });
      });
  }
  if (x.ost) tnt_write_header(x.ost, x.pos0 + d.T, (int64_t)p.mods.size(), x.L.total);
}

}  // namespace cpu
}  // namespace engram
