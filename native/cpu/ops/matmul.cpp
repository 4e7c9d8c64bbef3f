// matmul on the CPU: one GEMM per (broadcast) batch item, strides of the last
// two dims passed straight to the packing (transposed or strided views need
// no copy). Many small items run in parallel, one thread each; few large
// items use the threaded GEMM.
#include "../cpu_common.h"
#include "../gemm.h"
#include "../kernels.h"

namespace engram {
namespace cpu {

namespace {

struct BatchPlan {
  int64_t count = 1;
  std::vector<int64_t> off_a, off_b;  // element offsets of each item
};

// Offsets of operand x for every item of the broadcast batch shape `ob`.
void batch_offsets(const Tensor& x, const Dims& ob, std::vector<int64_t>& out) {
  int64_t count = 1;
  for (int i = 0; i < ob.n; ++i) count *= ob[i];
  out.resize((size_t)count);
  int xb = x.ndim() - 2;
  for (int64_t it = 0; it < count; ++it) {
    int64_t rem = it, off = 0;
    for (int d = ob.n - 1; d >= 0; --d) {
      int64_t idx = rem % ob[d];
      rem /= ob[d];
      int xd = d - (ob.n - xb);
      if (xd >= 0 && x.size(xd) != 1) off += idx * x.stride(xd);
    }
    out[(size_t)it] = off;
  }
}

GemmArgs base_args(const OpCall& c, float* C) {
  const Tensor &A = c.in[0], &B = c.in[1];
  const auto& p = c.p<MatmulParams>();
  const Tensor& O = c.out[0];
  GemmArgs g;
  g.M = O.size(-2);
  g.N = O.size(-1);
  g.K = p.trans_a ? A.size(-2) : A.size(-1);
  g.a_type = A.dtype();
  g.b_type = B.dtype();
  g.rsa = p.trans_a ? A.stride(-1) : A.stride(-2);
  g.csa = p.trans_a ? A.stride(-2) : A.stride(-1);
  g.rsb = p.trans_b ? B.stride(-1) : B.stride(-2);
  g.csb = p.trans_b ? B.stride(-2) : B.stride(-1);
  g.C = C;
  g.rsc = g.N;
  g.alpha = p.alpha;
  g.beta = 0.0f;
  return g;
}

template <class GemmFn>
void run_matmul(OpCall& c, GemmFn gemm_fn, bool parallel_items) {
  const Tensor &A = c.in[0], &B = c.in[1], &O = c.out[0];
  Dims ob;
  for (int i = 0; i < O.ndim() - 2; ++i) ob.push_back(O.size(i));
  std::vector<int64_t> oa, obb;
  batch_offsets(A, ob, oa);
  batch_offsets(B, ob, obb);
  int64_t items = (int64_t)oa.size();
  int64_t mn = O.size(-2) * O.size(-1);
  Tensor acc = O.dtype() == DType::F32 ? O : Tensor::empty(O.shape(), DType::F32);
  float* cbase = acc.data<float>();
  size_t ea = elem_size(A.dtype()), eb = elem_size(B.dtype());
  auto item = [&](int64_t it) {
    GemmArgs g = base_args(c, cbase + it * mn);
    g.A = static_cast<const char*>(A.raw()) + oa[(size_t)it] * (int64_t)ea;
    g.B = static_cast<const char*>(B.raw()) + obb[(size_t)it] * (int64_t)eb;
    gemm_fn(g);
  };
  double flops_per_item = 2.0 * (double)mn * (double)(c.p<MatmulParams>().trans_a ? A.size(-2) : A.size(-1));
  if (parallel_items && items > 1 && (items >= 2 * num_threads() || flops_per_item < 2.0 * 96 * 96 * 96)) {
    parallel_for(items, 1, [&](int64_t b, int64_t e) {
      for (int64_t it = b; it < e; ++it) item(it);
    });
  } else {
    for (int64_t it = 0; it < items; ++it) item(it);
  }
  if (O.dtype() != DType::F32) store_f32_into(acc, O);
}

}  // namespace

void cpu_matmul(OpCall& c) { run_matmul(c, gemm, true); }
void ref_matmul(OpCall& c) { run_matmul(c, gemm_ref, false); }

}  // namespace cpu
}  // namespace engram
