// titansLinear / titansMlp: Titans neural long-term memory (algorithms.md §2,
// §3) with momentum and a forget gate, stale-anchor chunks, write-before-read.
//   q, k [B, T, H, Dk], v [B, T, H, Dv]; gates theta (lr, >= 0), alpha (forget,
//   [0, 1]; absent when decay is off), eta (momentum decay, [0, 1]; absent when
//   momentum is off), each [B, T, H].
//   titansLinear: memory M [B, H, Dv, Dk] (y = M q), momentum S (same shape)
//     inputs  q, k, v, theta, alpha?, eta?, M0?, S0?, A0?, offset?
//       -> o [B, T, H, Dv], M, S, A (anchor), offset
//   titansMlp: M(x) = x + W1 act(W2 x), W1 [B, H, D, Dh], W2 [B, H, Dh, D] (Dk = Dv = D)
//     inputs  q, k, v, theta, alpha?, eta?, W1?, W2?, S1?, S2?, A1?, A2?, offset?
//       -> o, W1, W2, S1, S2, A1, A2, offset
// Per token (u_t = grad of ||M(k_t) - v_t||^2 at the chunk-start memory):
//   S_t = eta_t S_{t-1} - theta_t u_t;  M_t = (1 - alpha_t) M_{t-1} + S_t;  y_t = M_t(q_t).
// Chunks are aligned to the sequence the state has consumed: `offset` (i32
// [1], 0 <= offset < chunk) is the number of tokens of the current chunk
// already consumed and the anchor A (W1/W2 anchors) the memory at its start,
// so the first `chunk - offset` tokens of a call still take their gradients
// at A. Absent offset = 0 (the anchor is then the initial memory and the A
// inputs are ignored). The outputs give the state after the call (offset
// (offset + T) mod chunk, the anchor of the chunk in progress, or the final
// memory when the call ends on a chunk boundary), so any split of a sequence
// into calls, T = 1 decode steps included, continues exactly.
#include "memory_common.h"

namespace engram {

static TitansParams parse_titans(const char* op, const Attrs& a, bool mlp) {
  TitansParams p;
  p.chunk = mem::parse_chunk(op, a, 64);
  p.momentum = a.get_bool(op, "momentum", true);
  p.decay = a.get_bool(op, "decay", true);
  p.final_state = a.get_bool(op, "outputFinalState", true);
  if (mlp) {
    p.act = mem::parse_act(op, a, MemAct::GELU);
    p.hidden = a.get_int(op, "hidden", 0);
    ENGRAM_CHECK(p.hidden >= 0, ARG, op, ": hidden must be > 0, got ", p.hidden);
  } else {
    p.recurrent = mem::parse_mode(op, a);
  }
  return p;
}

void parse_TITANS_LINEAR(OpCall& c, const Attrs& a) { c.params = parse_titans("titansLinear", a, false); }
void parse_TITANS_MLP(OpCall& c, const Attrs& a) { c.params = parse_titans("titansMlp", a, true); }

static mem::SeqDims check_titans_inputs(const char* op, const OpCall& c, const TitansParams& p) {
  mem::SeqDims d = mem::check_qkv(op, c.in[0], c.in[1], c.in[2]);
  mem::check_gate(op, "theta", c.in[3], d, mem::GateRange::NONNEG);
  if (p.decay) {
    ENGRAM_CHECK(c.has_input(4), ARG, op, ": gate 'alpha' is required (or pass decay: false)");
    mem::check_gate(op, "alpha", c.in[4], d, mem::GateRange::UNIT_CLOSED);
  } else {
    ENGRAM_CHECK(!c.has_input(4), ARG, op, ": gate 'alpha' was given but decay is off");
  }
  if (p.momentum) {
    ENGRAM_CHECK(c.has_input(5), ARG, op, ": gate 'eta' is required (or pass momentum: false)");
    mem::check_gate(op, "eta", c.in[5], d, mem::GateRange::UNIT_CLOSED);
  } else {
    ENGRAM_CHECK(!c.has_input(5), ARG, op, ": gate 'eta' was given but momentum is off");
  }
  return d;
}

void infer_TITANS_LINEAR(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* op = "titansLinear";
  const TitansParams& p = c.p<TitansParams>();
  mem::SeqDims d = check_titans_inputs(op, c, p);
  Dims st{d.Dv, d.Dk};
  mem::check_state(op, "initialState.memory", c.input(6), d, st);
  mem::check_state(op, "initialState.momentum", c.input(7), d, st);
  mem::check_state(op, "initialState.anchor", c.input(8), d, st);
  mem::check_offset(op, c.input(9), p.chunk);
  outs.push_back({Dims{d.B, d.T, d.H, d.Dv}, c.in[0].dtype()});
  outs.push_back(mem::state_spec(p.final_state, d, st));
  outs.push_back(mem::state_spec(p.final_state, d, st));
  outs.push_back(mem::state_spec(p.final_state, d, st));
  outs.push_back(mem::offset_spec(p.final_state));
}

// Hidden width of the MLP memory: the option, else the initial W1, else 4 D.
int64_t titans_hidden(const OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  if (p.hidden > 0) return p.hidden;
  if (c.has_input(6) && c.in[6].ndim() == 4) return c.in[6].size(3);
  return 4 * c.in[0].size(3);
}

void infer_TITANS_MLP(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* op = "titansMlp";
  const TitansParams& p = c.p<TitansParams>();
  mem::SeqDims d = check_titans_inputs(op, c, p);
  ENGRAM_CHECK(d.Dk == d.Dv, SHAPE, op, ": the residual MLP memory needs Dk == Dv, got q ", c.in[0].shape().str(),
               " and v ", c.in[2].shape().str());
  const int64_t D = d.Dk, Dh = titans_hidden(c);
  mem::check_state(op, "initialState.W1", c.input(6), d, Dims{D, Dh});
  mem::check_state(op, "initialState.W2", c.input(7), d, Dims{Dh, D});
  mem::check_state(op, "initialState.S1", c.input(8), d, Dims{D, Dh});
  mem::check_state(op, "initialState.S2", c.input(9), d, Dims{Dh, D});
  mem::check_state(op, "initialState.A1", c.input(10), d, Dims{D, Dh});
  mem::check_state(op, "initialState.A2", c.input(11), d, Dims{Dh, D});
  mem::check_offset(op, c.input(12), p.chunk);
  outs.push_back({Dims{d.B, d.T, d.H, D}, c.in[0].dtype()});
  for (int i = 0; i < 3; ++i) {  // W, S, anchor
    outs.push_back(mem::state_spec(p.final_state, d, Dims{D, Dh}));
    outs.push_back(mem::state_spec(p.final_state, d, Dims{Dh, D}));
  }
  outs.push_back(mem::offset_spec(p.final_state));
}

}  // namespace engram
