// causalConv1d: short causal depthwise convolution over time.
//   x [B, T, C], weight [C, K], bias [C]?, state [B, K-1, C]?  ->  y [B, T, C]
//   y[b,t,c] = act(bias[c] + sum_{j<K} weight[c,j] * x[b, t-(K-1)+j, c])
// Positions before 0 read `state` (the previous K-1 inputs) or zeros. This is
// PyTorch's conv1d(x, w[C,1,K], padding=K-1, groups=C)[..., :T].
// activation: 'none' (default) or 'silu'.
#include "../op_defs.h"
#include "engram/params_model.h"

namespace engram {

void parse_CAUSAL_CONV1D(OpCall& c, const Attrs& a) {
  CausalConv1dParams p;
  std::string act = a.get_string("causalConv1d", "activation", "none");
  if (act == "silu") p.activation = ConvActivation::SILU;
  else ENGRAM_CHECK(act == "none", ARG, "causalConv1d: activation must be 'none' or 'silu', got '", act, "'");
  c.params = p;
}

void infer_CAUSAL_CONV1D(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor &x = c.in[0], &w = c.in[1];
  require_float("causalConv1d", "x", x);
  require_float("causalConv1d", "weight", w);
  require_rank("causalConv1d", "x [B, T, C]", x, 3);
  require_rank("causalConv1d", "weight [C, K]", w, 2);
  const int64_t B = x.size(0), C = x.size(2), K = w.size(1);
  ENGRAM_CHECK(w.size(0) == C, SHAPE, "causalConv1d: weight ", w.shape().str(), " must be [C, K] with C = ", C);
  ENGRAM_CHECK(K >= 1, SHAPE, "causalConv1d: kernel size K must be >= 1, got weight ", w.shape().str());
  if (c.has_input(2)) {
    const Tensor& b = c.in[2];
    require_float("causalConv1d", "bias", b);
    ENGRAM_CHECK(b.ndim() == 1 && b.size(0) == C, SHAPE, "causalConv1d: bias must be [", C, "], got ",
                 b.shape().str());
  }
  if (c.has_input(3)) {
    const Tensor& s = c.in[3];
    require_float("causalConv1d", "state", s);
    ENGRAM_CHECK(s.ndim() == 3 && s.size(0) == B && s.size(1) == K - 1 && s.size(2) == C, SHAPE,
                 "causalConv1d: state must be [", B, ", ", K - 1, ", ", C, "] (the last K-1 inputs), got ",
                 s.shape().str());
  }
  outs.push_back({x.shape(), x.dtype()});
}

}  // namespace engram
