// Internal to the GEMM: micro-kernel signature and the per-ISA kernels.
// A micro-kernel multiplies a packed MR x kc panel of A by a packed kc x NR
// panel of B and writes C[0:MR, 0:NR] (row stride rsc):
//   C = alpha * acc + beta * C     (beta == 0: C is not read)
#pragma once
#include <cstdint>

namespace engram {
namespace cpu {

using MicroKernel = void (*)(int64_t kc, const float* A, const float* B, float* C, int64_t rsc, float alpha,
                             float beta);

struct KernelInfo {
  MicroKernel fn;
  int mr, nr;
  const char* name;
};

KernelInfo gemm_kernel_generic();
KernelInfo gemm_kernel_avx2();    // 6 x 16, needs avx2+fma
KernelInfo gemm_kernel_avx512();  // 12 x 32, needs avx512f

}  // namespace cpu
}  // namespace engram
