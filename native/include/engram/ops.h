// The op table: every op engram knows, declared once. Adding an op = one row
// here + its parse/infer in native/core/ops/<op>.cpp + its kernels in
// native/cpu/ops/<op>.cpp and cuda/ops/<op>.cu (README "Adding an op").
// Backends switch over OpId without `default:`, so -Werror=switch reports a
// kernel that is missing from a backend's dispatch.
#pragma once
#include <cstdint>

namespace engram {

// X(ID, "js name", min inputs, max inputs, outputs)
#define ENGRAM_OPS(X)                                  \
  /* linear algebra */                                 \
  X(MATMUL, "matmul", 2, 2, 1)                         \
  /* elementwise binary (numpy broadcasting) */        \
  X(ADD, "add", 2, 2, 1)                               \
  X(SUB, "sub", 2, 2, 1)                               \
  X(MUL, "mul", 2, 2, 1)                               \
  X(DIV, "div", 2, 2, 1)                               \
  /* elementwise unary */                              \
  X(SCALE, "scale", 1, 1, 1)                           \
  X(NEG, "neg", 1, 1, 1)                               \
  X(ABS, "abs", 1, 1, 1)                               \
  X(SQRT, "sqrt", 1, 1, 1)                             \
  X(EXP, "exp", 1, 1, 1)                               \
  X(LOG, "log", 1, 1, 1)                               \
  X(SIGMOID, "sigmoid", 1, 1, 1)                       \
  X(SILU, "silu", 1, 1, 1)                             \
  X(GELU, "gelu", 1, 1, 1)                             \
  X(TANH, "tanh", 1, 1, 1)                             \
  X(RELU, "relu", 1, 1, 1)                             \
  X(SOFTPLUS, "softplus", 1, 1, 1)                     \
  /* rows */                                           \
  X(SOFTMAX, "softmax", 1, 1, 1)                       \
  X(RMS_NORM, "rmsNorm", 1, 2, 1)                      \
  X(LAYER_NORM, "layerNorm", 1, 3, 1)                  \
  /* reductions over one axis */                       \
  X(SUM, "sum", 1, 1, 1)                               \
  X(MEAN, "mean", 1, 1, 1)                             \
  X(MAX, "max", 1, 1, 1)                               \
  /* scans over one axis */                            \
  X(CUMSUM, "cumsum", 1, 1, 1)                         \
  X(LOGCUMSUMEXP, "logcumsumexp", 1, 1, 1)             \
  /* data movement */                                  \
  X(COPY, "copy", 1, 1, 1)                             \
  X(CAST, "cast", 1, 1, 1)                             \
  X(GATHER, "gather", 2, 2, 1)                         \
  /* attention */                                      \
  X(SDPA, "sdpa", 3, 3, 1)                             \
  /* model building blocks (params_model.h) */         \
  X(CONCAT, "concat", 1, 16, 1)                        \
  X(CAUSAL_CONV1D, "causalConv1d", 2, 4, 1)            \
  X(ROPE, "rope", 2, 2, 1)                             \
  X(SDPA_WINDOW, "sdpaWindow", 3, 3, 1)                \
  /* test-time memory (native/core/ops/titans.cpp ...) */ \
  X(GATED_DELTA_RULE, "gatedDeltaRule", 5, 6, 2)        \
  X(TITANS_LINEAR, "titansLinear", 4, 10, 5)           \
  X(TITANS_MLP, "titansMlp", 4, 13, 8)                \
  X(TTT_LINEAR, "tttLinear", 4, 8, 3)                  \
  X(TTT_MLP, "tttMlp", 4, 10, 5)                       \
  X(TRELLIS, "trellis", 4, 14, 8)                      \
  /* TNT hierarchical memory (native/core/ops/tnt.cpp, tnt_params.h) */ \
  X(TNT, "tnt", 3, 49, 2)

enum class OpId : uint16_t {
#define ENGRAM_X(id, name, mi, ma, no) id,
  ENGRAM_OPS(ENGRAM_X)
#undef ENGRAM_X
      COUNT
};

constexpr int kNumOps = (int)OpId::COUNT;

struct OpArity {
  const char* name;
  int8_t min_inputs, max_inputs, outputs;
};

constexpr OpArity kOpArity[] = {
#define ENGRAM_X(id, name, mi, ma, no) {name, mi, ma, no},
    ENGRAM_OPS(ENGRAM_X)
#undef ENGRAM_X
};
static_assert(sizeof(kOpArity) / sizeof(kOpArity[0]) == (size_t)OpId::COUNT,
              "op table and OpId out of sync");

constexpr bool arity_ok() {
  for (const auto& a : kOpArity)
    if (a.min_inputs < 0 || a.min_inputs > a.max_inputs || a.outputs < 1) return false;
  return true;
}
static_assert(arity_ok(), "op table has an impossible arity row");

constexpr const char* op_name(OpId id) { return kOpArity[(int)id].name; }

}  // namespace engram
