// Validation shared by the test-time memory ops (gatedDeltaRule, titans*,
// ttt*): sequence shapes, per-token gates (shape, NaN, range — the values are
// read here, in the core infer step, so every backend rejects the same
// inputs), optional states, and the common options.
#pragma once
#include <string>

#include "../op_defs.h"
#include "engram/memory_params.h"

namespace engram {
namespace mem {

struct SeqDims {
  int64_t B = 0, T = 0, H = 0, Dk = 0, Dv = 0;
};

// q, k [B, T, H, Dk], v [B, T, H, Dv]: rank, float dtype, q/k/v same dtype, matching B/T/H/Dk.
SeqDims check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v);

enum class GateRange {
  UNIT_CLOSED,  // [0, 1]
  UNIT_OPEN,    // (0, 1)
  NONNEG,       // [0, inf)
  NONPOS,       // (-inf, 0]
};
// gate [B, T, H] (any float dtype, strided): E_SHAPE / E_DTYPE; E_NAN for NaN;
// E_ARG for values out of range (Inf included). Reads the values (copies a
// CUDA gate to the host first).
void check_gate(const char* op, const char* name, const Tensor& gate, const SeqDims& d, GateRange range);

// An optional f32 state input: E_DTYPE unless f32, E_SHAPE unless [B or 1, H, dims...].
void check_state(const char* op, const char* name, const Tensor& s, const SeqDims& d, const Dims& tail);

// An optional per-head parameter [H, D] of any float dtype.
void check_head_param(const char* op, const char* name, const Tensor& p, const SeqDims& d, int64_t D);

// Common options.
int64_t parse_chunk(const char* op, const Attrs& a, int64_t def);
MemAct parse_act(const char* op, const Attrs& a, MemAct def);
// "recurrent" | "chunk" -> true for recurrent.
bool parse_mode(const char* op, const Attrs& a);

// State output spec: [B, H, tail...] or [0] when the final state is not requested.
TensorSpec state_spec(bool want, const SeqDims& d, const Dims& tail);

// The position inside the current chunk carried by a chunk-semantic state
// (Titans): an optional i32 tensor of one element, 0 <= offset < chunk.
// check_offset validates dtype/size (and the value when it has data);
// read_offset returns the value (0 when undefined; copies a CUDA tensor to
// the host) and checks its range again. offset_spec: i32 [1] or [0].
void check_offset(const char* op, const Tensor& off, int64_t chunk);
int64_t read_offset(const char* op, const Tensor& off, int64_t chunk);
TensorSpec offset_spec(bool want);

}  // namespace mem
}  // namespace engram
