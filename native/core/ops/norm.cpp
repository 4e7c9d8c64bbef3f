// Row norms over the last axis D:
//   rmsNorm(x, weight?)          y = x / sqrt(mean(x^2) + eps) * weight
//   layerNorm(x, weight?, bias?) y = (x - mean) / sqrt(var + eps) * weight + bias
// weight/bias are [D] of any float dtype; y has x's dtype.
#include "../op_defs.h"

namespace engram {

static void parse_norm(OpCall& c, const Attrs& a, const char* name, double def_eps) {
  NormParams p;
  double eps = a.get_float(name, "eps", def_eps);
  ENGRAM_CHECK(eps >= 0, ARG, name, ": eps must be >= 0, got ", eps);
  p.eps = (float)eps;
  c.params = p;
}
void parse_RMS_NORM(OpCall& c, const Attrs& a) { parse_norm(c, a, "rmsNorm", 1e-6); }
void parse_LAYER_NORM(OpCall& c, const Attrs& a) { parse_norm(c, a, "layerNorm", 1e-5); }

static void infer_norm(const OpCall& c, std::vector<TensorSpec>& outs) {
  const char* name = op_name(c.op);
  const Tensor& x = c.in[0];
  require_float(name, "x", x);
  ENGRAM_CHECK(x.ndim() >= 1, SHAPE, name, ": x must have at least 1 dimension");
  int64_t D = x.size(-1);
  for (int i = 1; i < (int)c.in.size(); ++i) {
    const Tensor& w = c.in[i];
    if (!w.defined()) continue;
    const char* what = i == 1 ? "weight" : "bias";
    require_float(name, what, w);
    ENGRAM_CHECK(w.ndim() == 1 && w.size(0) == D, SHAPE, name, ": ", what, " must be [", D, "], got ",
                 w.shape().str());
  }
  outs.push_back({x.shape(), x.dtype()});
}
void infer_RMS_NORM(const OpCall& c, std::vector<TensorSpec>& o) { infer_norm(c, o); }
void infer_LAYER_NORM(const OpCall& c, std::vector<TensorSpec>& o) { infer_norm(c, o); }

}  // namespace engram
