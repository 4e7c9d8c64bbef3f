// gather: rows of a table. table [N, ...], index i32 [...] -> [..., ...rest].
// Indices outside [0, N) are an E_ARG error (checked on every device).
#include "../op_defs.h"

namespace engram {

void parse_GATHER(OpCall& c, const Attrs&) { c.params = NoParams{}; }

void infer_GATHER(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor &table = c.in[0], &idx = c.in[1];
  ENGRAM_CHECK(table.ndim() >= 1, SHAPE, "gather: table must have at least 1 dimension");
  ENGRAM_CHECK(!is_packed(table.dtype()), DTYPE, "gather: packed tables are not supported");
  ENGRAM_CHECK(idx.dtype() == DType::I32, DTYPE, "gather: index must be i32, got ", dtype_name(idx.dtype()));
  Dims s = idx.shape();
  for (int i = 1; i < table.ndim(); ++i) s.push_back(table.size(i));
  outs.push_back({s, table.dtype()});
}

}  // namespace engram
