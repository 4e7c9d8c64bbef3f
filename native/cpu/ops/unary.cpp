// Elementwise unary functions. Fast path: contiguous input (strided inputs
// are copied first), parallel flat loop over the SIMD kernels of vec.h
// (f16/bf16 converted in chunks), or a scalar loop on the generic ISA.
// Reference: per element, in double where the function allows.
#include <cmath>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../vec.h"
#include "engram/hd_math.h"

namespace engram {
namespace cpu {

namespace {

inline float apply(const UnaryParams& p, float x) {
  switch (p.fn) {
    case UnaryFn::SCALE: return p.alpha * x + p.beta;
    case UnaryFn::NEG: return -x;
    case UnaryFn::ABS: return std::fabs(x);
    case UnaryFn::SQRT: return std::sqrt(x);
    case UnaryFn::EXP: return std::exp(x);
    case UnaryFn::LOG: return std::log(x);
    case UnaryFn::SIGMOID: return hd_sigmoid(x);
    case UnaryFn::SILU: return hd_silu(x);
    case UnaryFn::GELU: return p.approximate ? hd_gelu_tanh(x) : hd_gelu_erf(x);
    case UnaryFn::TANH: return std::tanh(x);
    case UnaryFn::RELU: return x > 0.0f ? x : 0.0f;
    case UnaryFn::SOFTPLUS: return hd_softplus(x);
  }
  return 0.0f;
}

double apply_ref(const UnaryParams& p, double x) {
  switch (p.fn) {
    case UnaryFn::SCALE: return (double)p.alpha * x + (double)p.beta;
    case UnaryFn::NEG: return -x;
    case UnaryFn::ABS: return std::fabs(x);
    case UnaryFn::SQRT: return std::sqrt(x);
    case UnaryFn::EXP: return std::exp(x);
    case UnaryFn::LOG: return std::log(x);
    case UnaryFn::SIGMOID: return 1.0 / (1.0 + std::exp(-x));
    case UnaryFn::SILU: return x / (1.0 + std::exp(-x));
    case UnaryFn::GELU:
      return p.approximate ? 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
                           : 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case UnaryFn::TANH: return std::tanh(x);
    case UnaryFn::RELU: return x > 0 ? x : 0.0;
    case UnaryFn::SOFTPLUS: return x > 30 ? x : std::log1p(std::exp(x));
  }
  return 0.0;
}

}  // namespace

void cpu_unary(OpCall& c) {
  Tensor X = contiguous(c.in[0]);
  const Tensor& O = c.out[0];
  const UnaryParams p = c.p<UnaryParams>();
  int64_t n = O.numel();
  const VecKernels* vk = vec_kernels();
  dispatch_float(O.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* o = O.data<T>();
    if (vk) {
      parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
        float buf[kVecChunk];
        for (int64_t i = b; i < e; i += kVecChunk) {
          const int64_t m = std::min(kVecChunk, e - i);
          float* y = out_f32(o + i, buf);
          vk->unary(p, row_f32(*vk, x + i, m, buf), y, m);
          store_row(*vk, y, o + i, m);
        }
      });
      return;
    }
    parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
      if (p.fn == UnaryFn::SCALE) {
        for (int64_t i = b; i < e; ++i) o[i] = from_f32<T>(p.alpha * to_f32(x[i]) + p.beta);
      } else {
        for (int64_t i = b; i < e; ++i) o[i] = from_f32<T>(apply(p, to_f32(x[i])));
      }
    });
  });
}

void ref_unary(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  for (int64_t i = 0; i < O.numel(); ++i) {
    float x = read_f32(X, strided_offset(X.shape(), X.strides(), i));
    write_f32(O, i, (float)apply_ref(c.p<UnaryParams>(), (double)x));
  }
}

}  // namespace cpu
}  // namespace engram
