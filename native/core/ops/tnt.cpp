// tnt: TNT hierarchical memory (algorithms.md §4) — one global memory updated
// once per global chunk and read at its chunk-start state, plus N local
// memories with their own chunk sizes that reset to their learnable initial
// state at every shard start, read through the Q-K projection Pi_t q_t:
//   o_t = f(V_{xi(t, C_G)}, q_t) + sum_i f(W^(i)_t, Pi^(i)_t q_t).
// Inputs, slots and the packed state: engram/tnt_params.h. Options:
//   globalChunkSize (0/absent: no global), globalHidden (0: linear memory),
//   globalActivation, globalMomentum, globalDecay;
//   localChunkSizes [N], localShardLengths [N], localHidden [N],
//   localActivations [N] (MemAct codes), localMomentum [N], localDecay [N] (0/1);
//   qkProjection 'shard' | 'chunk' | 'sequence' | 'none'; outputFinalState;
//   devices (simulated context parallelism on the CPU, 0 = off).
#include <cmath>
#include <string>

#include "engram/tnt_params.h"
#include "memory_common.h"

namespace engram {

namespace {

const char* kOp = "tnt";
const char* kActNames[] = {"gelu", "geluTanh", "silu", "relu", "tanh"};

MemAct act_by_name(const std::string& s, const char* key) {
  for (int i = 0; i < 5; ++i)
    if (s == kActNames[i]) return (MemAct)i;
  fail(ErrorCode::E_ARG, kOp, ": ", key, " must be one of gelu, geluTanh, silu, relu, tanh; got '", s, "'");
}

std::string mod_name(const TntParams& p, int m) {
  return p.mods[(size_t)m].global ? std::string("global") : "local " + std::to_string(m - (p.has_global ? 1 : 0));
}

}  // namespace

void parse_TNT(OpCall& c, const Attrs& a) {
  TntParams p;
  const int64_t gc = a.get_int(kOp, "globalChunkSize", 0);
  ENGRAM_CHECK(gc >= 0 && gc <= (int64_t)1 << 22, ARG, kOp, ": globalChunkSize must be in [1, 4194304] (0: no global), got ",
               gc);
  const int64_t gh = a.get_int(kOp, "globalHidden", 0);
  const std::string gact = a.get_string(kOp, "globalActivation", "gelu");
  const bool gmom = a.get_bool(kOp, "globalMomentum", false), gdec = a.get_bool(kOp, "globalDecay", false);
  if (gc > 0) {
    TntModule g;
    g.global = true;
    g.chunk = gc;
    ENGRAM_CHECK(gh >= 0 && gh <= 65536, ARG, kOp, ": globalHidden must be in [0, 65536], got ", gh);
    g.hidden = gh;
    g.act = act_by_name(gact, "globalActivation");
    g.momentum = gmom;
    g.decay = gdec;
    p.mods.push_back(g);
    p.has_global = true;
  } else {
    for (const char* k : {"globalHidden", "globalActivation", "globalMomentum", "globalDecay"})
      ENGRAM_CHECK(!a.has(k), ARG, kOp, ": option '", k, "' given but there is no global memory (globalChunkSize 0)");
  }
  const std::vector<int64_t> cs = a.get_ints(kOp, "localChunkSizes"), ss = a.get_ints(kOp, "localShardLengths"),
                             hs = a.get_ints(kOp, "localHidden"), as = a.get_ints(kOp, "localActivations"),
                             ms = a.get_ints(kOp, "localMomentum"), ds = a.get_ints(kOp, "localDecay");
  const size_t N = cs.size();
  ENGRAM_CHECK(N <= (size_t)kTntMaxLocals, ARG, kOp, ": at most ", kTntMaxLocals, " local memories, got ", N);
  ENGRAM_CHECK(ss.size() == N, ARG, kOp, ": localShardLengths has ", ss.size(), " entries for ", N,
               " local memories (localChunkSizes)");
  auto opt_len = [&](const std::vector<int64_t>& v, const char* key) {
    ENGRAM_CHECK(v.empty() || v.size() == N, ARG, kOp, ": ", key, " has ", v.size(), " entries for ", N,
                 " local memories");
  };
  opt_len(hs, "localHidden");
  opt_len(as, "localActivations");
  opt_len(ms, "localMomentum");
  opt_len(ds, "localDecay");
  for (size_t i = 0; i < N; ++i) {
    TntModule l;
    l.chunk = cs[i];
    l.shard = ss[i];
    ENGRAM_CHECK(l.chunk >= 1 && l.chunk <= 4096, ARG, kOp, ": local ", i, ": chunkSize must be in [1, 4096], got ",
                 l.chunk);
    ENGRAM_CHECK(l.shard >= 1 && l.shard <= (int64_t)1 << 40, ARG, kOp, ": local ", i,
                 ": shardLength must be >= 1, got ", l.shard);
    ENGRAM_CHECK(l.shard % l.chunk == 0, ARG, kOp, ": local ", i, ": shardLength ", l.shard,
                 " is not a multiple of its chunkSize ", l.chunk);
    l.hidden = hs.empty() ? 0 : hs[i];
    ENGRAM_CHECK(l.hidden >= 0 && l.hidden <= 65536, ARG, kOp, ": local ", i, ": hidden must be in [0, 65536], got ",
                 l.hidden);
    const int64_t ac = as.empty() ? 0 : as[i];
    ENGRAM_CHECK(ac >= 0 && ac < 5, ARG, kOp, ": local ", i, ": activation code must be in [0, 4], got ", ac);
    l.act = (MemAct)ac;
    for (const auto* v : {&ms, &ds})
      ENGRAM_CHECK(v->empty() || (*v)[i] == 0 || (*v)[i] == 1, ARG, kOp, ": local ", i,
                   ": localMomentum / localDecay entries must be 0 or 1");
    l.momentum = !ms.empty() && ms[i] == 1;
    l.decay = !ds.empty() && ds[i] == 1;
    p.mods.push_back(l);
  }
  ENGRAM_CHECK(!p.mods.empty(), ARG, kOp, ": no memory configured: give a global memory and/or at least one local");
  const std::string pr = a.get_string(kOp, "qkProjection", "shard");
  if (pr == "none") p.proj = TntProj::NONE;
  else if (pr == "shard") p.proj = TntProj::SHARD;
  else if (pr == "chunk") p.proj = TntProj::CHUNK;
  else if (pr == "sequence") p.proj = TntProj::SEQUENCE;
  else fail(ErrorCode::E_ARG, kOp, ": qkProjection must be 'shard', 'chunk', 'sequence' or 'none', got '", pr, "'");
  p.final_state = a.get_bool(kOp, "outputFinalState", true);
  p.devices = a.get_int(kOp, "devices", 0);
  ENGRAM_CHECK(p.devices >= 0 && p.devices <= 256, ARG, kOp, ": devices must be in [0, 256], got ", p.devices);
  c.params = p;
}

void infer_TNT(const OpCall& c, std::vector<TensorSpec>& outs) {
  const TntParams& p = c.p<TntParams>();
  mem::SeqDims d = mem::check_qkv(kOp, c.in[0], c.in[1], c.in[2]);
  const int N = p.nlocal();
  // Slots that belong to no configured module must be empty.
  for (int s = 0; s <= kTntMaxLocals; ++s) {
    const bool used = s == 0 ? p.has_global : s <= N;
    if (used) continue;
    for (int w = 0; w < kTntSlotInputs; ++w)
      ENGRAM_CHECK(!c.has_input(tnt_input(s, w)), ARG, kOp, ": an input was given for ",
                   s == 0 ? std::string("the global memory, which is off (globalChunkSize 0)")
                          : "local " + std::to_string(s - 1) + ", but only " + std::to_string(N) +
                                " local memories are configured");
  }
  for (int m = 0; m < (int)p.mods.size(); ++m) {
    const TntModule& md = p.mods[(size_t)m];
    const int s = p.slot(m);
    const std::string nm = mod_name(p, m);
    const std::string lr = md.global ? "etaGlobal" : "etaLocal[" + std::to_string(s - 1) + "]";
    const std::string al = md.global ? "alphaGlobal" : "alphaLocal[" + std::to_string(s - 1) + "]";
    const std::string et = md.global ? "momentumGlobal" : "momentumLocal[" + std::to_string(s - 1) + "]";
    const std::string in = md.global ? "global.initialState" : "locals[" + std::to_string(s - 1) + "].initialState";
    ENGRAM_CHECK(c.has_input(tnt_input(s, TNT_LR)), ARG, kOp, ": the learning-rate gate ", lr, " of the ", nm,
                 " memory is required");
    mem::check_gate(kOp, lr.c_str(), c.in[(size_t)tnt_input(s, TNT_LR)], d, mem::GateRange::NONNEG);
    if (md.decay) {
      ENGRAM_CHECK(c.has_input(tnt_input(s, TNT_ALPHA)), ARG, kOp, ": gate ", al, " is required (the ", nm,
                   " memory has decay on)");
      mem::check_gate(kOp, al.c_str(), c.in[(size_t)tnt_input(s, TNT_ALPHA)], d, mem::GateRange::UNIT_CLOSED);
    } else {
      ENGRAM_CHECK(!c.has_input(tnt_input(s, TNT_ALPHA)), ARG, kOp, ": gate ", al, " was given but the ", nm,
                   " memory has decay off");
    }
    if (md.momentum) {
      ENGRAM_CHECK(c.has_input(tnt_input(s, TNT_ETA)), ARG, kOp, ": gate ", et, " is required (the ", nm,
                   " memory has momentum on)");
      mem::check_gate(kOp, et.c_str(), c.in[(size_t)tnt_input(s, TNT_ETA)], d, mem::GateRange::UNIT_CLOSED);
    } else {
      ENGRAM_CHECK(!c.has_input(tnt_input(s, TNT_ETA)), ARG, kOp, ": gate ", et, " was given but the ", nm,
                   " memory has momentum off");
    }
    if (md.mlp()) {
      ENGRAM_CHECK(d.Dk == d.Dv, SHAPE, kOp, ": the ", nm, " memory is a residual MLP, which needs Dk == Dv; got q ",
                   c.in[0].shape().str(), " and v ", c.in[2].shape().str());
      mem::check_state(kOp, (in + ".W1").c_str(), c.input(tnt_input(s, TNT_INIT1)), d, Dims{d.Dk, md.hidden});
      mem::check_state(kOp, (in + ".W2").c_str(), c.input(tnt_input(s, TNT_INIT2)), d, Dims{md.hidden, d.Dk});
    } else {
      mem::check_state(kOp, (in + ".memory").c_str(), c.input(tnt_input(s, TNT_INIT1)), d, Dims{d.Dv, d.Dk});
      ENGRAM_CHECK(!c.has_input(tnt_input(s, TNT_INIT2)), ARG, kOp, ": ", in,
                   " has a second tensor, but the memory is linear");
    }
  }
  const TntLayout L = tnt_layout(p, d.B, d.H, d.Dk, d.Dv);
  if (c.has_input(kTntStateInput)) {
    const Tensor& s = c.in[kTntStateInput];
    ENGRAM_CHECK(s.dtype() == DType::F32, DTYPE, kOp, ": initialState (the packed state) must be f32, got ",
                 dtype_name(s.dtype()));
    ENGRAM_CHECK(s.ndim() == 1 && s.size(0) == L.total, SHAPE, kOp, ": initialState must be the packed state [",
                 L.total, "] of this configuration (batch ", d.B, ", heads ", d.H, ", dims ", d.Dk, "/", d.Dv,
                 "), got ", s.shape().str(),
                 "; pass the finalState of a call with the same memories, momentum/decay flags and projection");
    if (s.has_data()) {
      Tensor h = s.slice(0, 0, TntLayout::kHeader);
      if (h.device() != DeviceType::CPU) h = to_device(h, DeviceType::CPU);
      else h = contiguous(h);
      const float* x = h.data<float>();
      ENGRAM_CHECK(x[0] == 0.0f || x[0] == 1.0f, ARG, kOp, ": initialState is not a TNT state (header flag ", x[0],
                   ")");
      if (x[0] == 1.0f) {
        const bool pos_ok = x[1] >= 0.0f && x[1] < 1048576.0f && x[2] >= 0.0f && x[2] < 1048576.0f &&
                            x[1] == std::floor(x[1]) && x[2] == std::floor(x[2]);
        ENGRAM_CHECK(pos_ok && x[3] == (float)p.mods.size() && x[4] == (float)(L.total % 1048576), ARG, kOp,
                     ": initialState was written for another configuration (", x[3], " modules) or is corrupt");
      }
    }
  }
  outs.push_back({Dims{d.B, d.T, d.H, d.Dv}, c.in[0].dtype()});
  outs.push_back({p.final_state ? Dims{L.total} : Dims{0}, DType::F32});
}

}  // namespace engram
