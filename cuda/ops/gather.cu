// gather rows on the GPU: out[i, ...] = table[index[i], ...] (table any
// non-packed dtype, possibly strided; index i32, possibly strided). Indices
// are checked first, on the device: the lowest position holding an index
// outside [0, N) is kept with atomicMin and read back, and becomes an E_ARG
// error naming it (like the CPU) before anything is written.
#include "../common.cuh"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {
constexpr unsigned long long kNoBadIndex = ~0ull;

__global__ void check_index_kernel(const int32_t* __restrict__ idx, int64_t n, StridedIndex ii, int64_t rows,
                                   unsigned long long* __restrict__ first_bad) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const int32_t v = idx[offset_of(ii, i)];
    if (v < 0 || (int64_t)v >= rows) atomicMin(first_bad, (unsigned long long)i);
  }
}

// Output element e = (i, j): row idx[i], element j of that row.
template <class E>
__global__ void gather_kernel(const E* __restrict__ table, int64_t row_stride, StridedIndex rest, int64_t inner,
                              const int32_t* __restrict__ idx, StridedIndex ii, E* __restrict__ o, int64_t n) {
  for (int64_t e = global_thread(); e < n; e += grid_threads()) {
    const int64_t i = e / inner, j = e - i * inner;
    const int64_t r = idx[offset_of(ii, i)];
    o[e] = table[r * row_stride + offset_of(rest, j)];
  }
}
}  // namespace

void launch_gather(OpCall& c) {
  const Tensor &table = c.in[0], &idx = c.in[1], &O = c.out[0];
  const int64_t rows = table.size(0), nidx = idx.numel();
  const StridedIndex ii = make_index(idx);
  {
    Tensor flag = Tensor::empty(Dims{2}, DType::I32, DeviceType::CUDA);  // 8 bytes for one u64
    auto* first_bad = static_cast<unsigned long long*>(flag.raw());
    ENGRAM_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xff, sizeof(unsigned long long), stream()));
    check_index_kernel<<<grid_for(nidx, kThreads), kThreads, 0, stream()>>>(
        static_cast<const int32_t*>(idx.raw()), nidx, ii, rows, first_bad);
    ENGRAM_CUDA_LAUNCHED("gather index check");
    unsigned long long pos = kNoBadIndex;
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(&pos, first_bad, sizeof pos, cudaMemcpyDeviceToHost, stream()));
    ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
    if (pos != kNoBadIndex) {
      int32_t v = 0;
      const int32_t* at = static_cast<const int32_t*>(idx.raw()) + offset_of(ii, (int64_t)pos);
      ENGRAM_CUDA_CHECK(cudaMemcpyAsync(&v, at, sizeof v, cudaMemcpyDeviceToHost, stream()));
      ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
      fail(ErrorCode::E_ARG, "gather: index ", v, " at position ", pos, " is out of range [0, ", rows, ")");
    }
  }
  Dims rs, rt;  // the row: table dims 1..
  int64_t inner = 1;
  for (int d = 1; d < table.ndim(); ++d) {
    rs.push_back(table.size(d));
    rt.push_back(table.stride(d));
    inner *= table.size(d);
  }
  const int64_t n = nidx * inner;
  if (n == 0) return;
  const StridedIndex rest = make_index(rs, rt);
  auto go = [&](auto tag) {
    using E = decltype(tag);
    gather_kernel<E><<<grid_for(n, kThreads), kThreads, 0, stream()>>>(static_cast<const E*>(table.raw()),
                                                                        table.stride(0), rest, inner,
                                                                        static_cast<const int32_t*>(idx.raw()), ii,
                                                                        static_cast<E*>(O.raw()), n);
  };
  switch (elem_size(table.dtype())) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    default: fail(ErrorCode::E_DTYPE, "gather: unsupported table dtype ", dtype_name(table.dtype()));
  }
  ENGRAM_CUDA_LAUNCHED("gather kernel");
}

}  // namespace cuda
}  // namespace engram
