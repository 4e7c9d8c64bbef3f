// copy: materialise any strided view as a contiguous tensor (same dtype).
#include "../op_defs.h"

namespace engram {

void parse_COPY(OpCall& c, const Attrs&) { c.params = NoParams{}; }

void infer_COPY(const OpCall& c, std::vector<TensorSpec>& outs) {
  outs.push_back({c.in[0].shape(), c.in[0].dtype()});
}

}  // namespace engram
