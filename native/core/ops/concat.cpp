// concat: join tensors along one axis (default 0). Every input has the same
// dtype (any non-packed one) and rank, and the same sizes off the axis.
#include "../op_defs.h"
#include "engram/params_model.h"

namespace engram {

void parse_CONCAT(OpCall& c, const Attrs& a) {
  ConcatParams p;
  p.axis = (int)a.get_int("concat", "axis", 0);
  c.params = p;
}

void infer_CONCAT(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor& first = c.in[0];
  for (size_t i = 0; i < c.in.size(); ++i)
    ENGRAM_CHECK(c.in[i].defined(), ARG, "concat: input ", i, " is missing");
  ENGRAM_CHECK(!is_packed(first.dtype()), DTYPE, "concat: packed ", dtype_name(first.dtype()), " is not supported");
  ENGRAM_CHECK(first.ndim() >= 1, SHAPE, "concat: inputs need at least 1 dimension");
  int ax = norm_axis(c.p<ConcatParams>().axis, first.ndim(), "concat");
  Dims out = first.shape();
  for (size_t i = 1; i < c.in.size(); ++i) {
    const Tensor& t = c.in[i];
    ENGRAM_CHECK(t.dtype() == first.dtype(), DTYPE, "concat: input ", i, " is ", dtype_name(t.dtype()),
                 " but input 0 is ", dtype_name(first.dtype()));
    ENGRAM_CHECK(t.ndim() == first.ndim(), SHAPE, "concat: input ", i, " ", t.shape().str(), " and input 0 ",
                 first.shape().str(), " differ in rank");
    for (int d = 0; d < t.ndim(); ++d)
      if (d != ax)
        ENGRAM_CHECK(t.size(d) == first.size(d), SHAPE, "concat: input ", i, " ", t.shape().str(),
                     " and input 0 ", first.shape().str(), " differ off axis ", ax);
    out[ax] += t.size(ax);
  }
  outs.push_back({out, first.dtype()});
}

}  // namespace engram
