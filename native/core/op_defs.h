// Internal: the parse/infer pair of every op (defined in native/core/ops/).
// The table in engine.cpp is generated from ENGRAM_OPS, so an op without its
// pair fails to link.
#pragma once
#include <vector>

#include "engram/engine.h"

namespace engram {

#define ENGRAM_X(id, name, mi, ma, no)                           \
  void parse_##id(OpCall& call, const Attrs& attrs);             \
  void infer_##id(const OpCall& call, std::vector<TensorSpec>& outs);
ENGRAM_OPS(ENGRAM_X)
#undef ENGRAM_X

// ---- helpers shared by op definitions ----
// E_DTYPE unless t is f32/f16/bf16.
void require_float(const char* op, const char* what, const Tensor& t);
// E_DTYPE unless a and b have the same dtype.
void require_same_dtype(const char* op, const char* wa, const Tensor& a, const char* wb, const Tensor& b);
// E_SHAPE unless t has `nd` dims.
void require_rank(const char* op, const char* what, const Tensor& t, int nd);
// numpy broadcasting of two shapes; E_SHAPE naming both.
Dims broadcast_shapes(const char* op, const Dims& a, const Dims& b);

}  // namespace engram
