// sum / mean / max over one axis, optionally keeping it as size 1.
#include "../op_defs.h"

namespace engram {

static void parse_reduce(OpCall& c, const Attrs& a) {
  const char* name = op_name(c.op);
  AxisParams p;
  p.axis = (int)a.get_int(name, "axis", -1);
  p.keepdim = a.get_bool(name, "keepdim", false);
  c.params = p;
}

static void infer_reduce(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* name = op_name(c.op);
  const Tensor& x = c.in[0];
  require_float(name, "x", x);
  ENGRAM_CHECK(x.ndim() >= 1, SHAPE, name, ": x must have at least 1 dimension");
  int ax = norm_axis(c.p<AxisParams>().axis, x.ndim(), name);
  if (c.op == OpId::MAX) ENGRAM_CHECK(x.size(ax) > 0, SHAPE, "max: reducing an empty axis");
  Dims s;
  for (int i = 0; i < x.ndim(); ++i) {
    if (i == ax) {
      if (c.p<AxisParams>().keepdim) s.push_back(1);
    } else {
      s.push_back(x.size(i));
    }
  }
  outs.push_back({s, x.dtype()});
}

void parse_SUM(OpCall& c, const Attrs& a) { parse_reduce(c, a); }
void parse_MEAN(OpCall& c, const Attrs& a) { parse_reduce(c, a); }
void parse_MAX(OpCall& c, const Attrs& a) { parse_reduce(c, a); }
void infer_SUM(const OpCall& c, std::vector<TensorSpec>& o) { infer_reduce(c, o); }
void infer_MEAN(const OpCall& c, std::vector<TensorSpec>& o) { infer_reduce(c, o); }
void infer_MAX(const OpCall& c, std::vector<TensorSpec>& o) { infer_reduce(c, o); }

}  // namespace engram
