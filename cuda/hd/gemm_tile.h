// Tiling of the CUDA GEMM (cuda/ops/matmul.cu), in __host__ __device__
// pieces that test/native/test_cuda_math.cpp replays on the CPU thread by
// thread: tile configurations, which global element each thread fetches,
// where it lands in shared memory, the SIMT micro-kernel, the tensor-core
// fragment offsets and the epilogues. Plain C++ only (no CUDA headers).
//
// One batch item: C[M, N] = alpha * op(A)[M, K] @ op(B)[K, N] with
//   op(A)(i, k) = A[i*rsa + k*csa],  op(B)(k, j) = B[k*rsb + j*csb],
// C row-major with row stride ldc. Out-of-range tile elements load as 0.
#pragma once
#include <cstdint>

#include "elem.h"
#include "index.h"

#ifdef __CUDA_ARCH__  // device pass only: the host compiler does not know the pragma
#define ENGRAM_UNROLL _Pragma("unroll")
#else
#define ENGRAM_UNROLL
#endif

namespace engram {
namespace cuda {

struct GemmProblem {
  int64_t M, N, K;
  int64_t rsa, csa, rsb, csb;
  float alpha;
  bool a_k_fastest;  // fetch A along k (csa == 1) rather than along m (rsa == 1)
  bool b_n_fastest;  // fetch B along n (csb == 1) rather than along k (rsb == 1)
  int64_t batch;     // broadcast batch items
  StridedIndex batch_a, batch_b;  // item -> element offset of A / B (stride 0 where broadcast)
};

// Thread tid's walk over a ROWS x COLS tile: its element q sits at
// (r0 + q*dr, c0 + q*dc). Consecutive threads take consecutive elements along
// the dimension that is contiguous in global memory, so a warp's loads
// coalesce; each thread's addresses then differ by one fixed step.
struct TileWalk {
  int r0, c0, dr, dc;
};
template <int ROWS, int COLS, int THREADS, bool COLS_FASTEST>
ENGRAM_HD TileWalk tile_walk(int tid) {
  static_assert(THREADS % ROWS == 0 && THREADS % COLS == 0 && (ROWS * COLS) % THREADS == 0,
                "the threads must tile the block evenly either way");
  if (COLS_FASTEST) return TileWalk{tid / COLS, tid % COLS, THREADS / COLS, 0};
  return TileWalk{tid % ROWS, tid / ROWS, 0, THREADS / ROWS};
}

// Thread tid's LOADS elements of the tile at (row0, col0) into registers.
// The walk direction is a template argument: the per-element steps are then
// constants and stay out of the register budget.
template <int ROWS, int COLS, int THREADS, int LOADS, bool COLS_FASTEST, class T>
ENGRAM_HD void fetch_tile(const T* base, int64_t rs, int64_t cs, int64_t row0, int64_t col0, int64_t nrows,
                          int64_t ncols, int tid, T (&reg)[LOADS]) {
  static_assert(ROWS * COLS == THREADS * LOADS, "tile does not split evenly over the threads");
  const TileWalk w = tile_walk<ROWS, COLS, THREADS, COLS_FASTEST>(tid);
  const int64_t rows_left = nrows - row0 - w.r0, cols_left = ncols - col0 - w.c0;
  const T* p = base + (row0 + w.r0) * rs + (col0 + w.c0) * cs;
  const int64_t step = w.dr * rs + w.dc * cs;
  ENGRAM_UNROLL
  for (int q = 0; q < LOADS; ++q) reg[q] = (q * w.dr < rows_left && q * w.dc < cols_left) ? p[q * step] : T{};
}

// The same elements into shared memory: element (r, c) at s[r*ld_r + c*ld_c].
template <int ROWS, int COLS, int THREADS, int LOADS, bool COLS_FASTEST, class T, class S>
ENGRAM_HD void store_tile(const T (&reg)[LOADS], int tid, S* s, int ld_r, int ld_c) {
  const TileWalk w = tile_walk<ROWS, COLS, THREADS, COLS_FASTEST>(tid);
  S* d = s + w.r0 * ld_r + w.c0 * ld_c;
  const int step = w.dr * ld_r + w.dc * ld_c;
  ENGRAM_UNROLL
  for (int q = 0; q < LOADS; ++q) stage(d[q * step], reg[q]);
}

// ---- SIMT f32 kernel: As[k][m] and Bs[k][n] in f32, each thread a TM x TN block
template <int BM_, int BN_, int BK_, int TM_, int TN_, int MIN_BLOCKS_>
struct SimtCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int MIN_BLOCKS = MIN_BLOCKS_;  // resident blocks per SM the register budget must allow
  static constexpr int THREADS = (BM / TM) * (BN / TN);
  static constexpr int LDA = BM + 4;  // +4 floats: spreads the transposed stores over banks, keeps 16 B rows
  static constexpr int LDB = BN + 4;
  static constexpr int A_LOADS = BM * BK / THREADS;
  static constexpr int B_LOADS = BK * BN / THREADS;
  static constexpr int SMEM_FLOATS = BK * LDA + BK * LDB;
  static_assert(BM % TM == 0 && BN % TN == 0, "micro-tile must divide the block tile");
  static_assert((BM * BK) % THREADS == 0 && (BK * BN) % THREADS == 0, "loads must split evenly");
  static_assert(SMEM_FLOATS * 4 <= 48 * 1024, "static shared memory limit");
};
using SimtBig = SimtCfg<128, 128, 8, 8, 8, 1>;   // 256 threads, 8x8 outputs each
using SimtSmall = SimtCfg<64, 64, 16, 4, 4, 3>;  // 256 threads, 4x4 outputs each

// AK: A is fetched along k (p.a_k_fastest); BN: B along n (p.b_n_fastest).
template <class Cfg, bool AK, bool BN>
ENGRAM_HD void simt_fetch(const GemmProblem& p, const float* A, const float* B, int64_t m0, int64_t n0, int64_t k0,
                          int tid, float (&ra)[Cfg::A_LOADS], float (&rb)[Cfg::B_LOADS]) {
  fetch_tile<Cfg::BM, Cfg::BK, Cfg::THREADS, Cfg::A_LOADS, AK>(A, p.rsa, p.csa, m0, k0, p.M, p.K, tid, ra);
  fetch_tile<Cfg::BK, Cfg::BN, Cfg::THREADS, Cfg::B_LOADS, BN>(B, p.rsb, p.csb, k0, n0, p.K, p.N, tid, rb);
}

template <class Cfg, bool AK, bool BN>
ENGRAM_HD void simt_stage(const float (&ra)[Cfg::A_LOADS], const float (&rb)[Cfg::B_LOADS], int tid, float* As,
                          float* Bs) {
  store_tile<Cfg::BM, Cfg::BK, Cfg::THREADS, Cfg::A_LOADS, AK>(ra, tid, As, 1, Cfg::LDA);  // As[k][m]
  store_tile<Cfg::BK, Cfg::BN, Cfg::THREADS, Cfg::B_LOADS, BN>(rb, tid, Bs, Cfg::LDB, 1);  // Bs[k][n]
}

template <class Cfg>
ENGRAM_HD void simt_mma(const float* As, const float* Bs, int tid, float (&acc)[Cfg::TM][Cfg::TN]) {
  const int tx = tid % (Cfg::BN / Cfg::TN), ty = tid / (Cfg::BN / Cfg::TN);
  ENGRAM_UNROLL
  for (int k = 0; k < Cfg::BK; ++k) {
    float a[Cfg::TM], b[Cfg::TN];
    ENGRAM_UNROLL
    for (int r = 0; r < Cfg::TM; ++r) a[r] = As[k * Cfg::LDA + ty * Cfg::TM + r];
    ENGRAM_UNROLL
    for (int c = 0; c < Cfg::TN; ++c) b[c] = Bs[k * Cfg::LDB + tx * Cfg::TN + c];
    ENGRAM_UNROLL
    for (int r = 0; r < Cfg::TM; ++r)
      ENGRAM_UNROLL
    for (int c = 0; c < Cfg::TN; ++c) acc[r][c] += a[r] * b[c];
  }
}

template <class Cfg, class T>
ENGRAM_HD void simt_store(const GemmProblem& p, T* C, int64_t m0, int64_t n0, int tid,
                          const float (&acc)[Cfg::TM][Cfg::TN]) {
  const int tx = tid % (Cfg::BN / Cfg::TN), ty = tid / (Cfg::BN / Cfg::TN);
  ENGRAM_UNROLL
  for (int r = 0; r < Cfg::TM; ++r) {
    const int64_t i = m0 + ty * Cfg::TM + r;
    if (i >= p.M) continue;
    ENGRAM_UNROLL
    for (int c = 0; c < Cfg::TN; ++c) {
      const int64_t j = n0 + tx * Cfg::TN + c;
      if (j < p.N) C[i * p.N + j] = from_f32<T>(p.alpha * acc[r][c]);
    }
  }
}

// ---- tensor-core kernel (f16/bf16 operands, f32 accumulators): 16-bit
// As[m][k] and Bs[k][n]; warp w owns a WTM x WTN block of FM x FN 16x16
// fragments. Row strides are multiples of 8 elements (the WMMA ldm rule) and
// every fragment starts 32-byte aligned.
template <int BM_, int BN_, int BK_, int WARPS_M_, int WARPS_N_, int MIN_BLOCKS_>
struct TcCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
  static constexpr int MIN_BLOCKS = MIN_BLOCKS_;
  static constexpr int WARPS = WARPS_M * WARPS_N, THREADS = 32 * WARPS;
  static constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N, FM = WTM / 16, FN = WTN / 16;
  static constexpr int LDA = BK + 8, LDB = BN + 8;  // +8 halves: fewer bank conflicts, rows stay 16 B aligned
  static constexpr int A_LOADS = BM * BK / THREADS, B_LOADS = BK * BN / THREADS;
  static constexpr int SMEM_BYTES = 2 * (BM * LDA + BK * LDB) + 4 * 256 * WARPS;  // + one f32 16x16 scratch per warp
  static_assert(WTM % 16 == 0 && WTN % 16 == 0 && BK % 16 == 0, "warp tile must be whole fragments");
  static_assert(LDA % 16 == 8 && LDB % 16 == 8 && LDA % 8 == 0 && LDB % 8 == 0, "ldm: multiple of 8 elements, rows offset by 16 bytes");
  static_assert((BM * BK) % THREADS == 0 && (BK * BN) % THREADS == 0, "loads must split evenly");
  static_assert(SMEM_BYTES <= 48 * 1024, "static shared memory limit");

