// cast: convert between f32, f16, bf16, i32, u8 and i8 (floats round to
// nearest even; float -> integer truncates toward zero and saturates; NaN -> 0).
#include "../op_defs.h"

namespace engram {

void parse_CAST(OpCall& c, const Attrs& a) {
  CastParams p;
  std::string to = a.get_string("cast", "to", "");
  ENGRAM_CHECK(!to.empty(), ARG, "cast: option 'to' (target dtype) is required");
  ENGRAM_CHECK(parse_dtype(to.c_str(), &p.to), DTYPE, "cast: unknown dtype '", to, "'");
  ENGRAM_CHECK(!is_packed(p.to), DTYPE, "cast: cannot cast to packed ", to);
  c.params = p;
}

void infer_CAST(const OpCall& c, std::vector<TensorSpec>& outs) {
  ENGRAM_CHECK(!is_packed(c.in[0].dtype()), DTYPE, "cast: cannot cast packed ", dtype_name(c.in[0].dtype()));
  outs.push_back({c.in[0].shape(), c.p<CastParams>().to});
}

}  // namespace engram
