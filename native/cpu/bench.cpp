#include "bench.h"

#include <dlfcn.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "cpu_features.h"
#include "engram/engine.h"
#include "engram/philox.h"
#include "engram/threadpool.h"
#include "gemm.h"

// GCC 12 flags the _mm512_undefined_* inside its own intrinsics headers.
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace engram {
namespace cpu {

namespace {

using Clock = std::chrono::steady_clock;

// 10 independent accumulators hide the FMA latency on both pipes.
__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iters) {
  __m256 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 10; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  __m256 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + (double)iters * 10 * 8 * 2 * 0;  // keep the result live
}

__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iters) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}

// FLOPs of one call with `iters`: accumulators * lanes * 2.
double flops_per_iter() {
  return isa() == Isa::AVX512 ? 12.0 * 16 * 2 : 10.0 * 8 * 2;
}
double run_loop(int64_t iters) {
  return isa() == Isa::AVX512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
}

std::vector<float> filled(int64_t n, uint64_t seed) {
  std::vector<float> v((size_t)n);
  for (int64_t i = 0; i < n; ++i) v[(size_t)i] = philox_uniform(seed, (uint64_t)i) - 0.5f;
  return v;
}

// Best time in ms of once() over at least `reps` runs and at least 0.2 s (a
// shared machine's noise only ever adds time), after one warm-up run.
template <class F>
double best_ms(int reps, const F& once) {
  once();
  double best = 1e30, total = 0;
  for (int r = 0; r < 100000 && (r < reps || total < 0.2); ++r) {
    auto t0 = Clock::now();
    once();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    total += s;
    best = std::min(best, s * 1e3);
  }
  return best;
}

}  // namespace

double measure_peak_gflops(int threads, double seconds) {
  if (isa() == Isa::GENERIC) return -1;
  threads = std::max(1, threads);
  // Calibrate iterations for ~seconds/5 per call on one thread.
  int64_t iters = 1 << 16;
  for (;;) {
    auto t0 = Clock::now();
    volatile double sink = run_loop(iters);
    (void)sink;
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.02) break;
    iters *= 2;
  }
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::atomic<int> go{0};
    std::vector<std::thread> ts;
    std::vector<double> secs((size_t)threads);
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        while (!go.load()) {
        }
        auto t0 = Clock::now();
        volatile double sink = run_loop(iters);
        (void)sink;
        secs[(size_t)t] = std::chrono::duration<double>(Clock::now() - t0).count();
      });
    go = 1;
    for (auto& th : ts) th.join();
    double worst = *std::max_element(secs.begin(), secs.end());
    best = std::max(best, threads * flops_per_iter() * (double)iters / worst / 1e9);
  }
  (void)seconds;
  return best;
}

GemmTiming time_engram_gemm(int64_t M, int64_t N, int64_t K, int64_t batch, int reps) {
  std::vector<float> A = filled(M * K * batch, 1), B = filled(K * N * batch, 2), C((size_t)(M * N * batch));
  auto once = [&] {
    if (batch == 1) {
      sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    } else {
      parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          sgemm(false, false, M, N, K, 1.0f, A.data() + b * M * K, K, B.data() + b * K * N, N, 0.0f,
                C.data() + b * M * N, N);
      });
    }
  };
  GemmTiming t;
  t.best_ms = best_ms(reps, once);
  t.note = gemm_kernel_name();
  return t;
}

GemmTiming time_openblas_gemm(int64_t M, int64_t N, int64_t K, int64_t batch, int reps, int threads) {
  GemmTiming t;
  void* h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    t.note = "libopenblas not installed (Debian: libopenblas0-pthread)";
    return t;
  }
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  using SetThreads = void (*)(int);
  using Config = char* (*)();
  auto sg = (Sgemm)dlsym(h, "cblas_sgemm");
  auto st = (SetThreads)dlsym(h, "openblas_set_num_threads");
  auto cfg = (Config)dlsym(h, "openblas_get_config");
  if (!sg) {
    t.note = "cblas_sgemm not found in libopenblas";
    return t;
  }
  if (st) st(batch == 1 ? threads : 1);
  std::vector<float> A = filled(M * K * batch, 1), B = filled(K * N * batch, 2), C((size_t)(M * N * batch));
  const int RowMajor = 101, NoTrans = 111;
  auto once = [&] {
    if (batch == 1) {
      sg(RowMajor, NoTrans, NoTrans, (int)M, (int)N, (int)K, 1.0f, A.data(), (int)K, B.data(), (int)N, 0.0f, C.data(),
         (int)N);
    } else {
      // Batched: one item per engram pool thread, OpenBLAS single-threaded inside.
      parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          sg(RowMajor, NoTrans, NoTrans, (int)M, (int)N, (int)K, 1.0f, A.data() + b * M * K, (int)K,
             B.data() + b * K * N, (int)N, 0.0f, C.data() + b * M * N, (int)N);
      });
    }
  };
  t.best_ms = best_ms(reps, once);
  t.note = cfg ? cfg() : "openblas";
  return t;
}

}  // namespace cpu
}  // namespace engram
