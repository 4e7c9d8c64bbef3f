// Scans over one axis:
//   cumsum:        y_i = sum_{j<=i} x_j          (exclusive: j<i; reverse: j>=i)
//   logcumsumexp:  y_i = log sum_{j<=i} exp(x_j) (stable; same options)
#include "../op_defs.h"

namespace engram {

static void parse_scan(OpCall& c, const Attrs& a) {
  const char* name = op_name(c.op);
  AxisParams p;
  p.axis = (int)a.get_int(name, "axis", -1);
  p.exclusive = a.get_bool(name, "exclusive", false);
  p.reverse = a.get_bool(name, "reverse", false);
  c.params = p;
}

static void infer_scan(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* name = op_name(c.op);
  require_float(name, "x", c.in[0]);
  ENGRAM_CHECK(c.in[0].ndim() >= 1, SHAPE, name, ": x must have at least 1 dimension");
  norm_axis(c.p<AxisParams>().axis, c.in[0].ndim(), name);
  outs.push_back({c.in[0].shape(), c.in[0].dtype()});
}

void parse_CUMSUM(OpCall& c, const Attrs& a) { parse_scan(c, a); }
void parse_LOGCUMSUMEXP(OpCall& c, const Attrs& a) { parse_scan(c, a); }
void infer_CUMSUM(const OpCall& c, std::vector<TensorSpec>& o) { infer_scan(c, o); }
void infer_LOGCUMSUMEXP(const OpCall& c, std::vector<TensorSpec>& o) { infer_scan(c, o); }

}  // namespace engram
