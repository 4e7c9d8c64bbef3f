#include "cpu_common.h"

#include "cpu_features.h"
#include "vec.h"

namespace engram {
namespace cpu {

const VecKernels* vec_kernels() {
  switch (isa()) {
    case Isa::AVX512: return vec_kernels_avx512();
    case Isa::AVX2: return vec_kernels_avx2();
    case Isa::GENERIC: break;
  }
  return nullptr;
}

float read_f32(const Tensor& t, int64_t off) {
  const char* base = static_cast<const char*>(t.storage()->data);
  int64_t e = t.offset() + off;
  switch (t.dtype()) {
    case DType::F32: return reinterpret_cast<const float*>(base)[e];
    case DType::F16: return f16_to_f32(reinterpret_cast<const uint16_t*>(base)[e]);
    case DType::BF16: return bf16_to_f32(reinterpret_cast<const uint16_t*>(base)[e]);
    case DType::I32: return (float)reinterpret_cast<const int32_t*>(base)[e];
    case DType::U8: return (float)reinterpret_cast<const uint8_t*>(base)[e];
    case DType::I8: return (float)reinterpret_cast<const int8_t*>(base)[e];
    default: fail(ErrorCode::E_DTYPE, "read_f32 of packed ", dtype_name(t.dtype()));
  }
}

void write_f32(const Tensor& t, int64_t off, float v) {
  char* base = static_cast<char*>(t.storage()->data);
  int64_t e = t.offset() + off;
  switch (t.dtype()) {
    case DType::F32: reinterpret_cast<float*>(base)[e] = v; return;
    case DType::F16: reinterpret_cast<uint16_t*>(base)[e] = f32_to_f16(v); return;
    case DType::BF16: reinterpret_cast<uint16_t*>(base)[e] = f32_to_bf16(v); return;
    default: fail(ErrorCode::E_DTYPE, "write_f32 into ", dtype_name(t.dtype()));
  }
}

Tensor as_f32_contiguous(const Tensor& t) {
  if (t.dtype() == DType::F32) return contiguous(t);
  Attrs a;
  a.set_string("to", "f32");
  return call_op1(OpId::CAST, {t}, a);
}

void store_f32_into(const Tensor& src, const Tensor& out) {
  int64_t n = src.numel();
  const float* s = src.data<float>();
  const VecKernels* vk = vec_kernels();
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
      if (vk) store_row(*vk, s + b, o + b, e - b);
      else
        for (int64_t i = b; i < e; ++i) o[i] = from_f32<T>(s[i]);
    });
  });
}

}  // namespace cpu
}  // namespace engram
