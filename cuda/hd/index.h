// Index arithmetic of the CUDA kernels (host + device, checked by
// test/native/test_cuda_math.cpp): strided views of up to kMaxDims dims passed
// by value, dim coalescing (fewer 64-bit divisions per element), the lanes of
// an axis, and broadcast strides. Plain C++ only (no CUDA headers).
#pragma once
#include <cstdint>

#include "engram/dtype.h"
#include "engram/tensor.h"

namespace engram {
namespace cuda {

// Row-major linear index -> element offset of a strided view.
struct StridedIndex {
  int n;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};

ENGRAM_HD int64_t offset_of(const StridedIndex& ix, int64_t i) {
  if (ix.n == 1) return i * ix.strides[0];  // the common coalesced case: no division
  int64_t off = 0;
  for (int d = ix.n - 1; d >= 0; --d) {
    int64_t s = ix.shape[d];
    off += (i % s) * ix.strides[d];
    i /= s;
  }
  return off;
}

// Drops size-1 dims and merges neighbours that are contiguous with each other;
// offset_of gives the same offsets for every linear index of the view.
inline StridedIndex coalesced(const StridedIndex& in) {
  StridedIndex out{};
  out.n = 0;
  for (int d = 0; d < in.n; ++d) {
    if (in.shape[d] == 1) continue;
    if (out.n > 0 && out.strides[out.n - 1] == in.strides[d] * in.shape[d]) {
      out.shape[out.n - 1] *= in.shape[d];
      out.strides[out.n - 1] = in.strides[d];
      continue;
    }
    out.shape[out.n] = in.shape[d];
    out.strides[out.n] = in.strides[d];
    ++out.n;
  }
  for (int d = out.n; d < kMaxDims; ++d) {
    out.shape[d] = 1;
    out.strides[d] = 0;
  }
  return out;
}

inline StridedIndex index_of(const Dims& shape, const Dims& strides) {
  StridedIndex ix{};
  ix.n = shape.n;
  for (int i = 0; i < kMaxDims; ++i) {
    ix.shape[i] = i < shape.n ? shape[i] : 1;
    ix.strides[i] = i < shape.n ? strides[i] : 0;
  }
  return coalesced(ix);
}

// True when offset_of(ix, i) == i for every i (a plain contiguous walk).
inline bool is_flat(const StridedIndex& ix) { return ix.n == 0 || (ix.n == 1 && ix.strides[0] == 1); }

// Strides of x (shape xs/strides xt) as seen from the broadcast shape `out`:
// 0 on broadcast dims and on the leading dims x lacks.
inline Dims broadcast_strides(const Dims& xs, const Dims& xt, const Dims& out) {
  Dims s;
  s.n = out.n;
  for (int i = 0; i < out.n; ++i) {
    int xi = i - (out.n - xs.n);
    s[i] = (xi >= 0 && xs[xi] != 1) ? xt[xi] : 0;
  }
  return s;
}

// The 1-D lanes of a view along `axis`: lane l (row-major over the other dims)
// starts at offset_of(outer, l) and steps by `step`.
struct LaneIndex {
  StridedIndex outer;
  int64_t count, len, step;
};

inline LaneIndex lanes_of(const Dims& shape, const Dims& strides, int axis) {
  Dims os, ot;
  int64_t count = 1;
  for (int d = 0; d < shape.n; ++d) {
    if (d == axis) continue;
    os.push_back(shape[d]);
    ot.push_back(strides[d]);
    count *= shape[d];
  }
  LaneIndex L;
  L.outer = index_of(os, ot);
  L.count = count;
  L.len = shape[axis];
  L.step = strides[axis];
  return L;
}

ENGRAM_HD int64_t lane_offset(const LaneIndex& L, int64_t lane) { return offset_of(L.outer, lane); }

ENGRAM_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace cuda
}  // namespace engram
