// Per-element maths of the quantized KV formats, shared by the CPU scalar
// references (native/quant/*.cpp), the CUDA kernels (cuda/quant/*.cu) and the
// tests: bit-stream access, stored norms/scales, and tile_elem(), which
// decodes one coordinate of a record in the quantizer's *transformed space*
// (rotated / sketch coordinates, see docs/quant.md; with key centering one
// more constant coordinate carries the mean). A TileDesc is a plain
// struct with the codebooks inline, so it can be passed to a kernel by value.
#pragma once
#include <cstdint>

#include "engram/dtype.h"

namespace engram {
namespace quant {

// Codes are a little-endian bit stream: code j of width b occupies bits
// [j*b, (j+1)*b), bit k being bit (k % 8) of byte k / 8 (LSB first). For
// b = 1, 2, 4 this is the u1/u2/u4 tensor layout; 8 codes always fill b bytes.
ENGRAM_HD uint32_t get_code(const uint8_t* p, int64_t j, int b) {
  const int64_t bit = j * (int64_t)b;
  const uint8_t* q = p + (bit >> 3);
  const int sh = (int)(bit & 7);
  uint32_t w = q[0];
  if (sh + b > 8) w |= (uint32_t)q[1] << 8;
  return (w >> sh) & ((1u << b) - 1u);
}

// The stream must be zeroed first (codes are OR-ed in).
ENGRAM_HD void put_code(uint8_t* p, int64_t j, int b, uint32_t c) {
  const int64_t bit = j * (int64_t)b;
  uint8_t* q = p + (bit >> 3);
  const int sh = (int)(bit & 7);
  const uint32_t w = (c & ((1u << b) - 1u)) << sh;
  q[0] |= (uint8_t)(w & 0xffu);
  if (sh + b > 8) q[1] |= (uint8_t)(w >> 8);
}

ENGRAM_HD int64_t stream_bytes(int64_t n, int b) { return (n * b + 7) / 8; }

// Stored scalars (norms, scales) are f16 or f32, little-endian, unaligned.
ENGRAM_HD float load_scalar(const uint8_t* p, bool f32) {
  if (f32) {
    uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return bits_f32(u);
  }
  return f16_to_f32((uint16_t)(p[0] | (p[1] << 8)));
}
ENGRAM_HD void store_scalar(uint8_t* p, bool f32, float v) {
  if (f32) {
    uint32_t u = f32_bits(v);
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
  } else {
    uint16_t h = f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
  }
}
// The value a scalar takes after a store/load round trip (encoders quantize
// with the stored value so decode is consistent).
ENGRAM_HD float round_scalar(float v, bool f32) { return f32 ? v : f16_to_f32(f32_to_f16(v)); }

// Index of the cell of y among sorted thresholds t[0..n): the number of
// thresholds strictly below y (ties go to the lower cell).
ENGRAM_HD uint32_t cell_index(float y, const float* t, int n) {
  uint32_t k = 0;
  for (int i = 0; i < n; ++i) k += y > t[i] ? 1u : 0u;
  return k;
}

// Round-half-away uniform code for KIVI: clamp(round((x - z) / s), 0, levels-1).
ENGRAM_HD uint32_t uniform_code(float x, float z, float s, int levels) {
  if (!(s > 0.0f)) return 0u;
  float c = (x - z) / s + 0.5f;
  c = c < 0.0f ? 0.0f : c;
  uint32_t k = (uint32_t)c;
  return k > (uint32_t)(levels - 1) ? (uint32_t)(levels - 1) : k;
}

ENGRAM_HD int32_t int8_code(float x, float inv_scale) {
  float c = x * inv_scale;
  c = c > 127.0f ? 127.0f : (c < -127.0f ? -127.0f : c);
  return (int32_t)(c >= 0.0f ? c + 0.5f : c - 0.5f);
}

// ---- record description -----------------------------------------------------

enum class TileKind : uint8_t {
  F32 = 0,       // plain rows (also the residual window)
  F16 = 1,
  BF16 = 2,
  TURBO = 3,     // TurboQuant mse/prod, 1 or 2 channel groups
  QJL = 4,       // sign sketches, 1 or 2 channel groups
  KIVI_TOKEN = 5,    // per-token asymmetric, groups of `group` channels
  KIVI_CHANNEL = 6,  // per-channel asymmetric over blocks of `group` tokens
  INT8 = 7,      // per-token symmetric int8
};

constexpr int kMaxGroups = 2;

// One channel group of a TURBO or QJL record. The transformed space of a
// record is [rot(g0) | rot(g1) | sketch(g0) | sketch(g1)].
struct TileGroup {
  int32_t rot_dim;    // coordinates with b-bit codebook indices (0 when bits = 0)
  int32_t bits;       // codebook bits (TURBO)
  int32_t idx_off;    // byte offset of the index stream in the record
  int32_t rot_t;      // offset of this group's rotated coordinates in t-space
  int32_t sk_dim;     // sketch signs (0: none)
  int32_t sign_off;   // byte offset of the sign stream
  int32_t sk_t;       // offset of the sketch coordinates in t-space
  int32_t norm_off;   // byte offset of ||x_g||
  int32_t rnorm_off;  // byte offset of ||r_g|| (TURBO prod), -1 if none
  float sk_scale;     // kappa / m: multiplies norm (* rnorm) * sign
  float lut[16];      // codebook centroids (unit-vector scale)
};

struct TileDesc {
  TileKind kind;
  uint8_t f32_scalars;  // norms / scales stored as f32 (else f16)
  int32_t dim;          // original dimension d
  int32_t t_dim;        // transformed-space dimension
  int32_t block_tokens; // tokens per encoded block (KIVI_CHANNEL: group)
  int32_t block_bytes;  // bytes per block
  int32_t row_bytes;    // KIVI_CHANNEL: code bytes per token row
  int32_t bits;         // KIVI bits
  int32_t group;        // KIVI group size (channels for TOKEN, tokens for CHANNEL)
  int32_t ngroups;      // TURBO/QJL
  int32_t bias_t;       // TURBO/QJL with centering: t-space index of the constant-1 coordinate, else -1
  TileGroup g[kMaxGroups];
};

// Coordinate e of the transformed-space row of token `tok` (0-based inside
// the block) of the block at `blk`. Readable reference for every kernel.
ENGRAM_HD float tile_elem(const TileDesc& D, const uint8_t* blk, int tok, int e) {
  switch (D.kind) {
    case TileKind::F32: return load_scalar(blk + (int64_t)e * 4, true);
    case TileKind::F16: return f16_to_f32((uint16_t)(blk[2 * e] | (blk[2 * e + 1] << 8)));
    case TileKind::BF16: return bf16_to_f32((uint16_t)(blk[2 * e] | (blk[2 * e + 1] << 8)));
    case TileKind::TURBO:
    case TileKind::QJL: {
      if (e == D.bias_t) return 1.0f;  // centering: x̃ = Aᵀ tile + μ·1
      const bool f32 = D.f32_scalars != 0;
      for (int gi = 0; gi < D.ngroups; ++gi) {
        const TileGroup& G = D.g[gi];
        if (e >= G.rot_t && e < G.rot_t + G.rot_dim) {
          const float nrm = load_scalar(blk + G.norm_off, f32);
          return nrm * G.lut[get_code(blk + G.idx_off, e - G.rot_t, G.bits)];
        }
        if (e >= G.sk_t && e < G.sk_t + G.sk_dim) {
          float s = load_scalar(blk + G.norm_off, f32) * G.sk_scale;
          if (G.rnorm_off >= 0) s *= load_scalar(blk + G.rnorm_off, f32);
          return get_code(blk + G.sign_off, e - G.sk_t, 1) ? s : -s;
        }
      }
      return 0.0f;
    }
    case TileKind::KIVI_TOKEN: {
      const int64_t codes = stream_bytes(D.dim, D.bits);
      const int gidx = e / D.group;
      const int sb = D.f32_scalars ? 4 : 2;
      const float s = load_scalar(blk + codes + (int64_t)gidx * 2 * sb, D.f32_scalars != 0);
      const float z = load_scalar(blk + codes + (int64_t)gidx * 2 * sb + sb, D.f32_scalars != 0);
      return s * (float)get_code(blk, e, D.bits) + z;
    }
    case TileKind::KIVI_CHANNEL: {
      const int sb = D.f32_scalars ? 4 : 2;
      const uint8_t* stats = blk + (int64_t)D.row_bytes * D.block_tokens;
      const float s = load_scalar(stats + (int64_t)e * 2 * sb, D.f32_scalars != 0);
      const float z = load_scalar(stats + (int64_t)e * 2 * sb + sb, D.f32_scalars != 0);
      return s * (float)get_code(blk + (int64_t)tok * D.row_bytes, e, D.bits) + z;
    }
    case TileKind::INT8: {
      const float s = load_scalar(blk + D.dim, D.f32_scalars != 0);
      return s * (float)(int8_t)blk[e];
    }
  }
  return 0.0f;
}

}  // namespace quant
}  // namespace engram
