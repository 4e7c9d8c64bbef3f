// tttLinear / tttMlp: TTT layers (algorithms.md §9) in the mini-batch (chunk)
// dual form, row convention of the official code (z = x W + b).
//   q, k [B, T, H, Dk], v [B, T, H, Dv], eta [B, T, H] (per-token inner lr, >= 0),
//   lnWeight, lnBias [H, Dv] (optional; LayerNorm of the inner model).
//   f(x) = x + LN(f_res(x)) (layerNorm / residual switchable), inner loss
//   ||f(k) - v||^2 with the factor 2; in a mini-batch every gradient is taken
//   at the mini-batch-start weights and W_t = W_0 - sum_{i<=t} c_t eta_i grad_i
//   (c_t = 1, or 1/(t+1) with tokenIdx); the output reads W_t: o_t = f(q_t; W_t).
//   tttLinear: f_res(x) = x W + b, W [B, H, Dk, Dv], b [B, H, Dv]
//     inputs  q, k, v, eta, lnWeight?, lnBias?, W0?, b0?  -> o [B, T, H, Dv], W, b
//   tttMlp: f_res(x) = act(x W1 + b1) W2 + b2, W1 [B, H, Dk, Dh], W2 [B, H, Dh, Dv]
//     inputs  q, k, v, eta, lnWeight?, lnBias?, W1?, b1?, W2?, b2? -> o, W1, b1, W2, b2
// Without bias the b states are [0] tensors.
#include <cmath>

#include "memory_common.h"

namespace engram {

static TttParams parse_ttt(const char* op, const Attrs& a, bool mlp) {
  TttParams p;
  p.chunk = mem::parse_chunk(op, a, 16);
  p.layer_norm = a.get_bool(op, "layerNorm", true);
  p.residual = a.get_bool(op, "residual", true);
  p.bias = a.get_bool(op, "bias", true);
  p.token_idx = a.get_bool(op, "tokenIdx", false);
  double eps = a.get_float(op, "eps", 1e-6);
  ENGRAM_CHECK(eps > 0 && std::isfinite(eps), ARG, op, ": eps must be > 0, got ", eps);
  p.eps = (float)eps;
  p.final_state = a.get_bool(op, "outputFinalState", true);
  if (mlp) {
    p.act = mem::parse_act(op, a, MemAct::GELU_TANH);
    p.hidden = a.get_int(op, "hidden", 0);
    ENGRAM_CHECK(p.hidden >= 0, ARG, op, ": hidden must be > 0, got ", p.hidden);
  }
  return p;
}

void parse_TTT_LINEAR(OpCall& c, const Attrs& a) { c.params = parse_ttt("tttLinear", a, false); }
void parse_TTT_MLP(OpCall& c, const Attrs& a) { c.params = parse_ttt("tttMlp", a, true); }

static mem::SeqDims check_ttt_inputs(const char* op, const OpCall& c, const TttParams& p) {
  mem::SeqDims d = mem::check_qkv(op, c.in[0], c.in[1], c.in[2]);
  if (p.residual)
    ENGRAM_CHECK(d.Dk == d.Dv, SHAPE, op, ": the residual f(x) = x + ... needs Dk == Dv, got q ",
                 c.in[0].shape().str(), " and v ", c.in[2].shape().str(), " (or pass residual: false)");
  mem::check_gate(op, "eta", c.in[3], d, mem::GateRange::NONNEG);
  if (!p.layer_norm)
    ENGRAM_CHECK(!c.has_input(4) && !c.has_input(5), ARG, op, ": lnWeight/lnBias given but layerNorm is off");
  mem::check_head_param(op, "lnWeight", c.input(4), d, d.Dv);
  mem::check_head_param(op, "lnBias", c.input(5), d, d.Dv);
  return d;
}

void infer_TTT_LINEAR(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* op = "tttLinear";
  const TttParams& p = c.p<TttParams>();
  mem::SeqDims d = check_ttt_inputs(op, c, p);
  mem::check_state(op, "initialState.W", c.input(6), d, Dims{d.Dk, d.Dv});
  if (!p.bias) ENGRAM_CHECK(!c.has_input(7), ARG, op, ": initialState.b given but bias is off");
  mem::check_state(op, "initialState.b", c.input(7), d, Dims{d.Dv});
  outs.push_back({Dims{d.B, d.T, d.H, d.Dv}, c.in[0].dtype()});
  outs.push_back(mem::state_spec(p.final_state, d, Dims{d.Dk, d.Dv}));
  outs.push_back(mem::state_spec(p.final_state && p.bias, d, Dims{d.Dv}));
}

int64_t ttt_hidden(const OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  if (p.hidden > 0) return p.hidden;
  if (c.has_input(6) && c.in[6].ndim() == 4) return c.in[6].size(3);
  return 4 * c.in[0].size(3);
}

void infer_TTT_MLP(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* op = "tttMlp";
  const TttParams& p = c.p<TttParams>();
  mem::SeqDims d = check_ttt_inputs(op, c, p);
  const int64_t Dh = ttt_hidden(c);
  mem::check_state(op, "initialState.W1", c.input(6), d, Dims{d.Dk, Dh});
  mem::check_state(op, "initialState.W2", c.input(8), d, Dims{Dh, d.Dv});
  if (!p.bias)
    ENGRAM_CHECK(!c.has_input(7) && !c.has_input(9), ARG, op, ": initialState.b1/b2 given but bias is off");
  mem::check_state(op, "initialState.b1", c.input(7), d, Dims{Dh});
  mem::check_state(op, "initialState.b2", c.input(9), d, Dims{d.Dv});
  outs.push_back({Dims{d.B, d.T, d.H, d.Dv}, c.in[0].dtype()});
  outs.push_back(mem::state_spec(p.final_state, d, Dims{d.Dk, Dh}));
  outs.push_back(mem::state_spec(p.final_state && p.bias, d, Dims{Dh}));
  outs.push_back(mem::state_spec(p.final_state, d, Dims{Dh, d.Dv}));
  outs.push_back(mem::state_spec(p.final_state && p.bias, d, Dims{d.Dv}));
}

}  // namespace engram
