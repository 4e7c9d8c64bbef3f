// Loads/stores, vector loops, fast activations and the scan planner of the
// CPU memory kernels (see mem_io.h).
#include "mem_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../cpu_common.h"
#include "engram/memory_hd.h"
#include "engram/threadpool.h"

// The hot loops are compiled three times and the loader picks the widest the
// CPU supports (GNU ifunc). Elsewhere they build for the baseline ISA.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define ENGRAM_MULTIVERSION __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define ENGRAM_MULTIVERSION
#endif

namespace engram {
namespace cpu {
namespace mem {

namespace {
template <class T>
inline const T* elem_ptr(const Tensor& x, int64_t off) {
  return static_cast<const T*>(x.raw()) + off;
}
}  // namespace

void load_rows(const Tensor& x, int64_t b, int64_t h, int64_t t0, int64_t n, float* out, int64_t ld) {
  const int64_t D = x.size(3), sT = x.stride(1), sD = x.stride(3);
  const int64_t base = b * x.stride(0) + t0 * sT + h * x.stride(2);
  if (x.dtype() == DType::F32 && sD == 1) {
    const float* p = elem_ptr<float>(x, base);
    for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * ld, p + i * sT, (size_t)D * sizeof(float));
    return;
  }
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = elem_ptr<T>(x, base);
    for (int64_t i = 0; i < n; ++i) {
      const T* r = p + i * sT;
      float* o = out + i * ld;
      if (sD == 1) {
        for (int64_t j = 0; j < D; ++j) o[j] = to_f32(r[j]);
      } else {
        for (int64_t j = 0; j < D; ++j) o[j] = to_f32(r[j * sD]);
      }
    }
  });
}

void store_rows(const Tensor& y, int64_t b, int64_t h, int64_t t0, int64_t n, int64_t c0, int64_t w,
                const float* src, int64_t ld) {
  const int64_t H = y.size(2), T = y.size(1), D = y.size(3);
  if (y.dtype() == DType::F32) {
    float* p = y.data<float>();
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(p + ((b * T + t0 + i) * H + h) * D + c0, src + i * ld, (size_t)w * sizeof(float));
    return;
  }
  dispatch_float(y.dtype(), [&](auto tag) {
    using Ty = decltype(tag);
    Ty* p = y.data<Ty>();
    for (int64_t i = 0; i < n; ++i) {
      Ty* r = p + ((b * T + t0 + i) * H + h) * D + c0;
      const float* s = src + i * ld;
      for (int64_t j = 0; j < w; ++j) r[j] = from_f32<Ty>(s[j]);
    }
  });
}

void load_gate(const Tensor& g, int64_t b, int64_t h, int64_t t0, int64_t n, float* out) {
  if (!g.defined()) return;
  const int64_t base = b * g.stride(0) + t0 * g.stride(1) + h * g.stride(2), sT = g.stride(1);
  dispatch_float(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = elem_ptr<T>(g, base);
    for (int64_t i = 0; i < n; ++i) out[i] = to_f32(p[i * sT]);
  });
}

void load_state(const Tensor& s, int64_t b, int64_t h, int64_t per, float* out) {
  if (!s.defined()) {
    std::fill(out, out + per, 0.0f);
    return;
  }
  const int64_t bb = s.size(0) == 1 ? 0 : b;
  Tensor blk = s.select(0, bb).select(0, h);
  if (blk.is_contiguous()) {
    std::memcpy(out, blk.raw(), (size_t)per * sizeof(float));
    return;
  }
  const float* base = static_cast<const float*>(blk.raw());
  for (int64_t i = 0; i < per; ++i) out[i] = base[strided_offset(blk.shape(), blk.strides(), i)];
}

void store_state(const Tensor& s, int64_t b, int64_t h, int64_t per, const float* src) {
  if (s.numel() == 0) return;
  std::memcpy(s.data<float>() + (b * s.size(1) + h) * per, src, (size_t)per * sizeof(float));
}

void store_offset(const Tensor& out, int64_t offset) {
  if (out.numel() == 0) return;
  *out.data<int32_t>() = (int32_t)offset;
}

