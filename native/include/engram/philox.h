// Philox4x32-10 counter-based generator (Salmon et al., SC'11). Element i of
// a tensor draws from counter i/4 (lane i%4), so the values depend only on
// (seed, i): identical on every device and thread count.
#pragma once
#include <cmath>
#include <cstdint>

#include "dtype.h"

namespace engram {

struct Philox4 {
  uint32_t v[4];
};

ENGRAM_HD Philox4 philox4x32_10(uint64_t counter, uint64_t key) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0;
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  Philox4 out = {{c0, c1, c2, c3}};
  return out;
}

// Uniform in (0, 1]: never 0, so log() is safe.
ENGRAM_HD float u32_to_unit(uint32_t x) { return ((float)(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// Standard normal for element i (Box-Muller on lanes (0,1) or (2,3)).
ENGRAM_HD float philox_normal(uint64_t seed, uint64_t i) {
  Philox4 r = philox4x32_10(i / 2, seed);
  int lane = (int)(i % 2);
  float u1 = u32_to_unit(r.v[0]), u2 = u32_to_unit(r.v[1]);
  float rad = sqrtf(-2.0f * logf(u1));
  float th = 6.283185307179586f * u2;
  return lane == 0 ? rad * cosf(th) : rad * sinf(th);
}

ENGRAM_HD float philox_uniform(uint64_t seed, uint64_t i) {
  Philox4 r = philox4x32_10(i / 4, seed ^ 0x5851F42D4C957F2Dull);
  return u32_to_unit(r.v[i % 4]) - (1.0f / 16777216.0f);  // [0, 1)
}

}  // namespace engram
