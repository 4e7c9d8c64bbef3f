// SIMD row kernels for the elementwise / row-wise CPU ops (unary maths,
// binary broadcast rows, softmax, norms, reductions, casts). One table per
// ISA (vec_avx2.cpp, vec_avx512.cpp; the maths in vec_impl.h is written once
// over a traits class). vec_kernels() returns the table for the ISA picked at
// load (ENGRAM_ISA caps it) or nullptr on the generic path, where the ops keep
// their portable scalar loops. Every kernel works on contiguous f32 rows; the
// ops convert f16/bf16 through the cast kernels in chunks.
#pragma once
#include <cstdint>
#include <cstring>

#include "cpu_common.h"
#include "engram/params.h"

namespace engram {
namespace cpu {

struct VecKernels {
  const char* name;
  // y = f(x) for the unary family (y may alias x). Accurate to a few ulp;
  // inf / NaN / denormal inputs behave like the scalar references.
  void (*unary)(const UnaryParams& p, const float* x, float* y, int64_t n);
  // o = a (fn) b; a_bcast / b_bcast: that operand is one scalar (*a / *b).
  void (*binary)(BinaryFn fn, const float* a, bool a_bcast, const float* b, bool b_bcast, float* o, int64_t n);
  // max(x) (NaN if any x is NaN, -inf for n == 0) and sum(x) accumulated in double.
  float (*max)(const float* x, int64_t n);
  double (*sum)(const float* x, int64_t n);
  // sum((x - c)^2) accumulated in double.
  double (*sumsq)(const float* x, float c, int64_t n);
  // Column forms for reductions over a non-last axis: acc[i] += x[i] (double
  // accumulators) and acc[i] = max(acc[i], x[i]) (NaN sticks).
  void (*acc_sum)(double* acc, const float* x, int64_t n);
  void (*acc_max)(float* acc, const float* x, int64_t n);
  // y = exp(x - m), returns sum(y) (softmax).
  float (*exp_sum)(const float* x, float m, float* y, int64_t n);
  // y = x * s.
  void (*scale)(const float* x, float s, float* y, int64_t n);
  // y = (x - mean) * inv * w + b (w, b may be null: 1 and 0).
  void (*norm)(const float* x, float mean, float inv, const float* w, const float* b, float* y, int64_t n);
  // Conversions (round to nearest even; NaN stays NaN).
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
  void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n);
  void (*f32_to_bf16)(const float* x, uint16_t* y, int64_t n);
};

const VecKernels* vec_kernels();  // nullptr on the generic path

// f32 view of n contiguous elements: in place for f32, else converted into buf.
inline const float* row_f32(const VecKernels&, const float* x, int64_t, float*) { return x; }
inline const float* row_f32(const VecKernels& k, const f16_t* x, int64_t n, float* buf) {
  k.f16_to_f32(reinterpret_cast<const uint16_t*>(x), buf, n);
  return buf;
}
inline const float* row_f32(const VecKernels& k, const bf16_t* x, int64_t n, float* buf) {
  k.bf16_to_f32(reinterpret_cast<const uint16_t*>(x), buf, n);
  return buf;
}
// Stores n f32 values into a contiguous T row (no-op when they are already there).
inline void store_row(const VecKernels&, const float* v, float* y, int64_t n) {
  if (v != y) std::memcpy(y, v, sizeof(float) * (size_t)n);
}
inline void store_row(const VecKernels& k, const float* v, f16_t* y, int64_t n) {
  k.f32_to_f16(v, reinterpret_cast<uint16_t*>(y), n);
}
inline void store_row(const VecKernels& k, const float* v, bf16_t* y, int64_t n) {
  k.f32_to_bf16(v, reinterpret_cast<uint16_t*>(y), n);
}
// Where a kernel may write f32 results for a T row: the row itself for f32, else buf.
inline float* out_f32(float* y, float*) { return y; }
inline float* out_f32(f16_t*, float* buf) { return buf; }
inline float* out_f32(bf16_t*, float* buf) { return buf; }

// Elements per chunk when f16/bf16 rows go through an f32 buffer.
constexpr int64_t kVecChunk = 2048;

// Per-ISA tables (nullptr where the compiler cannot target the ISA).
const VecKernels* vec_kernels_avx2();    // needs avx2+fma+f16c
const VecKernels* vec_kernels_avx512();  // needs avx512f/bw/vl/dq

}  // namespace cpu
}  // namespace engram
