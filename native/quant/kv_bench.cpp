// Read-bandwidth probe (see kv_bench.h): the reference point for "how close
// to memory bandwidth" the cache's decode attention gets.
#include "kv_bench.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../cpu/cpu_features.h"
#include "engram/threadpool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace engram {
namespace quant {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  float out[8];
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float s = 0;
  for (float v : out) s += v;
  for (; i < n; ++i) s += p[i];
  return s;
}
#endif

float sum_plain(const float* p, size_t n) {
  float a[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  float s = 0;
  for (float v : a) s += v;
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace

double measure_read_bandwidth(size_t bytes, int reps) {
  const size_t n = bytes / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  const bool avx2 = cpu::isa() >= cpu::Isa::AVX2;
  volatile float sink = 0;
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel_tasks(num_threads(), [&](int t, int nt) {
      const size_t a = n * (size_t)t / (size_t)nt, b = n * (size_t)(t + 1) / (size_t)nt;
#if defined(__x86_64__) && defined(__GNUC__)
      const float s = avx2 ? sum_avx2(buf.data() + a, b - a) : sum_plain(buf.data() + a, b - a);
#else
      const float s = sum_plain(buf.data() + a, b - a);
#endif
      sink = sink + s;
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0 && sec < best) best = sec;  // the first pass pages the buffer in
  }
  (void)avx2;
  return (double)(n * sizeof(float)) / best / 1e9;
}

}  // namespace quant
}  // namespace engram