bool load_head_param(const Tensor& p, int64_t h, int64_t D, float* out) {
  if (!p.defined()) return false;
  for (int64_t j = 0; j < D; ++j) out[j] = read_f32(p, h * p.stride(0) + j * p.stride(1));
  return true;
}

// ---- vector loops ----
ENGRAM_MULTIVERSION void vaxpy(int64_t n, float a, const float* __restrict x, float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
ENGRAM_MULTIVERSION void vaxpby(int64_t n, float a, const float* __restrict x, float b, float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i] + b * y[i];
}
ENGRAM_MULTIVERSION void vscale(int64_t n, float a, float* __restrict x) {
  for (int64_t i = 0; i < n; ++i) x[i] *= a;
}
ENGRAM_MULTIVERSION void vmul(int64_t n, const float* __restrict x, float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
}
ENGRAM_MULTIVERSION float vdot(int64_t n, const float* __restrict x, const float* __restrict y) {
  // 16 partial sums so the compiler can vectorise without reassociation flags.
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += x[i + j] * y[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += x[i] * y[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

ENGRAM_MULTIVERSION void ut_inverse(int64_t n, const float* __restrict A, float* __restrict X) {
  for (int64_t i = 0; i < n; ++i) {
    float* xi = X + i * n;
    for (int64_t j = 0; j < n; ++j) xi[j] = 0.0f;
    for (int64_t k = 0; k < i; ++k) {
      const float a = -A[i * n + k];
      const float* xk = X + k * n;
      for (int64_t j = 0; j <= k; ++j) xi[j] += a * xk[j];
    }
    xi[i] = 1.0f;
  }
}

// ---- fast activations ----
namespace {
// e^x for x in [-87, 88]: Cody-Waite reduction + degree-6 polynomial, ~1 ulp.
inline float fexp(float x) {
  x = std::min(88.0f, std::max(-87.3f, x));
  float k = std::nearbyint(x * 1.44269504088896341f);
  float r = x - k * 0.693145751953125f;
  r = r - k * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t ki = (int32_t)k;
  uint32_t bits = (uint32_t)(ki + 127) << 23;
  float s;
  std::memcpy(&s, &bits, 4);
  return p * s;
}
// erf(x), Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7).
inline float ferf(float x) {
  float ax = std::fabs(x);
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float y = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  float e = 1.0f - y * fexp(-ax * ax);
  return x < 0.0f ? -e : e;
}
inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }
inline float ftanh(float x) { return 1.0f - 2.0f / (fexp(2.0f * x) + 1.0f); }

inline void act1(MemAct k, float x, float* y, float* d) {
  switch (k) {
    case MemAct::GELU: {
      float c = 0.5f * (1.0f + ferf(x * 0.70710678118654752f));
      *y = x * c;
      if (d) *d = c + x * 0.3989422804014327f * fexp(-0.5f * x * x);
      return;
    }
    case MemAct::GELU_TANH: {
      const float kk = 0.7978845608028654f;
      float u = kk * (x + 0.044715f * x * x * x);
      float t = ftanh(u);
      *y = 0.5f * x * (1.0f + t);
      if (d) *d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kk * (1.0f + 3.0f * 0.044715f * x * x);
      return;
    }
    case MemAct::SILU: {
      float s = fsigmoid(x);
      *y = x * s;
      if (d) *d = s * (1.0f + x * (1.0f - s));
      return;
    }
    case MemAct::RELU:
      *y = x > 0.0f ? x : 0.0f;
      if (d) *d = x > 0.0f ? 1.0f : 0.0f;
      return;
    case MemAct::TANH: {
      float t = ftanh(x);
      *y = t;
      if (d) *d = 1.0f - t * t;
      return;
    }
  }
}

template <MemAct K>
ENGRAM_MULTIVERSION void vact_k(int64_t n, const float* x, float* y, float* __restrict d) {  // y may alias x
  if (d) {
    for (int64_t i = 0; i < n; ++i) act1(K, x[i], y + i, d + i);
  } else {
    for (int64_t i = 0; i < n; ++i) act1(K, x[i], y + i, nullptr);
  }
}
}  // namespace

ENGRAM_MULTIVERSION void vexp(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = fexp(x[i]);
}

float fast_act(MemAct k, float x) {
  float y = 0.0f;
  act1(k, x, &y, nullptr);
  return y;
}

void vact(int64_t n, MemAct k, const float* x, float* y, float* d) {
  switch (k) {
    case MemAct::GELU: vact_k<MemAct::GELU>(n, x, y, d); return;
    case MemAct::GELU_TANH: vact_k<MemAct::GELU_TANH>(n, x, y, d); return;
    case MemAct::SILU: vact_k<MemAct::SILU>(n, x, y, d); return;
    case MemAct::RELU: vact_k<MemAct::RELU>(n, x, y, d); return;
    case MemAct::TANH: vact_k<MemAct::TANH>(n, x, y, d); return;
  }
}

// ---- double-precision activations (the references) ----
double act_ref(MemAct k, double x) {
  switch (k) {
    case MemAct::GELU: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case MemAct::GELU_TANH: return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case MemAct::SILU: return x / (1.0 + std::exp(-x));
    case MemAct::RELU: return x > 0 ? x : 0.0;
    case MemAct::TANH: return std::tanh(x);
  }
  return x;
}
double act_grad_ref(MemAct k, double x) {
  switch (k) {
    case MemAct::GELU: return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * 3.14159265358979323846);
    case MemAct::GELU_TANH: {
      const double kk = 0.7978845608028654, t = std::tanh(kk * (x + 0.044715 * x * x * x));
      return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kk * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case MemAct::SILU: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return s * (1.0 + x * (1.0 - s));
    }
    case MemAct::RELU: return x > 0 ? 1.0 : 0.0;
    case MemAct::TANH: {
      const double t = std::tanh(x);
      return 1.0 - t * t;
    }
  }
  return 1.0;
}

// ---- planning ----
int64_t plan_slices(int64_t BH, int64_t rows, int64_t min_rows) {
  const int64_t nt = num_threads();
  if (nt <= 1 || BH >= 4 * nt || in_parallel_region()) return 1;
  int64_t max_s = std::max<int64_t>(1, rows / std::max<int64_t>(min_rows, 1));
  int64_t s = 1;
  while (s < max_s && (BH * s) % nt != 0 && BH * s < 4 * nt) ++s;
  if (BH * s < nt) s = std::min(max_s, (nt + BH - 1) / BH);
  return s;
}

void slice_range(int64_t n, int64_t ns, int64_t s, int64_t* j0, int64_t* w) {
  auto edge = [&](int64_t i) {
    if (i >= ns) return n;
    const int64_t e = i * n / ns;
    return n >= 16 * ns ? e / 16 * 16 : e;
  };
  *j0 = edge(s);
  *w = edge(s + 1) - *j0;
}

void run_scan(int64_t BH, int64_t nchunks, int64_t nslices, int64_t chunk_tokens, size_t prep_floats,
              const PrepFn& prep, const StepFn& step) {
  if (nchunks == 0) return;
  if (nslices <= 1) {
    parallel_for(BH, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> buf(prep_floats);
      for (int64_t bh = b0; bh < b1; ++bh)
        for (int64_t n = 0; n < nchunks; ++n) {
          prep(bh, n, buf.data());
          step(bh, n, 0, buf.data());
        }
    });
    return;
  }
  // Blocks of ~2048 tokens (at least one chunk): a few MB of prepared data per head.
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(nchunks, 2048 / std::max<int64_t>(chunk_tokens, 1)));
  std::vector<float> bufs((size_t)(BH * block) * prep_floats);
  auto slot = [&](int64_t bh, int64_t i) { return bufs.data() + (size_t)(bh * block + i) * prep_floats; };
  for (int64_t n0 = 0; n0 < nchunks; n0 += block) {
    const int64_t nb = std::min(block, nchunks - n0);
    parallel_for(BH * nb, 1, [&](int64_t a, int64_t e) {
      for (int64_t t = a; t < e; ++t) prep(t / nb, n0 + t % nb, slot(t / nb, t % nb));
    });
    parallel_for(BH * nslices, 1, [&](int64_t a, int64_t e) {
      for (int64_t t = a; t < e; ++t) {
        const int64_t bh = t / nslices, s = t % nslices;
        for (int64_t i = 0; i < nb; ++i) step(bh, n0 + i, s, slot(bh, i));
      }
    });
  }
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
