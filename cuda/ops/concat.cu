// concat on CUDA: one grid-stride launch per input. Input i fills, for each
// outer index o (dims before the axis), the contiguous output run
// [o * out_run + base_i, + run_i), so element j of the input (row-major)
// lands at (j / run_i) * out_run + base_i + j % run_i. Any non-packed dtype
// (moved as bytes).
#include "../common.cuh"
#include "../kernels.cuh"
#include "engram/params_model.h"

namespace engram {
namespace cuda {

namespace {
template <class E>
__global__ void concat_part(const E* __restrict__ x, StridedIndex xi, E* __restrict__ out, int64_t run, int64_t out_run,
                            int64_t base, int64_t n) {
  for (int64_t j = global_thread(); j < n; j += grid_threads())
    out[(j / run) * out_run + base + j % run] = x[offset_of(xi, j)];
}

template <class E>
void launch_parts(OpCall& c, int ax) {
  const Tensor& O = c.out[0];
  int64_t inner = 1;
  for (int d = ax + 1; d < O.ndim(); ++d) inner *= O.size(d);
  const int64_t out_run = O.size(ax) * inner;
  int64_t base = 0;
  for (const Tensor& X : c.in) {
    const int64_t n = X.numel(), run = X.size(ax) * inner;
    if (n) {
      concat_part<E><<<grid_for(n, kThreads), kThreads, 0, stream()>>>(X.data<E>(), make_index(X), O.data<E>(), run,
                                                                      out_run, base, n);
      ENGRAM_CUDA_LAUNCHED("concat");
    }
    base += run;
  }
}
}  // namespace

void launch_concat(OpCall& c) {
  const int ax = norm_axis(c.p<ConcatParams>().axis, c.out[0].ndim(), "concat");
  switch (elem_size(c.out[0].dtype())) {
    case 1: launch_parts<uint8_t>(c, ax); break;
    case 2: launch_parts<uint16_t>(c, ax); break;
    case 4: launch_parts<uint32_t>(c, ax); break;
    default: fail(ErrorCode::E_DTYPE, "concat: unsupported dtype on cuda");
  }
}

}  // namespace cuda
}  // namespace engram
