// CPU-internal helpers: dtype dispatch, element conversion, strided indexing.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "engram/engine.h"
#include "engram/threadpool.h"

namespace engram {
namespace cpu {

struct f16_t {
  uint16_t bits;
};
struct bf16_t {
  uint16_t bits;
};

inline float to_f32(float x) { return x; }
inline float to_f32(f16_t x) { return f16_to_f32(x.bits); }
inline float to_f32(bf16_t x) { return bf16_to_f32(x.bits); }
template <class T>
inline T from_f32(float x);
template <>
inline float from_f32<float>(float x) { return x; }
template <>
inline f16_t from_f32<f16_t>(float x) { return f16_t{f32_to_f16(x)}; }
template <>
inline bf16_t from_f32<bf16_t>(float x) { return bf16_t{f32_to_bf16(x)}; }

// Calls f(T{}) with T = float, f16_t or bf16_t for a float dtype.
template <class F>
void dispatch_float(DType dt, F&& f) {
  switch (dt) {
    case DType::F32: f(float{}); return;
    case DType::F16: f(f16_t{}); return;
    case DType::BF16: f(bf16_t{}); return;
    default: fail(ErrorCode::E_DTYPE, "expected a float dtype, got ", dtype_name(dt));
  }
}

// Element offset (in elements) of linear index `i` of a strided view.
inline int64_t strided_offset(const Dims& shape, const Dims& strides, int64_t i) {
  int64_t off = 0;
  for (int d = shape.n - 1; d >= 0; --d) {
    int64_t s = shape[d];
    if (s == 0) return 0;
    off += (i % s) * strides[d];
    i /= s;
  }
  return off;
}

// The 1-D lanes of a tensor along one axis: lane l (l in [0, count), in
// row-major order of the other dims) starts at offset(l) and steps by `step`.
struct Lanes {
  int64_t count = 1, len = 1, step = 1;
  Dims outer_shape, outer_strides;
  int64_t offset(int64_t l) const { return strided_offset(outer_shape, outer_strides, l); }
};
inline Lanes make_lanes(const Dims& shape, const Dims& strides, int axis) {
  Lanes L;
  L.len = shape[axis];
  L.step = strides[axis];
  for (int d = 0; d < shape.n; ++d) {
    if (d == axis) continue;
    L.outer_shape.push_back(shape[d]);
    L.outer_strides.push_back(strides[d]);
    L.count *= shape[d];
  }
  return L;
}

// Any (non-packed) element as f32, and back; `off` from strided_offset.
float read_f32(const Tensor& t, int64_t off);
void write_f32(const Tensor& t, int64_t off, float v);

// A contiguous f32 copy of t (t itself when it already is one).
Tensor as_f32_contiguous(const Tensor& t);
// Converts a contiguous f32 tensor into out's dtype (out contiguous, same numel).
void store_f32_into(const Tensor& src_f32, const Tensor& out);

}  // namespace cpu
}  // namespace engram
