// matmul: C[..., M, N] = alpha * op(A)[..., M, K] @ op(B)[..., K, N]
// Batch dims broadcast (numpy rules); A or B may be 2-D. Inputs f32/f16/bf16
// (same dtype); the output has the input dtype, accumulation is f32.
#include "../op_defs.h"

namespace engram {

void parse_MATMUL(OpCall& c, const Attrs& a) {
  MatmulParams p;
  p.trans_a = a.get_bool("matmul", "transA", false);
  p.trans_b = a.get_bool("matmul", "transB", false);
  p.alpha = (float)a.get_float("matmul", "alpha", 1.0);
  c.params = p;
}

void infer_MATMUL(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor &A = c.in[0], &B = c.in[1];
  const auto& p = c.p<MatmulParams>();
  require_float("matmul", "a", A);
  require_same_dtype("matmul", "a", A, "b", B);
  ENGRAM_CHECK(A.ndim() >= 2 && B.ndim() >= 2, SHAPE, "matmul: a and b need at least 2 dimensions, got ",
               A.shape().str(), " and ", B.shape().str());
  int64_t M = p.trans_a ? A.size(-1) : A.size(-2);
  int64_t Ka = p.trans_a ? A.size(-2) : A.size(-1);
  int64_t Kb = p.trans_b ? B.size(-1) : B.size(-2);
  int64_t N = p.trans_b ? B.size(-2) : B.size(-1);
  ENGRAM_CHECK(Ka == Kb, SHAPE, "matmul: inner dimensions differ: a ", A.shape().str(), p.trans_a ? "^T" : "", " and b ",
               B.shape().str(), p.trans_b ? "^T" : "", " (", Ka, " vs ", Kb, ")");
  Dims ba, bb;
  for (int i = 0; i < A.ndim() - 2; ++i) ba.push_back(A.size(i));
  for (int i = 0; i < B.ndim() - 2; ++i) bb.push_back(B.size(i));
  Dims out = broadcast_shapes("matmul (batch dims)", ba, bb);
  out.push_back(M);
  out.push_back(N);
  outs.push_back({out, A.dtype()});
}

}  // namespace engram
