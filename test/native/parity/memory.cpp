// Parity cases for the test-time memory ops: the chunk-parallel kernels (and
// the recurrent modes) against the token-loop references of native/cpu/ops/
// (stale-anchor loops in double, i.e. algorithms.md §12.1 oracle 2 for Titans
// and TTT and oracle 4 for Gated DeltaNet), on odd shapes (T = 1, 63, 500;
// D = 16, 60, 64, 128; H = 1, 3), chunk sizes 1..64 and tails, strided and
// bf16/f16 inputs, gates with exact zeros and ones, and initial states.
#include <cmath>
#include <string>

#include "../parity.h"
#include "engram/philox.h"

namespace engram {
namespace parity {

namespace {

// Uniform gate in [lo, hi) of shape [B, T, H]; every `edge`-th value set to
// `edge_val` (exact 0/1 gates exercise the zero-product paths).
Tensor gate(const Dims& s, uint64_t seed, float lo, float hi, int edge = 0, float edge_val = 0.0f,
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

// Keys/queries with entries ~ N(0, 1/D) (norm ~ 1) so the inner steps are stable.
Tensor seq(const Dims& s, uint64_t seed, DType dt, bool strided_view = false) {
  float sc = 1.0f / std::sqrt((float)s[3]);
  if (!strided_view) return rnd(s, seed, dt, sc);
  Tensor base = rnd(Dims{s[0], s[1], s[3], s[2]}, seed, dt, sc);  // [B, T, D, H] -> view [B, T, H, D]
  return base.permute({0, 1, 3, 2});
}

std::string shape_name(int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv) {
  return "B" + std::to_string(B) + " T" + std::to_string(T) + " H" + std::to_string(H) + " dk" +
         std::to_string(dk) + " dv" + std::to_string(dv);
}

struct TitansCase {
  int64_t B = 1, T = 63, H = 3, dk = 16, dv = 16, C = 16;
  int64_t offset = -1;  // >= 0: continue a chunk a previous call started (anchor + offset inputs)
  bool mom = true, decay = true, strided = false, state = false, recurrent = false;
  DType dt = DType::F32;
};

Tensor offset_tensor(int64_t off) {
  Tensor t = Tensor::empty(Dims{1}, DType::I32, DeviceType::CPU);
  *t.data<int32_t>() = (int32_t)off;
  return t;
}

Case titans_linear_case(const TitansCase& tc, uint64_t seed) {
  Dims qs{tc.B, tc.T, tc.H, tc.dk}, vs{tc.B, tc.T, tc.H, tc.dv}, gs{tc.B, tc.T, tc.H};
  Case c;
  c.op = OpId::TITANS_LINEAR;
  c.in = {seq(qs, seed, tc.dt, tc.strided), seq(qs, seed + 1, tc.dt, tc.strided), rnd(vs, seed + 2, tc.dt),
          gate(gs, seed + 3, 0.05f, 0.3f)};
  c.in.push_back(tc.decay ? gate(gs, seed + 4, 0.0f, 0.2f, 7, 1.0f) : Tensor());
  c.in.push_back(tc.mom ? gate(gs, seed + 5, 0.5f, 0.95f, 5, 0.0f) : Tensor());
  if (tc.state) {
    c.in.push_back(rnd(Dims{tc.B, tc.H, tc.dv, tc.dk}, seed + 6, DType::F32, 0.3f));
    c.in.push_back(rnd(Dims{1, tc.H, tc.dv, tc.dk}, seed + 7, DType::F32, 0.1f));
  }
  if (tc.offset >= 0) {
    if (!tc.state) c.in.resize(8);
    c.in.push_back(rnd(Dims{tc.B, tc.H, tc.dv, tc.dk}, seed + 8, DType::F32, 0.3f));
    c.in.push_back(offset_tensor(tc.offset));
  }
  c.attrs.set_number("chunkSize", (double)tc.C);
  c.attrs.set_bool("momentum", tc.mom);
  c.attrs.set_bool("decay", tc.decay);
  if (tc.recurrent) c.attrs.set_string("mode", "recurrent");
  c.name = std::string(dtype_name(tc.dt)) + " " + shape_name(tc.B, tc.T, tc.H, tc.dk, tc.dv) + " C" +
           std::to_string(tc.C) + (tc.mom ? "" : " nomom") + (tc.decay ? "" : " nodecay") +
           (tc.strided ? " strided" : "") + (tc.state ? " state" : "") + (tc.recurrent ? " recurrent" : "") +
           (tc.offset >= 0 ? " offset" + std::to_string(tc.offset) : "");
  c.tol = tc.dt == DType::F32 ? 1e-9 : tol_for(tc.dt);
  return c;
}

// l2-normalised rows (the models normalise keys; keeps (I + A)^{-1} tame).
Tensor unit_rows(const Dims& s, uint64_t seed, DType dt, bool strided_view = false) {
  Tensor t = rnd(Dims{s[0], s[1], s[3], s[2]}, seed);  // [B, T, D, H]
  float* p = t.data<float>();
  const int64_t D = s[3], H = s[2];
  for (int64_t r = 0; r < s[0] * s[1]; ++r)
    for (int64_t h = 0; h < H; ++h) {
      double nn = 0;
      for (int64_t d = 0; d < D; ++d) nn += (double)p[(r * D + d) * H + h] * p[(r * D + d) * H + h];
      const float inv = (float)(1.0 / std::sqrt(nn + 1e-12));
      for (int64_t d = 0; d < D; ++d) p[(r * D + d) * H + h] *= inv;
    }
  if (dt != DType::F32) {
    Attrs a;
    a.set_string("to", dtype_name(dt));
    t = call_op1(OpId::CAST, {t}, a);
  }
  Tensor v = t.permute({0, 1, 3, 2});
  return strided_view ? v : contiguous(v);
}

struct GdnCase {
  int64_t B = 1, T = 63, H = 3, dk = 16, dv = 16, C = 16;
  float gmin = -1.0f;
  bool strided = false, state = false, recurrent = false;
  DType dt = DType::F32;
};

Case gdn_case(const GdnCase& gc, uint64_t seed) {
  Dims qs{gc.B, gc.T, gc.H, gc.dk}, vs{gc.B, gc.T, gc.H, gc.dv}, gs{gc.B, gc.T, gc.H};
  Case c;
  c.op = OpId::GATED_DELTA_RULE;
  c.in = {unit_rows(qs, seed, gc.dt, gc.strided), unit_rows(qs, seed + 1, gc.dt, gc.strided), rnd(vs, seed + 2, gc.dt),
          gate(gs, seed + 3, gc.gmin, 0.0f, 6, 0.0f), gate(gs, seed + 4, 0.05f, 0.95f)};
  if (gc.state) c.in.push_back(rnd(Dims{gc.B, gc.H, gc.dk, gc.dv}, seed + 5, DType::F32, 0.5f));
  c.attrs.set_number("chunkSize", (double)gc.C);
  if (gc.recurrent) c.attrs.set_string("mode", "recurrent");
  c.name = std::string(dtype_name(gc.dt)) + " " + shape_name(gc.B, gc.T, gc.H, gc.dk, gc.dv) + " C" +
           std::to_string(gc.C) + " gmin" + std::to_string((int)gc.gmin) + (gc.strided ? " strided" : "") +
           (gc.state ? " state" : "") + (gc.recurrent ? " recurrent" : "");
  c.tol = gc.dt == DType::F32 ? 1e-9 : tol_for(gc.dt);
  return c;
}

struct MlpCase {
  int64_t B = 1, T = 63, H = 3, d = 16, dh = 64, C = 16;
  int64_t offset = -1;  // >= 0: anchors + offset inputs
  bool mom = true, decay = true, strided = false, state = true, hidden_opt = false;
  const char* act = "gelu";
  DType dt = DType::F32;
};

Case titans_mlp_case(const MlpCase& mc, uint64_t seed) {
  Dims qs{mc.B, mc.T, mc.H, mc.d}, gs{mc.B, mc.T, mc.H};
  Case c;
  c.op = OpId::TITANS_MLP;
  // Milder gates than the linear cases: the MLP inner problem is less well
  // conditioned, and a diverging memory would compare overflow, not kernels.
  c.in = {seq(qs, seed, mc.dt, mc.strided), seq(qs, seed + 1, mc.dt, mc.strided), rnd(qs, seed + 2, mc.dt, 0.5f),
          gate(gs, seed + 3, 0.02f, 0.15f)};
  c.in.push_back(mc.decay ? gate(gs, seed + 4, 0.0f, 0.05f, 29, 1.0f) : Tensor());
  c.in.push_back(mc.mom ? gate(gs, seed + 5, 0.3f, 0.8f, 5, 0.0f) : Tensor());
  if (mc.state) {
    const float s1 = 1.0f / std::sqrt((float)mc.dh), s2 = 1.0f / std::sqrt((float)mc.d);
    c.in.push_back(rnd(Dims{mc.B, mc.H, mc.d, mc.dh}, seed + 6, DType::F32, s1));
    c.in.push_back(rnd(Dims{1, mc.H, mc.dh, mc.d}, seed + 7, DType::F32, s2));
    c.in.push_back(rnd(Dims{mc.B, mc.H, mc.d, mc.dh}, seed + 8, DType::F32, 0.1f * s1));
    c.in.push_back(rnd(Dims{mc.B, mc.H, mc.dh, mc.d}, seed + 9, DType::F32, 0.1f * s2));
    if (mc.offset >= 0) {
      c.in.push_back(rnd(Dims{mc.B, mc.H, mc.d, mc.dh}, seed + 10, DType::F32, s1));
      c.in.push_back(rnd(Dims{1, mc.H, mc.dh, mc.d}, seed + 11, DType::F32, s2));
      c.in.push_back(offset_tensor(mc.offset));
    }
  }
  c.attrs.set_number("chunkSize", (double)mc.C);
  c.attrs.set_bool("momentum", mc.mom);
  c.attrs.set_bool("decay", mc.decay);
  c.attrs.set_string("activation", mc.act);
  if (mc.hidden_opt) c.attrs.set_number("hidden", (double)mc.dh);
  c.name = std::string(dtype_name(mc.dt)) + " " + shape_name(mc.B, mc.T, mc.H, mc.d, mc.d) + " dh" +
           std::to_string(mc.dh) + " C" + std::to_string(mc.C) + " " + mc.act + (mc.mom ? "" : " nomom") +
           (mc.decay ? "" : " nodecay") + (mc.strided ? " strided" : "") + (mc.state ? "" : " zero-state") +
           (mc.offset >= 0 ? " offset" + std::to_string(mc.offset) : "");
  c.tol = mc.dt == DType::F32 ? 1e-9 : tol_for(mc.dt);
  return c;
}

struct TttCase {
  int64_t B = 1, T = 63, H = 3, dk = 16, dv = 16, dh = 64, C = 16;
  bool mlp = false, ln = true, residual = true, bias = true, token_idx = false, state = true, ln_params = true;
  bool strided = false;
  const char* act = "geluTanh";
  DType dt = DType::F32;
};

Case ttt_case(const TttCase& tc, uint64_t seed) {
  Dims qs{tc.B, tc.T, tc.H, tc.dk}, vs{tc.B, tc.T, tc.H, tc.dv}, gs{tc.B, tc.T, tc.H};
  Case c;
  c.op = tc.mlp ? OpId::TTT_MLP : OpId::TTT_LINEAR;
  c.in = {seq(qs, seed, tc.dt, tc.strided), seq(qs, seed + 1, tc.dt, tc.strided), rnd(vs, seed + 2, tc.dt, 0.5f),
          gate(gs, seed + 3, 0.05f, 0.5f, 9, 0.0f)};
  const bool lnp = tc.ln && tc.ln_params;
  c.in.push_back(lnp ? rnd(Dims{tc.H, tc.dv}, seed + 4, DType::F32, 0.2f, 1.0f) : Tensor());
  c.in.push_back(lnp ? rnd(Dims{tc.H, tc.dv}, seed + 5, DType::F32, 0.1f) : Tensor());
  if (tc.state) {
    if (!tc.mlp) {
      c.in.push_back(rnd(Dims{tc.B, tc.H, tc.dk, tc.dv}, seed + 6, DType::F32, 1.0f / std::sqrt((float)tc.dk)));
      c.in.push_back(tc.bias ? rnd(Dims{1, tc.H, tc.dv}, seed + 7, DType::F32, 0.1f) : Tensor());
    } else {
      c.in.push_back(rnd(Dims{tc.B, tc.H, tc.dk, tc.dh}, seed + 6, DType::F32, 1.0f / std::sqrt((float)tc.dk)));
      c.in.push_back(tc.bias ? rnd(Dims{tc.B, tc.H, tc.dh}, seed + 7, DType::F32, 0.1f) : Tensor());
      c.in.push_back(rnd(Dims{tc.B, tc.H, tc.dh, tc.dv}, seed + 8, DType::F32, 1.0f / std::sqrt((float)tc.dh)));
      c.in.push_back(tc.bias ? rnd(Dims{tc.B, tc.H, tc.dv}, seed + 9, DType::F32, 0.1f) : Tensor());
    }
  }
  c.attrs.set_number("chunkSize", (double)tc.C);
  c.attrs.set_bool("layerNorm", tc.ln);
  c.attrs.set_bool("residual", tc.residual);
  c.attrs.set_bool("bias", tc.bias);
  c.attrs.set_bool("tokenIdx", tc.token_idx);
  if (tc.mlp) {
    c.attrs.set_string("activation", tc.act);
    c.attrs.set_number("hidden", (double)tc.dh);
  }
  c.name = std::string(dtype_name(tc.dt)) + " " + shape_name(tc.B, tc.T, tc.H, tc.dk, tc.dv) +
           (tc.mlp ? " dh" + std::to_string(tc.dh) + " " + tc.act : std::string()) + " C" + std::to_string(tc.C) +
           (tc.ln ? "" : " noLN") + (tc.residual ? "" : " nores") + (tc.bias ? "" : " nobias") +
           (tc.token_idx ? " tokenIdx" : "") + (tc.state ? "" : " zero-state") + (tc.strided ? " strided" : "");
  c.tol = tc.dt == DType::F32 ? 1e-9 : tol_for(tc.dt);
  return c;
}

}  // namespace

ENGRAM_PARITY_CASES(ttt) {
  uint64_t seed = 11000;
  for (int mlp = 0; mlp < 2; ++mlp) {
    for (int64_t C : {1, 4, 16, 64}) {
      TttCase tc;
      tc.mlp = mlp, tc.C = C;
      cases.push_back(ttt_case(tc, seed += 20));
    }
    for (int mask = 0; mask < 8; ++mask) {
      TttCase tc;
      tc.mlp = mlp, tc.T = 24, tc.C = 8, tc.H = 1;
      tc.ln = mask & 1, tc.residual = mask & 2, tc.bias = mask & 4, tc.token_idx = mask == 7;
      cases.push_back(ttt_case(tc, seed += 20));
    }
    {
      TttCase tc;  // one head, long, tail chunk, no LN parameters
      tc.mlp = mlp, tc.T = 500, tc.H = 1, tc.C = 16, tc.ln_params = false;
      cases.push_back(ttt_case(tc, seed += 20));
    }
    {
      TttCase tc;  // d = 64, T = 1, zero initial state
      tc.mlp = mlp, tc.T = 1, tc.H = 1, tc.dk = tc.dv = 64, tc.dh = 256, tc.state = false;
      cases.push_back(ttt_case(tc, seed += 20));
    }
    {
      TttCase tc;  // dk != dv without the residual, strided, B = 2
      tc.mlp = mlp, tc.B = 2, tc.T = 37, tc.dk = 60, tc.dv = 64, tc.dh = 48, tc.residual = false, tc.strided = true;
      cases.push_back(ttt_case(tc, seed += 20));
    }
    {
      TttCase tc;
      tc.mlp = mlp, tc.T = 40, tc.H = 1, tc.dk = tc.dv = 128, tc.dh = 128, tc.C = 16;
      cases.push_back(ttt_case(tc, seed += 20));
    }
    for (DType dt : {DType::BF16, DType::F16}) {
      TttCase tc;
      tc.mlp = mlp, tc.dt = dt, tc.T = 40, tc.H = 1;
      cases.push_back(ttt_case(tc, seed += 20));
    }
  }
  for (const char* act : {"gelu", "silu", "relu", "tanh"}) {
    TttCase tc;
    tc.mlp = true, tc.act = act, tc.T = 20, tc.C = 8, tc.H = 1;
    cases.push_back(ttt_case(tc, seed += 20));
  }
}

ENGRAM_PARITY_CASES(titans_mlp) {
  uint64_t seed = 9000;
  for (int64_t C : {1, 4, 16, 64}) {
    MlpCase mc;
    mc.C = C;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  for (int mask = 0; mask < 3; ++mask) {
    MlpCase mc;
    mc.mom = mask & 1, mc.decay = mask & 2, mc.T = 30, mc.C = 8;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  for (const char* act : {"geluTanh", "silu", "relu", "tanh"}) {
    MlpCase mc;
    mc.act = act, mc.T = 20, mc.C = 8, mc.H = 1;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  {
    MlpCase mc;  // one head (threaded GEMMs), long, tail chunk
    mc.T = 500, mc.H = 1, mc.C = 64;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  {
    MlpCase mc;  // d = 64, dh = 256; T = 1
    mc.T = 1, mc.H = 1, mc.d = 64, mc.dh = 256, mc.C = 64;
    cases.push_back(titans_mlp_case(mc, seed += 20));
    mc.T = 63, mc.C = 16;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  {
    MlpCase mc;  // d = 60 with a hidden width given as an option, strided, B = 2
    mc.B = 2, mc.T = 33, mc.H = 3, mc.d = 60, mc.dh = 40, mc.C = 16, mc.strided = true, mc.hidden_opt = true;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  {
    MlpCase mc;  // zero initial state (a fixed point: outputs are q)
    mc.state = false, mc.T = 10, mc.C = 4;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    MlpCase mc;
    mc.dt = dt, mc.T = 40, mc.C = 16, mc.H = 1;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
  // continuing a started chunk: offset + anchors, ending inside a chunk, on a boundary, T = 1
  for (int64_t off : {0, 3, 15}) {
    for (int64_t T : {1, 13, 45}) {
      MlpCase mc;
      mc.offset = off, mc.T = T, mc.C = 16, mc.H = 2, mc.mom = T != 13, mc.decay = off != 3;
      cases.push_back(titans_mlp_case(mc, seed += 20));
    }
  }
  {
    MlpCase mc;  // one head (hidden-unit slices), long
    mc.offset = 40, mc.T = 300, mc.H = 1, mc.C = 64, mc.d = 64, mc.dh = 128;
    cases.push_back(titans_mlp_case(mc, seed += 20));
  }
}

ENGRAM_PARITY_CASES(gated_delta_rule) {
  uint64_t seed = 7000;
  for (int64_t C : {1, 8, 16, 64}) {
    GdnCase gc;
    gc.C = C;
    cases.push_back(gdn_case(gc, seed += 10));
  }
  {
    GdnCase gc;  // strong decay (exp(G) underflows inside a chunk), tail chunk
    gc.T = 100, gc.C = 64, gc.gmin = -8.0f, gc.state = true;
    cases.push_back(gdn_case(gc, seed += 10));
  }
  for (int64_t dk : {16, 60, 64, 128}) {
    GdnCase gc;  // one head: column-slice path
    gc.T = dk == 128 ? 70 : 500, gc.H = 1, gc.dk = dk, gc.dv = dk == 60 ? 64 : dk, gc.C = 64, gc.state = true;
    cases.push_back(gdn_case(gc, seed += 10));
    gc.recurrent = true;
    cases.push_back(gdn_case(gc, seed += 10));
  }
  {
    GdnCase gc;
    gc.T = 1, gc.H = 1, gc.dk = 64, gc.dv = 64, gc.C = 64;
    cases.push_back(gdn_case(gc, seed += 10));
    gc.T = 300, gc.dk = 32, gc.dv = 40, gc.C = 128;  // a large chunk (the CUDA kernel's other shared-memory size)
    cases.push_back(gdn_case(gc, seed += 10));
  }
  {
    GdnCase gc;
    gc.B = 2, gc.T = 45, gc.H = 3, gc.dk = 32, gc.dv = 48, gc.C = 32, gc.strided = true, gc.state = true;
    cases.push_back(gdn_case(gc, seed += 10));
    gc.recurrent = true;
    cases.push_back(gdn_case(gc, seed += 10));
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    GdnCase gc;
    gc.dt = dt, gc.T = 63, gc.C = 16, gc.dk = 64, gc.dv = 64, gc.H = 1;
    cases.push_back(gdn_case(gc, seed += 10));
  }
}

ENGRAM_PARITY_CASES(titans_linear) {
  uint64_t seed = 5000;
  for (int64_t C : {1, 4, 16, 64}) {
    TitansCase tc;
    tc.C = C;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  for (int mask = 0; mask < 4; ++mask) {
    TitansCase tc;
    tc.mom = mask & 1;
    tc.decay = mask & 2;
    tc.T = 40;
    tc.C = 8;
    tc.state = true;
    cases.push_back(titans_linear_case(tc, seed += 10));
    tc.recurrent = true;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  {
    TitansCase tc;  // T = 1, one head (slice-parallel path)
    tc.T = 1, tc.H = 1, tc.dk = 60, tc.dv = 64, tc.C = 64;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  {
    TitansCase tc;  // long, tail chunk, one head (slices)
    tc.T = 500, tc.H = 1, tc.dk = 64, tc.dv = 60, tc.C = 64, tc.state = true;
    cases.push_back(titans_linear_case(tc, seed += 10));
    tc.recurrent = true;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  {
    TitansCase tc;  // wide heads, strided views, B = 2
    tc.B = 2, tc.T = 37, tc.H = 3, tc.dk = 128, tc.dv = 128, tc.C = 16, tc.strided = true;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    TitansCase tc;
    tc.dt = dt, tc.T = 63, tc.C = 16, tc.dk = 64, tc.dv = 64, tc.H = 1;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  {
    TitansCase tc;  // chunk larger than T
    tc.T = 20, tc.C = 64;
    cases.push_back(titans_linear_case(tc, seed += 10));
    tc.T = 300, tc.C = 128, tc.dk = 32, tc.dv = 40, tc.H = 1;  // a large chunk, partial column slice on CUDA
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
  // continuing a started chunk: offset + anchor; ending inside the first segment, on a boundary, later
  for (int64_t off : {0, 1, 5, 15}) {
    for (int64_t T : {1, 11, 15, 40}) {
      for (int rec = 0; rec < 2; ++rec) {
        TitansCase tc;
        tc.offset = off, tc.T = T, tc.C = 16, tc.state = (T + off) % 2 == 0, tc.recurrent = rec;
        tc.mom = T != 11, tc.decay = off != 5;
        cases.push_back(titans_linear_case(tc, seed += 10));
      }
    }
  }
  {
    TitansCase tc;  // one head (column slices), long, B = 2
    tc.offset = 50, tc.B = 2, tc.T = 500, tc.H = 1, tc.dk = 64, tc.dv = 60, tc.C = 64, tc.state = true;
    cases.push_back(titans_linear_case(tc, seed += 10));
  }
}

}  // namespace parity
}  // namespace engram
