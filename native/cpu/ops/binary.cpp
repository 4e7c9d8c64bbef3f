// add/sub/mul/div with broadcasting. Fast path: rows of the last output dim
// with per-operand strides (0 where broadcast): SIMD row kernels (vec.h) when
// both inner strides are 0 or 1, scalar loops otherwise; the reference walks
// every element through strided_offset.
#include "../cpu_common.h"
#include "../kernels.h"
#include "../vec.h"

namespace engram {
namespace cpu {

namespace {

inline float apply(BinaryFn fn, float a, float b) {
  switch (fn) {
    case BinaryFn::ADD: return a + b;
    case BinaryFn::SUB: return a - b;
    case BinaryFn::MUL: return a * b;
    case BinaryFn::DIV: return a / b;
  }
  return 0.0f;
}

// Strides of x as seen from the broadcast output shape (0 on broadcast dims).
Dims bstrides(const Tensor& x, const Dims& out) {
  Dims s;
  s.n = out.n;
  for (int i = 0; i < out.n; ++i) {
    int xi = i - (out.n - x.ndim());
    s[i] = (xi >= 0 && x.size(xi) != 1) ? x.stride(xi) : 0;
  }
  return s;
}

// Row offsets of a and b for output row r (all dims but the last).
inline void row_offsets(const Dims& shape, const Dims& sa, const Dims& sb, int64_t r, int64_t& offa, int64_t& offb) {
  offa = offb = 0;
  for (int d = shape.n - 2; d >= 0; --d) {
    int64_t idx = r % shape[d];
    r /= shape[d];
    offa += idx * sa[d];
    offb += idx * sb[d];
  }
}

// Items [i0, i1) of (output row, column segment of kSeg) pairs.
constexpr int64_t kSeg = 1 << 14;
template <class T>
void vec_rows(const VecKernels& vk, BinaryFn fn, const T* a, const T* b, T* o, const Dims& shape, const Dims& sa,
              const Dims& sb, int64_t i0, int64_t i1) {
  const int nd = shape.n;
  const int64_t inner = nd ? shape[nd - 1] : 1, nseg = (inner + kSeg - 1) / kSeg;
  const bool as = nd && sa[nd - 1] == 0, bs = nd && sb[nd - 1] == 0;
  float ba[kVecChunk], bb[kVecChunk], bo[kVecChunk];
  for (int64_t it = i0; it < i1; ++it) {
    const int64_t r = it / nseg, j0 = it % nseg * kSeg, j1 = std::min(inner, j0 + kSeg);
    int64_t offa, offb;
    row_offsets(shape, sa, sb, r, offa, offb);
    for (int64_t j = j0; j < j1; j += kVecChunk) {
      const int64_t m = std::min(kVecChunk, j1 - j);
      const float* fa = row_f32(vk, a + offa + (as ? 0 : j), as ? 1 : m, ba);
      const float* fb = row_f32(vk, b + offb + (bs ? 0 : j), bs ? 1 : m, bb);
      float* fo = out_f32(o + r * inner + j, bo);
      vk.binary(fn, fa, as, fb, bs, fo, m);
      store_row(vk, fo, o + r * inner + j, m);
    }
  }
}

template <class T, BinaryFn FN>
void rows(const T* a, const T* b, T* o, const Dims& shape, const Dims& sa, const Dims& sb, int64_t r0, int64_t r1) {
  const int nd = shape.n;
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
  Dims outer = shape;
  if (nd) outer.n = nd - 1;
  for (int64_t r = r0; r < r1; ++r) {
    int64_t rem = r, offa = 0, offb = 0;
    for (int d = outer.n - 1; d >= 0; --d) {
      int64_t idx = rem % outer[d];
      rem /= outer[d];
      offa += idx * sa[d];
      offb += idx * sb[d];
    }
    const T* pa = a + offa;
    const T* pb = b + offb;
    T* po = o + r * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t j = 0; j < inner; ++j) po[j] = from_f32<T>(apply(FN, to_f32(pa[j]), to_f32(pb[j])));
    } else if (ia == 1 && ib == 0) {
      float vb = to_f32(pb[0]);
      for (int64_t j = 0; j < inner; ++j) po[j] = from_f32<T>(apply(FN, to_f32(pa[j]), vb));
    } else {
      for (int64_t j = 0; j < inner; ++j) po[j] = from_f32<T>(apply(FN, to_f32(pa[j * ia]), to_f32(pb[j * ib])));
    }
  }
}

}  // namespace

void cpu_binary(OpCall& c) {
  const Tensor &A = c.in[0], &B = c.in[1], &O = c.out[0];
  const Dims& shape = O.shape();
  Dims sa = bstrides(A, shape), sb = bstrides(B, shape);
  int64_t inner = shape.n ? shape[shape.n - 1] : 1;
  int64_t nrows = inner ? O.numel() / inner : 0;
  BinaryFn fn = c.p<BinaryParams>().fn;
  const VecKernels* vk = vec_kernels();
  const int nd = shape.n;
  const bool unit = nd == 0 || ((sa[nd - 1] == 0 || sa[nd - 1] == 1) && (sb[nd - 1] == 0 || sb[nd - 1] == 1));
  dispatch_float(O.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* a = A.data<T>();
    const T* b = B.data<T>();
    T* o = O.data<T>();
    int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(inner, 1));
    if (vk && unit) {
      const int64_t nseg = (inner + kSeg - 1) / kSeg;
      parallel_for(nrows * nseg, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(std::min(inner, kSeg), 1)),
                   [&](int64_t i0, int64_t i1) { vec_rows(*vk, fn, a, b, o, shape, sa, sb, i0, i1); });
      return;
    }
    parallel_for(nrows, grain, [&](int64_t r0, int64_t r1) {
      switch (fn) {
        case BinaryFn::ADD: rows<T, BinaryFn::ADD>(a, b, o, shape, sa, sb, r0, r1); break;
        case BinaryFn::SUB: rows<T, BinaryFn::SUB>(a, b, o, shape, sa, sb, r0, r1); break;
        case BinaryFn::MUL: rows<T, BinaryFn::MUL>(a, b, o, shape, sa, sb, r0, r1); break;
        case BinaryFn::DIV: rows<T, BinaryFn::DIV>(a, b, o, shape, sa, sb, r0, r1); break;
      }
    });
  });
}

void ref_binary(OpCall& c) {
  const Tensor &A = c.in[0], &B = c.in[1], &O = c.out[0];
  const Dims& shape = O.shape();
  Dims sa = bstrides(A, shape), sb = bstrides(B, shape);
  Dims so = O.strides();
  for (int64_t i = 0; i < O.numel(); ++i) {
    float a = read_f32(A, strided_offset(shape, sa, i));
    float b = read_f32(B, strided_offset(shape, sb, i));
    write_f32(O, strided_offset(shape, so, i), apply(c.p<BinaryParams>().fn, a, b));
  }
}

}  // namespace cpu
}  // namespace engram
