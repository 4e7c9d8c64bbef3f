// softmax over one axis (default last), numerically stable (max-subtracted).
#include "../op_defs.h"

namespace engram {

void parse_SOFTMAX(OpCall& c, const Attrs& a) {
  AxisParams p;
  p.axis = (int)a.get_int("softmax", "axis", -1);
  c.params = p;
}

void infer_SOFTMAX(const OpCall& c, std::vector<TensorSpec>& outs) {
  require_float("softmax", "x", c.in[0]);
  ENGRAM_CHECK(c.in[0].ndim() >= 1, SHAPE, "softmax: x must have at least 1 dimension");
  norm_axis(c.p<AxisParams>().axis, c.in[0].ndim(), "softmax");
  outs.push_back({c.in[0].shape(), c.in[0].dtype()});
}

}  // namespace engram
