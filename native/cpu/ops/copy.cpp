// copy: strided view -> contiguous, any non-packed dtype (bytes are moved,
// not converted). Packed tensors are always contiguous: plain memcpy.
#include <cstring>

#include "../cpu_common.h"
#include "../kernels.h"

namespace engram {
namespace cpu {

namespace {
template <class E>
void copy_rows(const Tensor& X, const Tensor& O) {
  const Dims& shape = X.shape();
  const int nd = shape.n;
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t is = nd ? X.stride(nd - 1) : 1;
  Dims outer = shape, ostr = X.strides();
  if (nd) outer.n = ostr.n = nd - 1;
  const E* x = X.data<E>();
  E* o = O.data<E>();
  int64_t nrows = inner ? X.numel() / inner : 0;
  parallel_for(nrows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const E* xp = x + strided_offset(outer, ostr, r);
      E* op = o + r * inner;
      if (is == 1) std::memcpy(op, xp, sizeof(E) * (size_t)inner);
      else
        for (int64_t j = 0; j < inner; ++j) op[j] = xp[j * is];
    }
  });
}
}  // namespace

void cpu_copy(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  if (X.is_contiguous()) {
    std::memcpy(O.raw(), X.raw(), X.nbytes());
    return;
  }
  switch (elem_size(X.dtype())) {
    case 1: copy_rows<uint8_t>(X, O); break;
    case 2: copy_rows<uint16_t>(X, O); break;
    case 4: copy_rows<uint32_t>(X, O); break;
    default: fail(ErrorCode::E_DTYPE, "copy: unsupported dtype ", dtype_name(X.dtype()));
  }
}

void ref_copy(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  if (is_packed(X.dtype())) {
    std::memcpy(O.raw(), X.raw(), X.nbytes());
    return;
  }
  size_t es = elem_size(X.dtype());
  const char* x = static_cast<const char*>(X.raw());
  char* o = static_cast<char*>(O.raw());
  for (int64_t i = 0; i < X.numel(); ++i)
    std::memcpy(o + i * (int64_t)es, x + strided_offset(X.shape(), X.strides(), i) * (int64_t)es, es);
}

}  // namespace cpu
}  // namespace engram
