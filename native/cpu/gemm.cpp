// GEMM driver (BLIS-style): B is packed into kc x NR panels shared by all
// threads, each task packs an MC x kc block of A into MR-row panels, and the
// ISA micro-kernel (gemm_avx2.cpp / gemm_avx512.cpp / generic below) computes
// MR x NR tiles. Edge tiles go through a small scratch tile.
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu_common.h"
#include "cpu_features.h"
#include "engram/threadpool.h"
#include "gemm_kernels.h"

namespace engram {
namespace cpu {

// ---- generic micro-kernel (4 x 8; the compiler vectorises the j loop) ------
static void ukr_generic(int64_t kc, const float* A, const float* B, float* C, int64_t rsc, float alpha, float beta) {
  float acc[4][8] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int r = 0; r < 4; ++r) {
      float a = A[r];
      for (int j = 0; j < 8; ++j) acc[r][j] += a * B[j];
    }
    A += 4;
    B += 8;
  }
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 8; ++j)
      C[r * rsc + j] = beta == 0.0f ? alpha * acc[r][j] : alpha * acc[r][j] + beta * C[r * rsc + j];
}
KernelInfo gemm_kernel_generic() { return {ukr_generic, 4, 8, "generic 4x8"}; }

static KernelInfo pick_kernel() {
  switch (isa()) {
    case Isa::AVX512: return gemm_kernel_avx512();
    case Isa::AVX2: return gemm_kernel_avx2();
    case Isa::GENERIC: break;
  }
  return gemm_kernel_generic();
}

const char* gemm_kernel_name() { return pick_kernel().name; }

namespace {

constexpr int64_t kKC = 256;
constexpr int64_t kMCTarget = 120;
constexpr int64_t kNCTarget = 3072;

// 64-byte aligned growable scratch, one per thread.
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = ((n * sizeof(float)) + 63) & ~size_t(63);
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) fail(ErrorCode::E_OOM, "gemm: out of memory for a ", bytes, "-byte packing buffer");
      cap = n;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
thread_local Scratch t_apack, t_bpack;

template <class T>
inline float ld(const void* base, int64_t i) {
  return to_f32(static_cast<const T*>(base)[i]);
}

// A block rows [i0, i0+mc) x cols [k0, k0+kc) -> MR-row panels, k-major inside.
template <class T>
void pack_a(const GemmArgs& g, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* out) {
  for (int64_t ip = 0; ip < mc; ip += mr) {
    int rows = (int)std::min<int64_t>(mr, mc - ip);
    float* dst = out + ip * kc;
    for (int r = 0; r < mr; ++r) {
      if (r >= rows) {
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = 0.0f;
        continue;
      }
      int64_t base = (i0 + ip + r) * g.rsa + k0 * g.csa;
      if (g.csa == 1) {
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = ld<T>(g.A, base + k);
      } else {
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = ld<T>(g.A, base + k * g.csa);
      }
    }
  }
}

// B block rows [k0, k0+kc) x panels [p0, p1) of NR columns starting at col j0.
template <class T>
void pack_b(const GemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t ncols, int nr, int64_t p0, int64_t p1,
            float* out) {
  for (int64_t p = p0; p < p1; ++p) {
    int64_t jb = p * nr;
    int cols = (int)std::min<int64_t>(nr, ncols - jb);
    float* dst = out + p * nr * kc;
    for (int64_t k = 0; k < kc; ++k) {
      int64_t base = (k0 + k) * g.rsb + (j0 + jb) * g.csb;
      float* d = dst + k * nr;
      if (g.csb == 1) {
        for (int j = 0; j < cols; ++j) d[j] = ld<T>(g.B, base + j);
      } else {
        for (int j = 0; j < cols; ++j) d[j] = ld<T>(g.B, base + j * g.csb);
      }
      for (int j = cols; j < nr; ++j) d[j] = 0.0f;
    }
  }
}

template <class F>
void dispatch_pack(DType t, F&& f) {
  switch (t) {
    case DType::F32: f(float{}); return;
    case DType::F16: f(f16_t{}); return;
    case DType::BF16: f(bf16_t{}); return;
    default: fail(ErrorCode::E_DTYPE, "gemm: operands must be f32, f16 or bf16, got ", dtype_name(t));
  }
}

template <class Fn>
void for_range(bool par, int64_t n, int64_t grain, const Fn& fn) {
  if (par) parallel_for(n, grain, fn);
  else fn(0, n);
}

}  // namespace

