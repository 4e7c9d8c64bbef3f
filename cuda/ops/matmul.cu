// matmul on the GPU: C[..., M, N] = alpha * op(A) @ op(B), batch dims
// broadcast, any strides. Written here (no cuBLAS on the build machine):
//   f32:      tiled shared-memory SIMT GEMM (128x128x8 or 64x64x16 block
//             tiles, 8x8 or 4x4 outputs per thread), exact f32 FMAs;
//   f16/bf16: tensor cores through WMMA (16x16x16 fragments, f32
//             accumulators), 128x128x32 or 64x64x32 block tiles.
// Both prefetch the next K tile into registers while the current one is
// multiplied from shared memory. Operands are read through their strides: a
// unit stride along either dim gives coalesced loads; an operand with no unit
// stride in its last two dims is first copied to a contiguous tensor. Tile
// arithmetic is in cuda/hd/gemm_tile.h (replayed on the CPU by
// test/native/test_cuda_math.cpp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "../common.cuh"
#include "../hd/gemm_tile.h"
#include "../kernels.cuh"

namespace engram {
namespace cuda {

namespace {

template <class Cfg, bool AK, bool BN>
__global__ void __launch_bounds__(Cfg::THREADS, Cfg::MIN_BLOCKS)
    simt_gemm_kernel(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, GemmProblem p) {
  __shared__ __align__(16) float As[Cfg::BK * Cfg::LDA];
  __shared__ __align__(16) float Bs[Cfg::BK * Cfg::LDB];
  const int tid = threadIdx.x;
  const int64_t tiles_m = ceil_div(p.M, Cfg::BM), ktiles = ceil_div(p.K, Cfg::BK);
  const int64_t n0 = (int64_t)blockIdx.x * Cfg::BN;
  for (int64_t item = blockIdx.z; item < p.batch; item += gridDim.z) {
    const float* a = A + offset_of(p.batch_a, item);
    const float* b = B + offset_of(p.batch_b, item);
    float* c = C + item * p.M * p.N;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      const int64_t m0 = tm * Cfg::BM;
      float acc[Cfg::TM][Cfg::TN];
#pragma unroll
      for (int r = 0; r < Cfg::TM; ++r)
#pragma unroll
        for (int q = 0; q < Cfg::TN; ++q) acc[r][q] = 0.0f;
      float ra[Cfg::A_LOADS], rb[Cfg::B_LOADS];
      simt_fetch<Cfg, AK, BN>(p, a, b, m0, n0, 0, tid, ra, rb);
      for (int64_t kt = 0; kt < ktiles; ++kt) {
        simt_stage<Cfg, AK, BN>(ra, rb, tid, As, Bs);
        __syncthreads();
        if (kt + 1 < ktiles) simt_fetch<Cfg, AK, BN>(p, a, b, m0, n0, (kt + 1) * Cfg::BK, tid, ra, rb);
        simt_mma<Cfg>(As, Bs, tid, acc);
        __syncthreads();  // everyone is done reading before the next stage overwrites
      }
      simt_store<Cfg, float>(p, c, m0, n0, tid, acc);
    }
  }
}

template <class T>
struct WmmaType;
template <>
struct WmmaType<f16_t> {
  using type = __half;
};
template <>
struct WmmaType<bf16_t> {
  using type = __nv_bfloat16;
};

template <class Cfg, bool AK, bool BN, class T>
__global__ void __launch_bounds__(Cfg::THREADS, Cfg::MIN_BLOCKS)
    tc_gemm_kernel(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, GemmProblem p) {
  namespace wmma = nvcuda::wmma;
  using W = typename WmmaType<T>::type;
  __shared__ __align__(128) uint16_t As[Cfg::BM * Cfg::LDA];
  __shared__ __align__(128) uint16_t Bs[Cfg::BK * Cfg::LDB];
  __shared__ __align__(128) float scratch[Cfg::WARPS * 256];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t tiles_m = ceil_div(p.M, Cfg::BM), ktiles = ceil_div(p.K, Cfg::BK);
  const int64_t n0 = (int64_t)blockIdx.x * Cfg::BN;
  for (int64_t item = blockIdx.z; item < p.batch; item += gridDim.z) {
    const T* a = A + offset_of(p.batch_a, item);
    const T* b = B + offset_of(p.batch_b, item);
    T* c = C + item * p.M * p.N;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      const int64_t m0 = tm * Cfg::BM;
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[Cfg::FM][Cfg::FN];
#pragma unroll
      for (int i = 0; i < Cfg::FM; ++i)
#pragma unroll
        for (int j = 0; j < Cfg::FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
      T ra[Cfg::A_LOADS], rb[Cfg::B_LOADS];
      tc_fetch<Cfg, AK, BN>(p, a, b, m0, n0, 0, tid, ra, rb);
      for (int64_t kt = 0; kt < ktiles; ++kt) {
        tc_stage<Cfg, AK, BN>(ra, rb, tid, As, Bs);
        __syncthreads();
        if (kt + 1 < ktiles) tc_fetch<Cfg, AK, BN>(p, a, b, m0, n0, (kt + 1) * Cfg::BK, tid, ra, rb);
#pragma unroll
        for (int kk = 0; kk < Cfg::BK; kk += 16) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, W, wmma::row_major> fa[Cfg::FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 16, W, wmma::row_major> fb[Cfg::FN];
#pragma unroll
          for (int i = 0; i < Cfg::FM; ++i)
            wmma::load_matrix_sync(fa[i], reinterpret_cast<const W*>(As + Cfg::a_frag(warp, i, kk)), Cfg::LDA);
#pragma unroll
          for (int j = 0; j < Cfg::FN; ++j)
            wmma::load_matrix_sync(fb[j], reinterpret_cast<const W*>(Bs + Cfg::b_frag(warp, j, kk)), Cfg::LDB);
#pragma unroll
          for (int i = 0; i < Cfg::FM; ++i)
#pragma unroll
            for (int j = 0; j < Cfg::FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        __syncthreads();
      }
      // Epilogue: each fragment through the warp's f32 scratch, then alpha,
      // bounds and rounding to T per element.
      float* sc = scratch + warp * 256;
#pragma unroll
      for (int i = 0; i < Cfg::FM; ++i)
#pragma unroll
        for (int j = 0; j < Cfg::FN; ++j) {
          wmma::store_matrix_sync(sc, acc[i][j], 16, wmma::mem_row_major);
          __syncwarp();
          tc_store_fragment(p, sc, lane, c, m0 + Cfg::c_row(warp, i), n0 + Cfg::c_col(warp, j));
          __syncwarp();
        }
    }
  }
}

// One kernel per fetch direction of A and B (compile-time walks, see fetch_tile).
template <class Cfg, class T>
void launch_tc(const GemmProblem& g, const T* a, const T* b, T* c) {
  const GemmGrid gr = gemm_grid(g.M, g.N, g.batch, Cfg::BM, Cfg::BN);
  const dim3 grid(gr.x, gr.y, gr.z);
  if (g.a_k_fastest) {
    if (g.b_n_fastest) tc_gemm_kernel<Cfg, true, true, T><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
    else tc_gemm_kernel<Cfg, true, false, T><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
  } else {
    if (g.b_n_fastest) tc_gemm_kernel<Cfg, false, true, T><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
    else tc_gemm_kernel<Cfg, false, false, T><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
  }
}
template <class Cfg>
void launch_simt(const GemmProblem& g, const float* a, const float* b, float* c) {
  const GemmGrid gr = gemm_grid(g.M, g.N, g.batch, Cfg::BM, Cfg::BN);
  const dim3 grid(gr.x, gr.y, gr.z);
  if (g.a_k_fastest) {
    if (g.b_n_fastest) simt_gemm_kernel<Cfg, true, true><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
    else simt_gemm_kernel<Cfg, true, false><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
  } else {
    if (g.b_n_fastest) simt_gemm_kernel<Cfg, false, true><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
    else simt_gemm_kernel<Cfg, false, false><<<grid, Cfg::THREADS, 0, stream()>>>(a, b, c, g);
  }
}

}  // namespace

void launch_matmul(OpCall& c) {
  const MatmulParams& mp = c.p<MatmulParams>();
  const Tensor& O = c.out[0];
  Tensor A = c.in[0], B = c.in[1];
  const int64_t M = O.size(-2), N = O.size(-1), K = gemm_k(A, mp);
  if (!gemm_operand_ok(A, mp.trans_a, M, K)) A = contiguous(A);  // no unit stride: gather first
  if (!gemm_operand_ok(B, mp.trans_b, K, N)) B = contiguous(B);
  ENGRAM_CHECK(gemm_operand_ok(A, mp.trans_a, M, K) && gemm_operand_ok(B, mp.trans_b, K, N), INTERNAL,
               "matmul: operand without a unit stride after the contiguous copy");
  const GemmProblem g = gemm_problem(A, B, O.shape(), mp);
  const bool big = gemm_use_big_tiles(g.M, g.N, g.batch, device_prop().multiProcessorCount);
  switch (O.dtype()) {
    case DType::F32: {
      const float* a = static_cast<const float*>(A.raw());
      const float* b = static_cast<const float*>(B.raw());
      float* o = static_cast<float*>(O.raw());
      if (big) launch_simt<SimtBig>(g, a, b, o);
      else launch_simt<SimtSmall>(g, a, b, o);
      break;
    }
    case DType::F16: {
      const f16_t* a = static_cast<const f16_t*>(A.raw());
      const f16_t* b = static_cast<const f16_t*>(B.raw());
      f16_t* o = static_cast<f16_t*>(O.raw());
      if (big) launch_tc<TcBig>(g, a, b, o);
      else launch_tc<TcSmall>(g, a, b, o);
      break;
    }
    case DType::BF16: {
      const bf16_t* a = static_cast<const bf16_t*>(A.raw());
      const bf16_t* b = static_cast<const bf16_t*>(B.raw());
      bf16_t* o = static_cast<bf16_t*>(O.raw());
      if (big) launch_tc<TcBig>(g, a, b, o);
      else launch_tc<TcSmall>(g, a, b, o);
      break;
    }
    default: fail(ErrorCode::E_DTYPE, "matmul: expected f32, f16 or bf16, got ", dtype_name(O.dtype()));
  }
  ENGRAM_CUDA_LAUNCHED("matmul kernel");
}

}  // namespace cuda
}  // namespace engram
