// gather rows: out[i, ...] = table[index[i], ...]. Every index is checked
// before anything is written (E_ARG names the first bad one).
#include <cstring>

#include "../cpu_common.h"
#include "../kernels.h"

namespace engram {
namespace cpu {

namespace {
void check_indices(const Tensor& idx, int64_t rows) {
  for (int64_t i = 0; i < idx.numel(); ++i) {
    int32_t v = static_cast<const int32_t*>(idx.raw())[strided_offset(idx.shape(), idx.strides(), i)];
    ENGRAM_CHECK(v >= 0 && v < rows, ARG, "gather: index ", v, " at position ", i, " is out of range [0, ", rows, ")");
  }
}
}  // namespace

void cpu_gather(OpCall& c) {
  Tensor table = contiguous(c.in[0]);
  Tensor idx = contiguous(c.in[1]);
  const Tensor& O = c.out[0];
  const int64_t rows = table.size(0);
  check_indices(idx, rows);
  const size_t row_bytes = table.numel() && rows ? table.nbytes() / (size_t)rows : 0;
  const int32_t* ix = idx.data<int32_t>();
  const char* t = static_cast<const char*>(table.raw());
  char* o = static_cast<char*>(O.raw());
  parallel_for(idx.numel(), std::max<int64_t>(1, (int64_t)((1 << 16) / std::max<size_t>(row_bytes, 1))),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i) std::memcpy(o + i * row_bytes, t + ix[i] * row_bytes, row_bytes);
               });
}

void ref_gather(OpCall& c) {
  const Tensor &table = c.in[0], &idx = c.in[1], &O = c.out[0];
  check_indices(idx, table.size(0));
  Tensor row0 = table.select(0, 0);
  int64_t inner = row0.numel();
  size_t es = elem_size(table.dtype());
  for (int64_t i = 0; i < idx.numel(); ++i) {
    int32_t r = static_cast<const int32_t*>(idx.raw())[strided_offset(idx.shape(), idx.strides(), i)];
    Tensor row = table.select(0, r);
    for (int64_t j = 0; j < inner; ++j)
      std::memcpy(static_cast<char*>(O.raw()) + (i * inner + j) * (int64_t)es,
                  static_cast<const char*>(row.raw()) + strided_offset(row.shape(), row.strides(), j) * (int64_t)es,
                  es);
  }
}

}  // namespace cpu
}  // namespace engram