  // Element offsets (16-bit units) of a warp's fragments in As / Bs, and the
  // fragment's position in the block tile.
  static ENGRAM_HD int a_frag(int warp, int fi, int kk) { return ((warp / WARPS_N) * WTM + fi * 16) * LDA + kk; }
  static ENGRAM_HD int b_frag(int warp, int fj, int kk) { return kk * LDB + (warp % WARPS_N) * WTN + fj * 16; }
  static ENGRAM_HD int c_row(int warp, int fi) { return (warp / WARPS_N) * WTM + fi * 16; }
  static ENGRAM_HD int c_col(int warp, int fj) { return (warp % WARPS_N) * WTN + fj * 16; }
};
using TcBig = TcCfg<128, 128, 16, 2, 4, 1>;  // 8 warps, 64x32 per warp (4x2 fragments)
using TcSmall = TcCfg<64, 64, 16, 2, 2, 1>;  // 4 warps, 32x32 per warp (2x2 fragments)

template <class Cfg, bool AK, bool BN, class T>
ENGRAM_HD void tc_fetch(const GemmProblem& p, const T* A, const T* B, int64_t m0, int64_t n0, int64_t k0, int tid,
                        T (&ra)[Cfg::A_LOADS], T (&rb)[Cfg::B_LOADS]) {
  fetch_tile<Cfg::BM, Cfg::BK, Cfg::THREADS, Cfg::A_LOADS, AK>(A, p.rsa, p.csa, m0, k0, p.M, p.K, tid, ra);
  fetch_tile<Cfg::BK, Cfg::BN, Cfg::THREADS, Cfg::B_LOADS, BN>(B, p.rsb, p.csb, k0, n0, p.K, p.N, tid, rb);
}

