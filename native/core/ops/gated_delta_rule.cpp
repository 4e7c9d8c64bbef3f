// gatedDeltaRule: the gated delta rule (Gated DeltaNet, algorithms.md §10),
// fla row convention.
//   q, k [B, T, H, K], v [B, T, H, V], g [B, T, H] (log decay, <= 0),
//   beta [B, T, H] in (0, 1), initial state S0 [B, H, K, V] f32 (optional)
//   -> o [B, T, H, V] (q's dtype), final state [B, H, K, V] f32 ([0] if not requested)
// Per token: S = exp(g) S;  S += k (beta (v - k^T S))^T;  o = (scale q)^T S.
// mode 'chunk' (WY/UT form, exact for every chunk size) or 'recurrent'.
#include <cmath>

#include "memory_common.h"

namespace engram {

void parse_GATED_DELTA_RULE(OpCall& c, const Attrs& a) {
  const char* op = "gatedDeltaRule";
  GdnParams p;
  p.chunk = mem::parse_chunk(op, a, 64);
  double sc = a.get_float(op, "scale", 0.0);
  ENGRAM_CHECK(sc >= 0 && std::isfinite(sc), ARG, op, ": scale must be > 0 (or 0 for 1/sqrt(K)), got ", sc);
  p.scale = (float)sc;
  p.final_state = a.get_bool(op, "outputFinalState", true);
  p.recurrent = mem::parse_mode(op, a);
  c.params = p;
}

void infer_GATED_DELTA_RULE(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* op = "gatedDeltaRule";
  const GdnParams& p = c.p<GdnParams>();
  mem::SeqDims d = mem::check_qkv(op, c.in[0], c.in[1], c.in[2]);
  mem::check_gate(op, "g", c.in[3], d, mem::GateRange::NONPOS);
  mem::check_gate(op, "beta", c.in[4], d, mem::GateRange::UNIT_OPEN);
  mem::check_state(op, "initialState", c.input(5), d, Dims{d.Dk, d.Dv});
  outs.push_back({Dims{d.B, d.T, d.H, d.Dv}, c.in[0].dtype()});
  outs.push_back(mem::state_spec(p.final_state, d, Dims{d.Dk, d.Dv}));
}

}  // namespace engram
