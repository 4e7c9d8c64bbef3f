// concat on CUDA: one grid-stride launch per input, each element of input i
// written to its place in the contiguous output (any non-packed dtype, as bytes).
#include "../common.cuh"
#include "../kernels.cuh"
#include "engram/params_model.h"

namespace engram {
namespace cuda {

namespace {
template <class E>
__global__ void concat_part(const E* __restrict__ x, StridedIndex xi, E* __restrict__ out, int ax, int64_t at,
                            StridedIndex oshape, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    // multi-index of element i of x -> output offset (output contiguous)
    int64_t rem = i, off = 0, stride = 1;
    for (int d = xi.n - 1; d >= 0; --d) {
      int64_t idx = rem % xi.shape[d];
      rem /= xi.shape[d];
      off += (d == ax ? idx + at : idx) * stride;
      stride *= oshape.shape[d];
    }
    out[off] = x[offset_of(xi, i)];
  }
}

template <class E>
void launch_parts(OpCall& c, int ax) {
  const Tensor& O = c.out[0];
  StridedIndex oi = make_index(O);
  int64_t at = 0;
  for (const Tensor& X : c.in) {
    int64_t n = X.numel();
    if (n) {
      concat_part<E><<<grid_for(n, 256), 256, 0, stream()>>>(X.data<E>(), make_index(X), O.data<E>(), ax, at, oi, n);
      ENGRAM_CUDA_LAUNCHED("concat");
    }
    at += X.size(ax);
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
