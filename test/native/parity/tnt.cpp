// Parity cases for tnt: the fast CPU kernel (and CUDA where present) against
// ref_tnt, the double-precision token loop of algorithms.md §4(b) generalised
// to N locals. Odd shapes (T = 1, 63, 500; D = 16, 60, 64, 128; H = 1, 3),
// linear and MLP memories, chunk size 1 (token loop), every projection mode,
// momentum/decay per module, strided and bf16/f16 inputs, initial states with
// batch 1, carried states that resume mid-chunk and mid-shard, and the
// simulated multi-device path. Outputs compared: o and the packed state.
#include <cmath>
#include <string>
#include <vector>

#include "../parity.h"
#include "engram/tnt_params.h"

namespace engram {
namespace parity {

namespace {

Tensor ugate(const Dims& s, uint64_t seed, float lo, float hi, int edge = 0, float edge_val = 0.0f,
             DType dt = DType::F32) {
  Tensor t = rand_uniform(s, seed);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = lo + (hi - lo) * p[i];
    if (edge && i % edge == edge - 1) p[i] = edge_val;
  }
  if (dt == DType::F32) return t;
  Attrs a;
  a.set_string("to", dtype_name(dt));
  return call_op1(OpId::CAST, {t}, a);
}

Tensor tseq(const Dims& s, uint64_t seed, DType dt, bool strided_view, float scale) {
  if (!strided_view) return rnd(s, seed, dt, scale);
  Tensor base = rnd(Dims{s[0], s[1], s[3], s[2]}, seed, dt, scale);
  return base.permute({0, 1, 3, 2});
}

struct Mod {
  int64_t C = 8, S = 32, hidden = 0;
  bool mom = false, dec = false;
};

struct TntCase {
  int64_t B = 1, T = 63, H = 3, dk = 16, dv = 16;
  bool global = true;
  Mod g{32, 0, 0, false, false};
  std::vector<Mod> locals{Mod{}};
  std::string proj = "shard", act = "gelu";
  DType dt = DType::F32;
  bool strided = false, inits = true, batch1_init = false;
  int64_t prefix = 0;   // carried state from a first call over this many tokens
  int64_t devices = 0;
  std::string note;
};

void set_attrs(const TntCase& tc, Attrs& a) {
  if (tc.global) {
    a.set_number("globalChunkSize", (double)tc.g.C);
    a.set_number("globalHidden", (double)tc.g.hidden);
    a.set_bool("globalMomentum", tc.g.mom);
    a.set_bool("globalDecay", tc.g.dec);
    a.set_string("globalActivation", tc.act);
  }
  std::vector<double> cs, ss, hs, ms, ds, as;
  double act = tc.act == "gelu" ? 0 : tc.act == "geluTanh" ? 1 : tc.act == "silu" ? 2 : tc.act == "relu" ? 3 : 4;
  for (const Mod& l : tc.locals) {
    cs.push_back((double)l.C);
    ss.push_back((double)l.S);
    hs.push_back((double)l.hidden);
    ms.push_back(l.mom ? 1 : 0);
    ds.push_back(l.dec ? 1 : 0);
    as.push_back(act);
  }
  if (!tc.locals.empty()) {
    a.set_numbers("localChunkSizes", cs);
    a.set_numbers("localShardLengths", ss);
    a.set_numbers("localHidden", hs);
    a.set_numbers("localMomentum", ms);
    a.set_numbers("localDecay", ds);
    a.set_numbers("localActivations", as);
  }
  a.set_string("qkProjection", tc.proj);
  if (tc.devices) a.set_number("devices", (double)tc.devices);
}

// Inputs for T tokens (seeds offset by `t_off` so a prefix and its continuation differ).
std::vector<Tensor> inputs(const TntCase& tc, int64_t T, uint64_t seed) {
  const int64_t D = tc.dk;
  Dims qs{tc.B, T, tc.H, tc.dk}, vs{tc.B, T, tc.H, tc.dv}, gs{tc.B, T, tc.H};
  const float sk = 1.0f / std::sqrt((float)D);
  std::vector<Tensor> in{tseq(qs, seed, tc.dt, tc.strided, sk), tseq(qs, seed + 1, tc.dt, tc.strided, sk),
                         rnd(vs, seed + 2, tc.dt, 0.5f), Tensor()};
  in.resize((size_t)kTntMaxInputs);
  auto slot = [&](int s, const Mod& md, uint64_t sd) {
    const bool mlp = md.hidden > 0;
    in[(size_t)tnt_input(s, TNT_LR)] = ugate(gs, sd, mlp ? 0.02f : 0.05f, mlp ? 0.15f : 0.3f, 0, 0.0f, tc.dt);
    if (md.dec) in[(size_t)tnt_input(s, TNT_ALPHA)] = ugate(gs, sd + 1, 0.0f, 0.2f, 13, 1.0f);
    if (md.mom) in[(size_t)tnt_input(s, TNT_ETA)] = ugate(gs, sd + 2, 0.4f, 0.9f, 7, 0.0f);
    if (!tc.inits) return;
    const int64_t b0 = tc.batch1_init ? 1 : tc.B;
    if (mlp) {
      in[(size_t)tnt_input(s, TNT_INIT1)] =
          rnd(Dims{b0, tc.H, D, md.hidden}, sd + 3, DType::F32, 1.0f / std::sqrt((float)md.hidden));
      in[(size_t)tnt_input(s, TNT_INIT2)] = rnd(Dims{b0, tc.H, md.hidden, D}, sd + 4, DType::F32, sk);
    } else {
      in[(size_t)tnt_input(s, TNT_INIT1)] = rnd(Dims{b0, tc.H, tc.dv, tc.dk}, sd + 3, DType::F32, 0.3f);
    }
  };
  if (tc.global) slot(0, tc.g, seed + 10);
  for (size_t i = 0; i < tc.locals.size(); ++i) slot((int)i + 1, tc.locals[i], seed + 20 + 10 * i);
  int last = 3;
  for (int i = 0; i < (int)in.size(); ++i)
    if (in[(size_t)i].defined()) last = i;
  in.resize((size_t)last + 1);
  return in;
}

Case tnt_case(const TntCase& tc, uint64_t seed) {
  Case c;
  c.op = OpId::TNT;
  set_attrs(tc, c.attrs);
  c.in = inputs(tc, tc.T, seed);
  if (tc.prefix > 0) {  // the state after `prefix` other tokens (fast kernel), then the case continues it
    std::vector<Tensor> pre = inputs(tc, tc.prefix, seed + 1000);
    Attrs a;
    set_attrs(tc, a);
    c.in[kTntStateInput] = call_op(OpId::TNT, pre, a)[1];
  }
  std::string mods = tc.global ? "G" + std::to_string(tc.g.C) + (tc.g.hidden ? "mlp" : "") +
                                     (tc.g.mom ? "m" : "") + (tc.g.dec ? "d" : "")
                               : "noG";
  for (const Mod& l : tc.locals)
    mods += " L" + std::to_string(l.C) + "/" + std::to_string(l.S) + (l.hidden ? "mlp" : "") + (l.mom ? "m" : "") +
            (l.dec ? "d" : "");
  c.name = std::string(dtype_name(tc.dt)) + " B" + std::to_string(tc.B) + " T" + std::to_string(tc.T) + " H" +
           std::to_string(tc.H) + " dk" + std::to_string(tc.dk) + " dv" + std::to_string(tc.dv) + " " + mods +
           " pi:" + tc.proj + (tc.strided ? " strided" : "") + (tc.inits ? "" : " zero-init") +
           (tc.prefix ? " resume@" + std::to_string(tc.prefix) : "") +
           (tc.devices ? " devices" + std::to_string(tc.devices) : "") + (tc.note.empty() ? "" : " " + tc.note);
  c.tol = tc.dt == DType::F32 ? 1e-9 : tol_for(tc.dt);
  return c;
}

}  // namespace

ENGRAM_PARITY_CASES(tnt) {
  uint64_t seed = 40000;
  auto add = [&](const TntCase& tc) { cases.push_back(tnt_case(tc, seed += 100)); };
  add(TntCase{});
  for (const char* pr : {"none", "chunk", "sequence"}) {
    TntCase tc;
    tc.proj = pr;
    add(tc);
  }
  {
    TntCase tc;  // two locals, no global
    tc.global = false;
    tc.locals = {Mod{4, 16, 0, false, false}, Mod{8, 32, 0, false, false}};
    add(tc);
  }
  {
    TntCase tc;  // global only, momentum and decay
    tc.locals.clear();
    tc.g = Mod{16, 0, 0, true, true};
    add(tc);
  }
  {
    TntCase tc;  // momentum and decay everywhere
    tc.g.mom = tc.g.dec = true;
    tc.locals = {Mod{8, 32, 0, true, true}, Mod{4, 8, 0, true, false}};
    add(tc);
  }
  for (const char* pr : {"shard", "chunk"}) {
    TntCase tc;  // chunk size 1: the token loop (stage 2)
    tc.proj = pr;
    tc.locals = {Mod{1, 16, 0, true, true}, Mod{1, 64, 0, false, false}};
    add(tc);
  }
  {
    TntCase tc;  // MLP memories (global and locals), chunked and token loop
    tc.g = Mod{16, 0, 32, true, false};
    tc.locals = {Mod{8, 32, 32, false, true}, Mod{1, 16, 24, true, true}};
    tc.T = 40;
    add(tc);
  }
  for (const char* act : {"geluTanh", "silu", "tanh"}) {
    TntCase tc;
    tc.act = act, tc.H = 1, tc.T = 24;
    tc.g = Mod{8, 0, 16, false, false};
    tc.locals = {Mod{4, 8, 16, false, false}};
    add(tc);
  }
  {
    TntCase tc;  // T = 1
    tc.T = 1;
    add(tc);
  }
  {
    TntCase tc;  // long, one head, D = 64, two locals with tails
    tc.T = 500, tc.H = 1, tc.dk = tc.dv = 64;
    tc.g = Mod{128, 0, 0, false, false};
    tc.locals = {Mod{16, 128, 0, false, false}, Mod{64, 256, 0, true, true}};
    add(tc);
  }
  {
    TntCase tc;  // dk != dv (linear), D = 60
    tc.dk = 60, tc.dv = 24, tc.T = 45;
    add(tc);
  }
  {
    TntCase tc;  // D = 128
    tc.dk = tc.dv = 128, tc.H = 1, tc.T = 70;
    tc.g = Mod{32, 0, 0, false, false};
    tc.locals = {Mod{16, 32, 0, false, false}};
    add(tc);
  }
  {
    TntCase tc;  // strided inputs, B = 2, batch-1 inits
    tc.strided = true, tc.B = 2, tc.batch1_init = true, tc.T = 33;
    add(tc);
  }
  {
    TntCase tc;  // zero initial memories
    tc.inits = false;
    add(tc);
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    TntCase tc;
    tc.dt = dt, tc.T = 40;
    add(tc);
  }
  {
    TntCase tc;  // resume mid-chunk and mid-shard (carried anchors, Pi, momentum)
    tc.prefix = 37, tc.T = 50;
    tc.g.mom = true;
    tc.locals = {Mod{8, 32, 0, true, true}, Mod{1, 16, 0, false, false}};
    add(tc);
    tc.proj = "sequence";
    add(tc);
    tc.g = Mod{16, 0, 32, true, false};
    tc.locals = {Mod{8, 24, 32, true, true}};
    tc.proj = "shard";
    tc.prefix = 29;
    add(tc);
  }
  {
    TntCase tc;  // simulated devices
    tc.T = 130, tc.devices = 3;
    tc.locals = {Mod{8, 32, 0, false, false}, Mod{4, 16, 0, true, false}};
    add(tc);
    tc.proj = "sequence", tc.prefix = 20, tc.global = false;
    add(tc);
  }
}

}  // namespace parity
}  // namespace engram