template <class Cfg, bool AK, bool BN, class T>
ENGRAM_HD void tc_stage(const T (&ra)[Cfg::A_LOADS], const T (&rb)[Cfg::B_LOADS], int tid, uint16_t* As,
                        uint16_t* Bs) {
  store_tile<Cfg::BM, Cfg::BK, Cfg::THREADS, Cfg::A_LOADS, AK>(ra, tid, As, Cfg::LDA, 1);  // As[m][k]
  store_tile<Cfg::BK, Cfg::BN, Cfg::THREADS, Cfg::B_LOADS, BN>(rb, tid, Bs, Cfg::LDB, 1);  // Bs[k][n]
}

// Lane `lane` of a warp writes its 8 elements of a 16x16 f32 fragment staged
// row-major in `scratch` (row lane/2, columns 8*(lane%2) ..): C[row0.., col0..].
template <class T>
ENGRAM_HD void tc_store_fragment(const GemmProblem& p, const float* scratch, int lane, T* C, int64_t row0,
                                 int64_t col0) {
  const int r = lane / 2, c0 = (lane % 2) * 8;
  const int64_t i = row0 + r;
  if (i >= p.M) return;
  ENGRAM_UNROLL
  for (int c = 0; c < 8; ++c) {
    const int64_t j = col0 + c0 + c;
    if (j < p.N) C[i * p.N + j] = from_f32<T>(p.alpha * scratch[r * 16 + c0 + c]);
  }
}

