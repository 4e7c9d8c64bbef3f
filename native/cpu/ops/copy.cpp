// copy: strided view -> contiguous, any non-packed dtype (bytes are moved,
// not converted). Packed tensors are always contiguous: plain memcpy. Rows
// with a unit inner stride are memcpy'd; a view whose last two dims are
// transposed (stride(-2) == 1) is copied in 32 x 32 tiles so both sides stay
// in cache; other strides gather element by element.
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
// X [..., R, C] with stride(-2) == 1 (a transposed view): out[.., r, c] =
// x[.., r + c * sc], tile by tile.
template <class E>
void copy_transposed(const Tensor& X, const Tensor& O) {
  constexpr int64_t kT = 32;
  const Dims& shape = X.shape();
  const int nd = shape.n;
  const int64_t R = shape[nd - 2], C = shape[nd - 1], sc = X.stride(nd - 1);
  Dims outer = shape, ostr = X.strides();
  outer.n = ostr.n = nd - 2;
  const int64_t nmat = R * C > 0 ? X.numel() / (R * C) : 0, rb = (R + kT - 1) / kT;
  const E* x = X.data<E>();
  E* o = O.data<E>();
  parallel_for(nmat * rb, std::max<int64_t>(1, 4096 / (kT * std::max<int64_t>(C, 1))), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t m = it / rb, r0 = it % rb * kT, r1 = std::min(R, r0 + kT);
      const E* xm = x + strided_offset(outer, ostr, m);
      E* om = o + m * R * C;
      for (int64_t c0 = 0; c0 < C; c0 += kT) {
        const int64_t c1 = std::min(C, c0 + kT);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) om[r * C + c] = xm[r + c * sc];
      }
    }
  });
}

template <class E>
void copy_any(const Tensor& X, const Tensor& O) {
  const int nd = X.ndim();
  if (nd >= 2 && X.stride(nd - 2) == 1 && X.stride(nd - 1) != 1 && X.size(nd - 2) > 1) copy_transposed<E>(X, O);
  else copy_rows<E>(X, O);
}

}  // namespace

void cpu_copy(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  if (X.is_contiguous()) {
    std::memcpy(O.raw(), X.raw(), X.nbytes());
    return;
  }
  switch (elem_size(X.dtype())) {
    case 1: copy_any<uint8_t>(X, O); break;
    case 2: copy_any<uint16_t>(X, O); break;
    case 4: copy_any<uint32_t>(X, O); break;
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
