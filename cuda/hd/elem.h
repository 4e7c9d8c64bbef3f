// Per-element maths of the CUDA kernels, in __host__ __device__ functions
// that g++ compiles too, so test/native/test_cuda_math.cpp checks them against
// the CPU references: f16/bf16 storage tags and f32 conversion, the unary and
// binary functions, NaN-propagating max, and the cast saturation rules.
// Plain C++ only (no CUDA headers).
#pragma once
#include <cmath>
#include <cstdint>

#include "engram/dtype.h"
#include "engram/hd_math.h"
#include "engram/params.h"

namespace engram {
namespace cuda {

// 16-bit storage types (the bits of an f16 / bf16); arithmetic is in f32.
struct f16_t {
  uint16_t bits;
};
struct bf16_t {
  uint16_t bits;
};

ENGRAM_HD float to_f32(float x) { return x; }
ENGRAM_HD float to_f32(f16_t x) { return f16_to_f32(x.bits); }
ENGRAM_HD float to_f32(bf16_t x) { return bf16_to_f32(x.bits); }

template <class T>
struct Elem;
template <>
struct Elem<float> {
  static ENGRAM_HD float from(float v) { return v; }
};
template <>
struct Elem<f16_t> {
  static ENGRAM_HD f16_t from(float v) { return f16_t{f32_to_f16(v)}; }
};
template <>
struct Elem<bf16_t> {
  static ENGRAM_HD bf16_t from(float v) { return bf16_t{f32_to_bf16(v)}; }
};
template <class T>
ENGRAM_HD T from_f32(float v) {
  return Elem<T>::from(v);
}

// Shared-memory staging: f32 tiles (SIMT kernels) or raw 16-bit tiles (tensor cores).
ENGRAM_HD void stage(float& dst, float v) { dst = v; }
ENGRAM_HD void stage(float& dst, f16_t v) { dst = to_f32(v); }
ENGRAM_HD void stage(float& dst, bf16_t v) { dst = to_f32(v); }
ENGRAM_HD void stage(uint16_t& dst, f16_t v) { dst = v.bits; }
ENGRAM_HD void stage(uint16_t& dst, bf16_t v) { dst = v.bits; }

ENGRAM_HD bool is_nan(float x) { return x != x; }

// ---- elementwise functions (same formulas as native/cpu/ops/unary.cpp, binary.cpp)
struct UnaryOp {
  UnaryFn fn;
  float alpha, beta;
  bool approximate;
};

ENGRAM_HD float unary_apply(const UnaryOp& p, float x) {
  switch (p.fn) {
    case UnaryFn::SCALE: return p.alpha * x + p.beta;
    case UnaryFn::NEG: return -x;
    case UnaryFn::ABS: return fabsf(x);
    case UnaryFn::SQRT: return sqrtf(x);
    case UnaryFn::EXP: return expf(x);
    case UnaryFn::LOG: return logf(x);
    case UnaryFn::SIGMOID: return hd_sigmoid(x);
    case UnaryFn::SILU: return hd_silu(x);
    case UnaryFn::GELU: return p.approximate ? hd_gelu_tanh(x) : hd_gelu_erf(x);
    case UnaryFn::TANH: return tanhf(x);
    case UnaryFn::RELU: return x > 0.0f ? x : 0.0f;
    case UnaryFn::SOFTPLUS: return hd_softplus(x);
  }
  return 0.0f;
}

ENGRAM_HD float binary_apply(BinaryFn fn, float a, float b) {
  switch (fn) {
    case BinaryFn::ADD: return a + b;
    case BinaryFn::SUB: return a - b;
    case BinaryFn::MUL: return a * b;
    case BinaryFn::DIV: return a / b;
  }
  return 0.0f;
}

// max that propagates NaN (a NaN anywhere in a lane makes the lane's max NaN,
// like the CPU reduce); associative, so any reduction tree gives the same class.
ENGRAM_HD float max_nan(float a, float b) {
  if (is_nan(a)) return a;
  if (is_nan(b) || b > a) return b;
  return a;
}

// ---- cast: float -> integer truncates toward zero, saturates, NaN -> 0 ------
template <class I>
ENGRAM_HD I sat_int(float v, double lo, double hi) {
  if (is_nan(v)) return (I)0;
  double t = trunc((double)v);
  return (I)(t < lo ? lo : (t > hi ? hi : t));
}
ENGRAM_HD int32_t sat_i32(float v) { return sat_int<int32_t>(v, -2147483648.0, 2147483647.0); }
ENGRAM_HD uint8_t sat_u8(float v) { return sat_int<uint8_t>(v, 0.0, 255.0); }
ENGRAM_HD int8_t sat_i8(float v) { return sat_int<int8_t>(v, -128.0, 127.0); }

// Any non-packed element as f32 (integers convert like a C cast).
ENGRAM_HD float load_any(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::I32: return (float)static_cast<const int32_t*>(p)[i];
    case DType::U8: return (float)static_cast<const uint8_t*>(p)[i];
    case DType::I8: return (float)static_cast<const int8_t*>(p)[i];
    default: return static_cast<const float*>(p)[i];
  }
}

// Stores v as element i of a non-packed tensor of dtype t (the cast rules).
ENGRAM_HD void store_any(void* p, int64_t i, DType t, float v) {
  switch (t) {
    case DType::F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    case DType::I32: static_cast<int32_t*>(p)[i] = sat_i32(v); break;
    case DType::U8: static_cast<uint8_t*>(p)[i] = sat_u8(v); break;
    case DType::I8: static_cast<int8_t*>(p)[i] = sat_i8(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

}  // namespace cuda
}  // namespace engram
