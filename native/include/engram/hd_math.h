// Scalar activation maths shared by the CPU kernels, the CUDA kernels and the
// references (one definition, so the backends agree to rounding).
#pragma once
#include <cmath>

#include "dtype.h"

namespace engram {

ENGRAM_HD float hd_sigmoid(float x) {
  // Stable on both tails.
  if (x >= 0.0f) {
    float z = expf(-x);
    return 1.0f / (1.0f + z);
  }
  float z = expf(x);
  return z / (1.0f + z);
}
ENGRAM_HD float hd_silu(float x) { return x * hd_sigmoid(x); }
ENGRAM_HD float hd_gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
ENGRAM_HD float hd_gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}
// log(1 + e^x) without overflow.
ENGRAM_HD float hd_softplus(float x) { return x > 20.0f ? x : (x < -20.0f ? expf(x) : log1pf(expf(x))); }

// d/dx of the activations (memory kernels differentiate through them).
ENGRAM_HD float hd_silu_grad(float x) {
  float s = hd_sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}
ENGRAM_HD float hd_gelu_erf_grad(float x) {
  const float inv_sqrt2 = 0.70710678118654752f, inv_sqrt2pi = 0.3989422804014327f;
  return 0.5f * (1.0f + erff(x * inv_sqrt2)) + x * inv_sqrt2pi * expf(-0.5f * x * x);
}
ENGRAM_HD float hd_gelu_tanh_grad(float x) {
  const float k = 0.7978845608028654f;
  float u = k * (x + 0.044715f * x * x * x);
  float t = tanhf(u);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);
}

}  // namespace engram
