// add/sub/mul/div with numpy broadcasting. Same float dtype for both inputs;
// the output has that dtype (computed in f32).
#include "../op_defs.h"

namespace engram {

static void parse_binary(OpCall& c, const Attrs&, BinaryFn fn) {
  BinaryParams p;
  p.fn = fn;
  c.params = p;
}

static void infer_binary(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* name = op_name(c.op);
  require_float(name, "a", c.in[0]);
  require_same_dtype(name, "a", c.in[0], "b", c.in[1]);
  outs.push_back({broadcast_shapes(name, c.in[0].shape(), c.in[1].shape()), c.in[0].dtype()});
}

#define ENGRAM_BINARY(ID, FN)                                                              \
  void parse_##ID(OpCall& c, const Attrs& a) { parse_binary(c, a, BinaryFn::FN); }          \
  void infer_##ID(const OpCall& c, std::vector<TensorSpec>& o) { infer_binary(c, o); }
ENGRAM_BINARY(ADD, ADD)
ENGRAM_BINARY(SUB, SUB)
ENGRAM_BINARY(MUL, MUL)
ENGRAM_BINARY(DIV, DIV)
#undef ENGRAM_BINARY

}  // namespace engram
