// Internal to the GEMM: the micro-kernel contract and the per-ISA kernels.
// A micro-kernel computes one tile of at most MR x NR elements of C:
//   C[r, j] = alpha * sum_k A(r, k) B(k, j) + beta * C[r, j]   r < m, j < n
// with A(r, k) = a[r * a_rs + k * a_ks] and B(k, j) = b[k * b_ks + j]. A is
// either packed (a_rs = 1, a_ks = MR), a column-major f32 operand (a_rs = 1,
// a_ks = its column stride) or a row-major one (a_ks = 1, any a_rs); B is a
// packed panel (b_ks = NR) or a row-major f32 operand read in place. B must be
// readable for all NR columns (the driver packs the partial last panel of an
// unpacked B). beta == 0: C is not read.
#pragma once
#include <cstdint>

namespace engram {
namespace cpu {

struct UkrTile {
  int64_t kc;
  const float* a;
  int64_t a_rs, a_ks;
  const float* b;
  int64_t b_ks;
  float* c;
  int64_t rsc;
  int m, n;
  float alpha, beta;
};

using MicroKernel = void (*)(const UkrTile& t);
// Converts n contiguous f16 / bf16 values to f32.
using ConvertFn = void (*)(const uint16_t* src, float* dst, int64_t n);
// Transposing pack: dst[c * dld + r] = f32(src[r * ld + c]) for r < rows,
// c < cols, where src holds f32/f16/bf16 (dtype code 0/1/2). Lanes
// rows <= r < lanes are written as zeros (lanes <= the kernel's width W;
// rows <= lanes).
using TransposeFn = void (*)(int dtype, const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld,
                             int lanes);

// Few rows against a transposed B, both unit-stride along k (x W^T):
// C[i, j] = alpha * dot(A[i*lda : +K], B[j*ldb : +K]) + beta * C[i*rsc + j]
// for i < m <= 4, j < n; beta == 0: C is not read.
using DotKernel = void (*)(int m, int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                           float* C, int64_t rsc, float alpha, float beta);

struct KernelInfo {
  MicroKernel fn;
  int mr, nr;
  const char* name;
  int64_t kc, mc, nc;  // cache blocking for the packed path
  ConvertFn f16, bf16;
  TransposeFn transpose;
  int tw;  // rows one transpose call takes (W)
  DotKernel dot;
};

KernelInfo gemm_kernel_generic();
KernelInfo gemm_kernel_avx2();    // 6 x 16, needs avx2+fma+f16c
KernelInfo gemm_kernel_avx512();  // 12 x 32, needs avx512f/bw/vl/dq

void convert_f16_generic(const uint16_t* src, float* dst, int64_t n);
void convert_bf16_generic(const uint16_t* src, float* dst, int64_t n);
void dot_generic(int m, int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                 int64_t rsc, float alpha, float beta);
void transpose_generic(int dtype, const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld,
                       int lanes);

}  // namespace cpu
}  // namespace engram
