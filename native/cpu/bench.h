// Native timing helpers for `engram bench` (kernel time without N-API or
// allocation in the loop): machine FMA peak, engram's GEMM, and OpenBLAS's
// cblas_sgemm when libopenblas is installed (loaded with dlopen at run time;
// engram never links it).
#pragma once
#include <cstdint>
#include <string>

namespace engram {
namespace cpu {

// GFLOP/s of a register-only FMA loop on `threads` threads, best ISA.
double measure_peak_gflops(int threads, double seconds = 0.2);

struct GemmTiming {
  double best_ms = -1;  // < 0: not available
  std::string note;
};
// C[b] = A[b] B[b], row-major f32, `batch` independent items; best time over
// at least `reps` runs and at least 0.2 s.
GemmTiming time_engram_gemm(int64_t M, int64_t N, int64_t K, int64_t batch, int reps);
GemmTiming time_openblas_gemm(int64_t M, int64_t N, int64_t K, int64_t batch, int reps, int threads);

}  // namespace cpu
}  // namespace engram
