// Parity cases for the trellis op: the chunk kernel (and the recurrent mode)
// against the double-precision token loop ref_trellis on odd shapes (T = 1,
// 63, 500; dk/dv = 16, 60, 64, 128; m = 1..128; H = 1, 3), chunk sizes 1..64
// with tails and mid-chunk starts (offset + carried anchors), every write
// non-linearity and inter-pass map, scalar and per-slot forget gates with
// exact 0/1 values, momentum, additive writes, initial states, strided and
// bf16/f16 inputs. On a GPU the harness runs the CUDA kernel on them too.
#include <cmath>
#include <string>

#include "../parity.h"
#include "engram/trellis_params.h"

namespace engram {
namespace parity {

namespace {

// Uniform values in [lo, hi) of any shape; every `edge`-th set to `edge_val`.
Tensor uniform(const Dims& s, uint64_t seed, float lo, float hi, int edge = 0, float edge_val = 0.0f) {
  Tensor t = rand_uniform(s, seed);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = lo + (hi - lo) * p[i];
    if (edge && i % edge == edge - 1) p[i] = edge_val;
  }
  return t;
}

Tensor as(const Tensor& t, DType dt) {
  if (dt == DType::F32) return t;
  Attrs a;
  a.set_string("to", dtype_name(dt));
  return call_op1(OpId::CAST, {t}, a);
}

// l2-normalised rows [B, T, H, D] (the OGD step is stable for gamma |w|^2 < 2);
// strided: a permuted view of [B, T, D, H] data.
Tensor unit(const Dims& s, uint64_t seed, DType dt, bool strided_view) {
  Tensor t = rnd(Dims{s[0], s[1], s[3], s[2]}, seed);
  float* p = t.data<float>();
  const int64_t D = s[3], H = s[2];
  for (int64_t r = 0; r < s[0] * s[1]; ++r)
    for (int64_t h = 0; h < H; ++h) {
      double nn = 0;
      for (int64_t d = 0; d < D; ++d) nn += (double)p[(r * D + d) * H + h] * p[(r * D + d) * H + h];
      const float inv = (float)(1.0 / std::sqrt(nn + 1e-12));
      for (int64_t d = 0; d < D; ++d) p[(r * D + d) * H + h] *= inv;
    }
  Tensor v = as(t, dt).permute({0, 1, 3, 2});
  return strided_view ? v : contiguous(v);
}

struct TrCase {
  int64_t B = 1, T = 63, H = 3, dk = 16, dv = 16, m = 8, C = 16;
  const char* phi = "identity";
  const char* f = "layerNormSilu";
  const char* beta = "scalar";  // "none", "scalar", "slot"
  bool gamma = true, mom = false, additive = false, state = false, strided = false, recurrent = false;
  int offset = 0;  // > 0: a call that starts mid-chunk, with carried anchors
  DType dt = DType::F32;
};

Case trellis_case(const TrCase& tc, uint64_t seed) {
  namespace I = trellis_in;
  const Dims qs{tc.B, tc.T, tc.H, tc.dk}, vs{tc.B, tc.T, tc.H, tc.dv}, ss{tc.B, tc.T, tc.H, tc.m}, gs{tc.B, tc.T, tc.H};
  Case c;
  c.op = OpId::TRELLIS;
  c.in.assign(I::COUNT, Tensor());
  c.in[I::Q] = unit(qs, seed, tc.dt, tc.strided);
  c.in[I::K] = unit(qs, seed + 1, tc.dt, tc.strided);
  c.in[I::V] = unit(vs, seed + 2, tc.dt, tc.strided);
  c.in[I::ALPHA] = as(rnd(ss, seed + 3), tc.dt);
  const std::string beta = tc.beta;
  if (beta == "scalar") c.in[I::BETA] = uniform(gs, seed + 4, 0.6f, 1.0f, 11, 0.0f);
  if (beta == "slot") c.in[I::BETA] = uniform(ss, seed + 4, 0.5f, 1.0f, 13, 1.0f);
  if (tc.gamma) c.in[I::GAMMA] = uniform(gs, seed + 5, 0.05f, 0.6f, 17, 0.0f);
  if (tc.mom) c.in[I::ETA] = uniform(gs, seed + 6, 0.3f, 0.9f, 7, 0.0f);
  const Dims sk{tc.B, tc.H, tc.m, tc.dk}, sv{1, tc.H, tc.m, tc.dv};
  if (tc.state || tc.offset) {
    c.in[I::MK] = rnd(sk, seed + 7, DType::F32, 0.3f);
    c.in[I::MV] = rnd(sv, seed + 8, DType::F32, 0.3f);
    if (tc.mom) {
      c.in[I::SK] = rnd(sk, seed + 9, DType::F32, 0.05f);
      c.in[I::SV] = rnd(sv, seed + 10, DType::F32, 0.05f);
    }
  }
  if (tc.offset) {
    c.in[I::AK] = rnd(sk, seed + 11, DType::F32, 0.3f);
    c.in[I::AV] = rnd(sv, seed + 12, DType::F32, 0.3f);
    Tensor off = Tensor::empty(Dims{1}, DType::I32);
    off.data<int32_t>()[0] = tc.offset;
    c.in[I::OFFSET] = off;
  }
  while (!c.in.empty() && !c.in.back().defined()) c.in.pop_back();
  c.attrs.set_number("chunkSize", (double)tc.C);
  c.attrs.set_string("f", tc.f);
  if (tc.additive) c.attrs.set_string("write", "additive");
  else c.attrs.set_string("phi", tc.phi);
  if (std::string(tc.f) == "softmax") c.attrs.set_number("scale", 2.0);
  if (!tc.gamma) c.attrs.set_number("lr", 0.4);
  if (tc.recurrent) c.attrs.set_string("mode", "recurrent");
  c.name = std::string(dtype_name(tc.dt)) + " B" + std::to_string(tc.B) + " T" + std::to_string(tc.T) + " H" +
           std::to_string(tc.H) + " dk" + std::to_string(tc.dk) + " dv" + std::to_string(tc.dv) + " m" +
           std::to_string(tc.m) + " C" + std::to_string(tc.C) + " " + (tc.additive ? "additive" : tc.phi) + "/" +
           tc.f + " beta:" + tc.beta + (tc.gamma ? "" : " lr") + (tc.mom ? " mom" : "") +
           (tc.state ? " state" : "") + (tc.offset ? " offset" + std::to_string(tc.offset) : "") +
           (tc.strided ? " strided" : "") + (tc.recurrent ? " recurrent" : "");
  c.tol = tc.dt == DType::F32 ? 1e-9 : tol_for(tc.dt);
  return c;
}

}  // namespace

ENGRAM_PARITY_CASES(trellis) {
  uint64_t seed = 9100;
  auto add = [&](TrCase tc) { cases.push_back(trellis_case(tc, seed += 20)); };
  // shapes and chunk sizes (tails: 63 = 3 x 16 + 15; 500 = 7 x 64 + 52)
  for (int64_t C : {1, 5, 16, 64}) {
    TrCase t;
    t.C = C;
    add(t);
  }
  { TrCase t; t.T = 1; t.B = 2; t.H = 1; t.m = 1; t.C = 4; add(t); }
  { TrCase t; t.T = 500; t.H = 1; t.dk = 64; t.dv = 64; t.m = 64; t.C = 64; add(t); }
  { TrCase t; t.T = 130; t.H = 1; t.dk = 128; t.dv = 60; t.m = 128; t.C = 32; t.beta = "slot"; add(t); }
  { TrCase t; t.B = 2; t.dk = 60; t.dv = 16; t.m = 33; add(t); }
  // every write non-linearity x inter-pass map
  for (const char* phi : {"identity", "siluNorm", "layerNorm"})
    for (const char* f : {"softmax", "siluNorm", "layerNormSilu", "identity"}) {
      TrCase t;
      t.phi = phi;
      t.f = f;
      t.state = true;  // a non-zero memory keeps the normalised phis away from z = 0
      add(t);
    }
  // gates: none, per slot, momentum (scalar and per-slot), lr option, additive writes
  { TrCase t; t.beta = "none"; t.gamma = false; add(t); }
  { TrCase t; t.beta = "slot"; add(t); }
  { TrCase t; t.beta = "slot"; t.mom = true; t.state = true; add(t); }
  { TrCase t; t.mom = true; t.state = true; t.phi = "siluNorm"; add(t); }
  { TrCase t; t.beta = "none"; t.mom = true; add(t); }
  { TrCase t; t.additive = true; t.f = "softmax"; t.beta = "slot"; add(t); }
  { TrCase t; t.additive = true; t.mom = true; t.C = 7; add(t); }
  // mid-chunk starts with carried anchors; batch-1 states broadcast
  { TrCase t; t.offset = 5; t.mom = true; add(t); }
  { TrCase t; t.offset = 15; t.T = 1; t.beta = "slot"; add(t); }
  { TrCase t; t.offset = 3; t.T = 40; t.C = 64; t.B = 2; add(t); }
  // the recurrent mode computes the same function
  { TrCase t; t.recurrent = true; add(t); }
  { TrCase t; t.recurrent = true; t.C = 1; t.beta = "slot"; t.mom = true; add(t); }
  { TrCase t; t.recurrent = true; t.offset = 9; t.phi = "layerNorm"; add(t); }
  // strided and half-precision inputs
  { TrCase t; t.strided = true; t.beta = "slot"; add(t); }
  { TrCase t; t.dt = DType::BF16; t.mom = true; add(t); }
  { TrCase t; t.dt = DType::F16; t.strided = true; t.f = "softmax"; add(t); }
}

}  // namespace parity
}  // namespace engram
