// OpCall -> arguments of the token-loop bodies (titans_mlp_body.h,
// ttt_mlp_body.h, memory_token_body.h). Host code, shared by the CUDA
// launchers (cuda/ops/{titans_mlp,ttt_mlp,memory_token}.cu) and the CPU block
// emulation in test_cuda_math, so the input/output wiring the kernels get is
// the wiring the emulation checks. The caller sets `ws` (the workspace).
#pragma once
#include <algorithm>
#include <cmath>

#include "../../native/core/ops/memory_common.h"  // mem::read_offset
#include "engram/engine.h"
#include "engram/tnt_params.h"
#include "memory_token_body.h"
#include "tnt_token_body.h"
#include "ttt_mlp_body.h"

namespace engram {

int64_t titans_hidden(const OpCall& c);  // native/core/ops/titans.cpp
int64_t ttt_hidden(const OpCall& c);     // native/core/ops/ttt.cpp

namespace cuda {

// A sequence [B, T, H, D] or gate [B, T, H] (absent: p null).
inline MlpSeq mlp_seq_view(const Tensor& t) {
  if (!t.defined()) return MlpSeq{nullptr, DType::F32, 0, 0, 0, 0};
  return MlpSeq{t.raw(), t.dtype(), t.stride(0), t.stride(1), t.stride(2), t.ndim() == 4 ? t.stride(3) : 0};
}
// An f32 state [B|1, H, R(, C)] (batch 1 broadcasts), a head parameter [H, D]
// read as (0, h, j, 0), or p null (absent / not requested).
inline MlpState mlp_state_view(const Tensor& s) {
  if (!s.defined() || s.numel() == 0) return MlpState{nullptr, 0, 0, 0, 0};
  float* p = s.data<float>();
  const int nd = s.ndim();
  if (nd == 2) return MlpState{p, 0, s.stride(0), s.stride(1), 0};
  return MlpState{p, s.size(0) == 1 ? 0 : s.stride(0), s.stride(1), s.stride(2), nd > 3 ? s.stride(3) : 0};
}

// titansMlp: inputs q, k, v, theta, alpha?, eta?, W1, W2, S1, S2, A1, A2, offset;
// outputs o, W1, W2, S1, S2, A1, A2, offset.
inline TitansMlpArgs titans_mlp_args(const OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  TitansMlpArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.theta = mlp_seq_view(c.in[3]);
  a.alpha = mlp_seq_view(c.input(4));
  a.eta = mlp_seq_view(c.input(5));
  a.W1_0 = mlp_state_view(c.input(6));
  a.W2_0 = mlp_state_view(c.input(7));
  a.S1_0 = mlp_state_view(c.input(8));
  a.S2_0 = mlp_state_view(c.input(9));
  a.A1_0 = mlp_state_view(c.input(10));
  a.A2_0 = mlp_state_view(c.input(11));
  a.W1f = mlp_state_view(c.out[1]);
  a.W2f = mlp_state_view(c.out[2]);
  a.S1f = mlp_state_view(c.out[3]);
  a.S2f = mlp_state_view(c.out[4]);
  a.A1f = mlp_state_view(c.out[5]);
  a.A2f = mlp_state_view(c.out[6]);
  a.ws = nullptr;
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.d = (int)c.in[0].size(3);
  a.dh = (int)titans_hidden(c);
  a.C = (int)p.chunk;
  a.offset = (int)mem::read_offset("titansMlp", c.input(12), p.chunk);
  a.mom = p.momentum;
  a.decay = p.decay;
  a.act = p.act;
  return a;
}

// tttMlp: inputs q, k, v, eta, lnWeight?, lnBias?, W1, b1, W2, b2; outputs o, W1, b1, W2, b2.
inline TttMlpArgs ttt_mlp_args(const OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  TttMlpArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.eta = mlp_seq_view(c.in[3]);
  a.gamma = mlp_state_view(c.input(4));
  a.beta = mlp_state_view(c.input(5));
  a.W1_0 = mlp_state_view(c.input(6));
  a.b1_0 = mlp_state_view(c.input(7));
  a.W2_0 = mlp_state_view(c.input(8));
  a.b2_0 = mlp_state_view(c.input(9));
  a.W1f = mlp_state_view(c.out[1]);
  a.b1f = mlp_state_view(c.out[2]);
  a.W2f = mlp_state_view(c.out[3]);
  a.b2f = mlp_state_view(c.out[4]);
  a.ws = nullptr;
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.dh = (int)ttt_hidden(c);
  a.C = (int)p.chunk;
  a.layer_norm = p.layer_norm;
  a.residual = p.residual;
  a.bias = p.bias;
  a.token_idx = p.token_idx;
  a.eps = p.eps;
  a.act = p.act;
  return a;
}

// titansLinear: inputs q, k, v, theta, alpha?, eta?, M0, S0, A0, offset; outputs o, M, S, A, offset.
inline LinTokArgs titans_linear_token_args(const OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  LinTokArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.theta = mlp_seq_view(c.in[3]);
  a.alpha = mlp_seq_view(c.input(4));
  a.eta = mlp_seq_view(c.input(5));
  a.M0 = mlp_state_view(c.input(6));
  a.S0 = mlp_state_view(c.input(7));
  a.A0 = mlp_state_view(c.input(8));
  a.Mf = mlp_state_view(c.out[1]);
  a.Sf = mlp_state_view(c.out[2]);
  a.Af = mlp_state_view(c.out[3]);
  a.ws = nullptr;
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.C = (int)p.chunk;
  a.offset = (int)mem::read_offset("titansLinear", c.input(9), p.chunk);
  a.mom = p.momentum;
  a.decay = p.decay;
  return a;
}

// gatedDeltaRule: inputs q, k, v, g, beta, S0; outputs o, S.
inline GdnTokArgs gdn_token_args(const OpCall& c) {
  const GdnParams& p = c.p<GdnParams>();
  GdnTokArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.g = mlp_seq_view(c.in[3]);
  a.beta = mlp_seq_view(c.in[4]);
  a.S0 = mlp_state_view(c.input(5));
  a.Sf = mlp_state_view(c.out[1]);
  a.ws = nullptr;
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.scale = p.scale > 0 ? p.scale : 1.0f / std::sqrt((float)a.dk);
  return a;
}


// tnt: inputs q, k, v, the carried packed state?, then 5 per module slot (lr,
// alpha?, eta?, init1, init2?); outputs o and the packed state. `keep` holds
// the contiguous copy of the carried state the arguments point into. The
// caller sets `st` (the output state, or a workspace of the same layout).
inline TntTokArgs tnt_token_args(const OpCall& c, Tensor* keep, int* dh_max) {
  const TntParams& p = c.p<TntParams>();
  TntTokArgs a;
  a.q = mlp_seq_view(c.in[0]);
  a.k = mlp_seq_view(c.in[1]);
  a.v = mlp_seq_view(c.in[2]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.nm = (int)p.mods.size();
  a.proj = (int)p.proj;
  a.st = nullptr;
  a.pin = nullptr;
  a.pos0 = 0;
  if (c.has_input(kTntStateInput)) {  // its header decides fresh vs carried, and the position
    *keep = contiguous(c.in[kTntStateInput]);
    Tensor head = to_device(keep->slice(0, 0, TntLayout::kHeader), DeviceType::CPU);
    if (head.data<float>()[0] == 1.0f) {
      a.pin = keep->data<float>();
      a.pos0 = tnt_header_position(head.data<float>());
    }
  }
  const TntLayout L = tnt_layout(p, a.B, a.H, a.dk, a.dv);
  *dh_max = 0;
  for (int mi = 0; mi < a.nm; ++mi) {
    const TntModule& md = p.mods[(size_t)mi];
    const TntModLayout& ml = L.mods[(size_t)mi];
    const int s = p.slot(mi);
    TntTokMod& m = a.m[mi];
    m.lr = mlp_seq_view(c.in[(size_t)tnt_input(s, TNT_LR)]);
    m.alpha = mlp_seq_view(c.input(tnt_input(s, TNT_ALPHA)));
    m.eta = mlp_seq_view(c.input(tnt_input(s, TNT_ETA)));
    m.init1 = mlp_state_view(c.input(tnt_input(s, TNT_INIT1)));
    m.init2 = mlp_state_view(c.input(tnt_input(s, TNT_INIT2)));
    for (int w = 0; w < 2; ++w) {
      m.mem[w] = ml.mem[w].off;
      m.anc[w] = ml.anc[w].off;
      m.mom[w] = ml.mom[w].off;
      m.per[w] = w < ml.nmem ? ml.mem[w].per : 0;
    }
    m.pi = ml.pi.off;
    m.chunk = md.chunk;
    m.shard = md.shard;
    m.hidden = (int)md.hidden;
    m.act = md.act;
    m.global = md.global;
    m.momentum = md.momentum;
    m.decay = md.decay;
    m.has_pi = ml.pi.per > 0;
    *dh_max = std::max(*dh_max, m.hidden);
  }
  return a;
}

}  // namespace cuda
}  // namespace engram
