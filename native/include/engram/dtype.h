// Element types and their traits, plus f16/bf16 <-> f32 conversions.
// The conversions are __host__ __device__ so the CUDA kernels and the CPU
// tests run the very same code (test/native/test_core.cpp checks them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define ENGRAM_HD __host__ __device__ __forceinline__
#else
#define ENGRAM_HD inline
#endif

namespace engram {

// Order is ABI: lib/binding.ts mirrors the names (not the numbers).
// Packed types hold `block` logical elements in `block_bytes` bytes; they are
// only ever contiguous (quantized KV codes, bit-packed signs).
enum class DType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  I32 = 3,
  U8 = 4,
  I8 = 5,
  U4 = 6,  // two 4-bit codes per byte, low nibble first
  U2 = 7,  // four 2-bit codes per byte, lowest bits first
  U1 = 8,  // eight 1-bit codes per byte, lowest bit first
  COUNT
};

struct DTypeTraits {
  const char* name;
  int block;        // logical elements per block
  int block_bytes;  // bytes per block
  bool is_float;
  bool packed;      // block > 1: sub-byte codes, contiguous only
};

constexpr DTypeTraits kDTypeTraits[] = {
    {"f32", 1, 4, true, false}, {"f16", 1, 2, true, false}, {"bf16", 1, 2, true, false},
    {"i32", 1, 4, false, false}, {"u8", 1, 1, false, false}, {"i8", 1, 1, false, false},
    {"u4", 2, 1, false, true},   {"u2", 4, 1, false, true},  {"u1", 8, 1, false, true},
};
static_assert(sizeof(kDTypeTraits) / sizeof(kDTypeTraits[0]) == (size_t)DType::COUNT,
              "every DType needs a traits row");

constexpr const DTypeTraits& traits(DType t) { return kDTypeTraits[(int)t]; }
constexpr const char* dtype_name(DType t) { return traits(t).name; }
constexpr bool is_float(DType t) { return traits(t).is_float; }
constexpr bool is_packed(DType t) { return traits(t).packed; }
// Bytes for n logical elements (n must be a multiple of the block for packed types;
// callers check that).
constexpr size_t dtype_bytes(DType t, size_t n) {
  return n / (size_t)traits(t).block * (size_t)traits(t).block_bytes;
}
// Element size for non-packed types (stride arithmetic); 0 for packed.
constexpr size_t elem_size(DType t) { return traits(t).packed ? 0 : (size_t)traits(t).block_bytes; }

bool parse_dtype(const char* s, DType* out);

// ---- scalar conversions (round-to-nearest-even, NaN/Inf preserved) ---------
ENGRAM_HD uint32_t f32_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
ENGRAM_HD float bits_f32(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

ENGRAM_HD uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
ENGRAM_HD float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

ENGRAM_HD float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0u);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  return bits_f32(u);
}

ENGRAM_HD uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // overflow (incl. rounding up) -> Inf
  if (a < 0x38800000u) {                                     // subnormal or zero in f16
    if (a < 0x33000000u) return (uint16_t)sign;              // < half the smallest subnormal
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14..24
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return (uint16_t)(sign | r);
  }
  uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);
  return (uint16_t)(sign | (r >> 13));
}

}  // namespace engram