// ---- host: the problem of a matmul call ------------------------------------
// op(X)'s strides along (rows, cols) of the product, with size-1 dims given a
// unit stride (their index is always 0).
inline void gemm_operand_strides(const Tensor& x, bool trans, int64_t rows, int64_t cols, int64_t& rs,
                                 int64_t& cs) {
  rs = trans ? x.stride(-1) : x.stride(-2);
  cs = trans ? x.stride(-2) : x.stride(-1);
  if (rows == 1) rs = 1;
  if (cols == 1) cs = 1;
}
// The kernels need a unit stride along one of the two dims of each operand
// (else the launcher copies the operand to a contiguous tensor first).
inline bool gemm_operand_ok(const Tensor& x, bool trans, int64_t rows, int64_t cols) {
  int64_t rs, cs;
  gemm_operand_strides(x, trans, rows, cols, rs, cs);
  return rs == 1 || cs == 1;
}
inline int64_t gemm_k(const Tensor& A, const MatmulParams& mp) { return mp.trans_a ? A.size(-2) : A.size(-1); }

// C = out [..., M, N] contiguous; A and B pass gemm_operand_ok.
inline GemmProblem gemm_problem(const Tensor& A, const Tensor& B, const Dims& out, const MatmulParams& mp) {
  GemmProblem g{};
  g.M = out[out.n - 2];
  g.N = out[out.n - 1];
  g.K = gemm_k(A, mp);
  g.alpha = mp.alpha;
  gemm_operand_strides(A, mp.trans_a, g.M, g.K, g.rsa, g.csa);
  gemm_operand_strides(B, mp.trans_b, g.K, g.N, g.rsb, g.csb);
  g.a_k_fastest = g.csa == 1;
  g.b_n_fastest = g.csb == 1;
  Dims ob, as, at, bs, bt;  // output batch shape; A / B batch dims
  for (int i = 0; i < out.n - 2; ++i) ob.push_back(out[i]);
  for (int i = 0; i < A.ndim() - 2; ++i) {
    as.push_back(A.size(i));
    at.push_back(A.stride(i));
  }
  for (int i = 0; i < B.ndim() - 2; ++i) {
    bs.push_back(B.size(i));
    bt.push_back(B.stride(i));
  }
  g.batch = 1;
  for (int i = 0; i < ob.n; ++i) g.batch *= ob[i];
  g.batch_a = index_of(ob, broadcast_strides(as, at, ob));
  g.batch_b = index_of(ob, broadcast_strides(bs, bt, ob));
  return g;
}

// Which configuration a problem uses: big tiles only when they still give the
// GPU enough blocks (small and batched products use the 64x64 tiles).
ENGRAM_HD bool gemm_use_big_tiles(int64_t M, int64_t N, int64_t batch, int sm_count) {
  if (M < 128 || N < 128) return false;
  const int64_t big_blocks = ceil_div(M, 128) * ceil_div(N, 128) * batch;
  return big_blocks >= 2 * (int64_t)sm_count;
}

// Grid: x = column tiles, y = row tiles, z = batch items; y and z are capped at
// the hardware limit and the kernels loop over the rest.
struct GemmGrid {
  int64_t tiles_m, tiles_n;
  unsigned x, y, z;
};
ENGRAM_HD GemmGrid gemm_grid(int64_t M, int64_t N, int64_t batch, int BM, int BN) {
  GemmGrid g;
  g.tiles_m = ceil_div(M, BM);
  g.tiles_n = ceil_div(N, BN);
  g.x = (unsigned)g.tiles_n;
  g.y = (unsigned)(g.tiles_m < 65535 ? g.tiles_m : 65535);
  g.z = (unsigned)(batch < 65535 ? batch : 65535);
  return g;
}

}  // namespace cuda
}  // namespace engram
