// Parameters of the model-building ops (concat, causalConv1d, rope,
// sdpaWindow) and the per-element maths they share between the CPU kernels,
// the CUDA kernels and the references.
#pragma once
#include <cmath>
#include <cstdint>

#include "dtype.h"

namespace engram {

struct ConcatParams {
  int axis = 0;  // normalised by infer (may be negative in attrs)
};

enum class ConvActivation : uint8_t { NONE, SILU };
struct CausalConv1dParams {
  ConvActivation activation = ConvActivation::NONE;
};

struct RopeParams {
  double theta = 10000.0;  // base of the inverse frequencies
  int64_t dims = 0;        // rotated leading dims of D (even); 0 => all of D
};

struct SdpaWindowParams {
  int64_t window = 1;  // a query at position p sees keys in (p - window, p]
  float scale = 0.0f;  // 0 => 1/sqrt(D)
};

// Rotary angle of pair i (of dims/2) at position pos, in double: at 64K
// positions an f32 angle would be off by ~4e-3 rad.
ENGRAM_HD double rope_angle(int64_t pos, int64_t i, int64_t dims, double theta) {
  return (double)pos * pow(theta, -2.0 * (double)i / (double)dims);
}

// First visible key of a query at absolute position p (keys [lo, p] are seen).
ENGRAM_HD int64_t window_lo(int64_t p, int64_t window) {
  int64_t lo = p - window + 1;
  return lo < 0 ? 0 : lo;
}

}  // namespace engram