void gemm(const GemmArgs& g) {
  ENGRAM_CHECK(g.M >= 0 && g.N >= 0 && g.K >= 0, SHAPE, "gemm: negative size");
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {
    for (int64_t i = 0; i < g.M; ++i)
      for (int64_t j = 0; j < g.N; ++j) g.C[i * g.rsc + j] = g.beta == 0.0f ? 0.0f : g.beta * g.C[i * g.rsc + j];
    return;
  }
  const KernelInfo ki = pick_kernel();
  const int mr = ki.mr, nr = ki.nr;
  const int64_t MC = std::max<int64_t>(mr, kMCTarget / mr * mr);
  const int64_t NC = std::max<int64_t>(nr, kNCTarget / nr * nr);
  const double flops = 2.0 * (double)g.M * (double)g.N * (double)g.K;
  const bool par = !in_parallel_region() && num_threads() > 1 && flops >= 2.0 * 48 * 48 * 48;
  const int nt = par ? num_threads() : 1;

  for (int64_t jc = 0; jc < g.N; jc += NC) {
    const int64_t nc = std::min(NC, g.N - jc);
    const int64_t npanels = (nc + nr - 1) / nr;
    for (int64_t pc = 0; pc < g.K; pc += kKC) {
      const int64_t kc = std::min(kKC, g.K - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;
      float* bp = t_bpack.get((size_t)(npanels * nr * kc));
      dispatch_pack(g.b_type, [&](auto tag) {
        using T = decltype(tag);
        for_range(par, npanels, 4, [&](int64_t p0, int64_t p1) { pack_b<T>(g, pc, kc, jc, nc, nr, p0, p1, bp); });
      });
      const int64_t mblocks = (g.M + MC - 1) / MC;
      const int64_t nslices = std::max<int64_t>(1, std::min<int64_t>(npanels, (2 * nt + mblocks - 1) / mblocks));
      for_range(par, mblocks * nslices, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t ib = t / nslices, s = t % nslices;
          const int64_t i0 = ib * MC, mc = std::min(MC, g.M - i0);
          float* ap = t_apack.get((size_t)(((mc + mr - 1) / mr) * mr * kc));
          dispatch_pack(g.a_type, [&](auto tag) {
            using T = decltype(tag);
            pack_a<T>(g, i0, mc, pc, kc, mr, ap);
          });
          const int64_t p0 = s * npanels / nslices, p1 = (s + 1) * npanels / nslices;
          alignas(64) float tile[16 * 64];
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t j = jc + p * nr;
            const int cols = (int)std::min<int64_t>(nr, g.N - j);
            const float* bpanel = bp + p * nr * kc;
            for (int64_t ir = 0; ir < mc; ir += mr) {
              const int rows = (int)std::min<int64_t>(mr, mc - ir);
              float* c = g.C + (i0 + ir) * g.rsc + j;
              const float* apanel = ap + ir * kc;
              if (rows == mr && cols == nr) {
                ki.fn(kc, apanel, bpanel, c, g.rsc, g.alpha, beta);
              } else {
                ki.fn(kc, apanel, bpanel, tile, nr, 1.0f, 0.0f);
                for (int r = 0; r < rows; ++r)
                  for (int q = 0; q < cols; ++q)
                    c[r * g.rsc + q] = beta == 0.0f ? g.alpha * tile[r * nr + q]
                                                    : g.alpha * tile[r * nr + q] + beta * c[r * g.rsc + q];
              }
            }
          }
        }
      });
    }
  }
}

void gemm_ref(const GemmArgs& g) {
  for (int64_t i = 0; i < g.M; ++i)
    for (int64_t j = 0; j < g.N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < g.K; ++k) {
        float a = 0, b = 0;
        dispatch_pack(g.a_type, [&](auto tag) { a = ld<decltype(tag)>(g.A, i * g.rsa + k * g.csa); });
        dispatch_pack(g.b_type, [&](auto tag) { b = ld<decltype(tag)>(g.B, k * g.rsb + j * g.csb); });
        acc += (double)a * (double)b;
      }
      float* c = g.C + i * g.rsc + j;
      *c = g.beta == 0.0f ? (float)(g.alpha * acc) : (float)(g.alpha * acc + g.beta * (double)*c);
    }
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = A;
  g.rsa = ta ? 1 : lda;
  g.csa = ta ? lda : 1;
  g.B = B;
  g.rsb = tb ? 1 : ldb;
  g.csb = tb ? ldb : 1;
  g.C = C;
  g.rsc = ldc;
  g.alpha = alpha;
  g.beta = beta;
  gemm(g);
}

}  // namespace cpu
}  // namespace engram
