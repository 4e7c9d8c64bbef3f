// cast between f32/f16/bf16/i32/u8/i8. Float -> float rounds to nearest even;
// float -> int truncates toward zero and saturates, NaN -> 0. Fast path for
// float <-> float: F16C / integer-rounding SIMD kernels (vec.h) in chunks.
#include <cmath>
#include <cstring>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../vec.h"

namespace engram {
namespace cpu {

namespace {

template <class I>
I sat_int(float v, double lo, double hi) {
  if (std::isnan(v)) return 0;
  double t = std::trunc((double)v);
  return (I)(t < lo ? lo : (t > hi ? hi : t));
}

void store_any(DType dt, void* base, int64_t i, float v) {
  switch (dt) {
    case DType::F32: static_cast<float*>(base)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(base)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(v); break;
    case DType::I32: static_cast<int32_t*>(base)[i] = sat_int<int32_t>(v, -2147483648.0, 2147483647.0); break;
    case DType::U8: static_cast<uint8_t*>(base)[i] = sat_int<uint8_t>(v, 0, 255); break;
    case DType::I8: static_cast<int8_t*>(base)[i] = sat_int<int8_t>(v, -128, 127); break;
    default: fail(ErrorCode::E_DTYPE, "cast: unsupported target ", dtype_name(dt));
  }
}

}  // namespace

void cpu_cast(OpCall& c) {
  Tensor X = contiguous(c.in[0]);
  const Tensor& O = c.out[0];
  const int64_t n = O.numel();
  const DType from = X.dtype(), to = O.dtype();
  if (from == to) {
    std::memcpy(O.raw(), X.raw(), X.nbytes());
    return;
  }
  const VecKernels* vk = vec_kernels();
  if (vk && is_float(from) && is_float(to)) {
    parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
      float buf[kVecChunk];
      for (int64_t i = b; i < e; i += kVecChunk) {
        const int64_t m = std::min(kVecChunk, e - i);
        const float* f = nullptr;
        dispatch_float(from, [&](auto tag) { f = row_f32(*vk, X.data<decltype(tag)>() + i, m, buf); });
        dispatch_float(to, [&](auto tag) { store_row(*vk, f, O.data<decltype(tag)>() + i, m); });
      }
    });
    return;
  }
  if (from == DType::I32 && to != DType::F32) {
    // i32 -> f16/bf16/u8/i8: go through double so large ints saturate exactly.
    const int32_t* x = X.data<int32_t>();
    parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) store_any(to, O.raw(), i, (float)x[i]);
    });
    return;
  }
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) store_any(to, O.raw(), i, read_f32(X, i));
  });
}

void ref_cast(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  for (int64_t i = 0; i < O.numel(); ++i) {
    float v = read_f32(X, strided_offset(X.shape(), X.strides(), i));
    if (X.dtype() == O.dtype() && X.dtype() == DType::I32) {
      static_cast<int32_t*>(O.raw())[i] = static_cast<const int32_t*>(X.raw())[strided_offset(X.shape(), X.strides(), i)];
      continue;
    }
    store_any(O.dtype(), O.raw(), i, v);
  }
}

}  // namespace cpu
}  // namespace engram
