// Elementwise unary functions (same shape and dtype out, computed in f32).
// scale: y = alpha * x + beta.  gelu: exact (erf) unless approximate: true.
#include "../op_defs.h"

namespace engram {

static void infer_unary(const OpCall& c, std::vector<TensorSpec>& outs) {
  require_float(op_name(c.op), "x", c.in[0]);
  outs.push_back({c.in[0].shape(), c.in[0].dtype()});
}

void parse_SCALE(OpCall& c, const Attrs& a) {
  UnaryParams p;
  p.fn = UnaryFn::SCALE;
  p.alpha = (float)a.get_float("scale", "alpha", 1.0);
  p.beta = (float)a.get_float("scale", "beta", 0.0);
  c.params = p;
}
void parse_GELU(OpCall& c, const Attrs& a) {
  UnaryParams p;
  p.fn = UnaryFn::GELU;
  p.approximate = a.get_bool("gelu", "approximate", false);
  c.params = p;
}
void infer_SCALE(const OpCall& c, std::vector<TensorSpec>& o) { infer_unary(c, o); }
void infer_GELU(const OpCall& c, std::vector<TensorSpec>& o) { infer_unary(c, o); }

#define ENGRAM_UNARY(ID)                                                              \
  void parse_##ID(OpCall& c, const Attrs&) {                                          \
    UnaryParams p;                                                                    \
    p.fn = UnaryFn::ID;                                                               \
    c.params = p;                                                                     \
  }                                                                                   \
  void infer_##ID(const OpCall& c, std::vector<TensorSpec>& o) { infer_unary(c, o); }
ENGRAM_UNARY(NEG)
ENGRAM_UNARY(ABS)
ENGRAM_UNARY(SQRT)
ENGRAM_UNARY(EXP)
ENGRAM_UNARY(LOG)
ENGRAM_UNARY(SIGMOID)
ENGRAM_UNARY(SILU)
ENGRAM_UNARY(TANH)
ENGRAM_UNARY(RELU)
ENGRAM_UNARY(SOFTPLUS)
#undef ENGRAM_UNARY

}  // namespace engram
