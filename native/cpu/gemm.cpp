// GEMM driver. The paths share the ISA micro-kernels (gemm_avx512.cpp,
// gemm_avx2.cpp, generic below; contract in gemm_kernels.h):
//  * direct: problems that fit in L2 (the 64x64 / 128x128 GEMMs of the memory
//    kernels) and thin ones (few rows). f32 operands with a unit stride are
//    read in place: no packing, no copies; only f16/bf16 or transposed-B
//    operands are packed (once, whole). Tiles run in parallel when threaded.
//  * blocked (BLIS loops, one thread): B packed into kc x NR panels, A into
//    MC x kc blocks of MR-row panels; f16/bf16 converted while packing
//    (F16C / AVX-512 where available), transposed operands packed with
//    in-register transposes.
//  * dot: x W^T with at most 4 rows (unit stride along k on both sides).
//  * partitioned: large threaded problems are cut into one independent
//    blocked sub-GEMM per thread (no barriers, no shared buffers).
// Edge tiles use row-count-specialised kernels and masked stores, so no
// scratch tile; packing buffers are per-thread and only grow.
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cpu_common.h"
#include "cpu_features.h"
#include "engram/threadpool.h"
#include "gemm_kernels.h"

namespace engram {
namespace cpu {

// ---- generic micro-kernel, 4 x 8: SSE2 (the x86-64 baseline) where the
// compiler targets it, plain C otherwise ----
static void ukr_generic(const UkrTile& t) {
  float acc[4][8];
  const float* a = t.a;
  const float* b = t.b;
  const int m = t.m;
  const int64_t ars = t.a_rs;
#if defined(__SSE2__)
  __m128 c[4][2];
  for (int r = 0; r < 4; ++r) c[r][0] = c[r][1] = _mm_setzero_ps();
  for (int64_t k = 0; k < t.kc; ++k) {
    const __m128 b0 = _mm_loadu_ps(b), b1 = _mm_loadu_ps(b + 4);
    for (int r = 0; r < 4; ++r) {
      const __m128 av = _mm_set1_ps(r < m ? a[r * ars] : 0.0f);
      c[r][0] = _mm_add_ps(c[r][0], _mm_mul_ps(av, b0));
      c[r][1] = _mm_add_ps(c[r][1], _mm_mul_ps(av, b1));
    }
    a += t.a_ks;
    b += t.b_ks;
  }
  for (int r = 0; r < 4; ++r) {
    _mm_storeu_ps(acc[r], c[r][0]);
    _mm_storeu_ps(acc[r] + 4, c[r][1]);
  }
#else
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 8; ++j) acc[r][j] = 0.0f;
  for (int64_t k = 0; k < t.kc; ++k) {
    for (int r = 0; r < m; ++r) {
      const float av = a[r * ars];
      for (int j = 0; j < 8; ++j) acc[r][j] += av * b[j];
    }
    a += t.a_ks;
    b += t.b_ks;
  }
#endif
  for (int r = 0; r < m; ++r) {
    float* cr = t.c + r * t.rsc;
    for (int j = 0; j < t.n; ++j) cr[j] = t.beta == 0.0f ? t.alpha * acc[r][j] : t.alpha * acc[r][j] + t.beta * cr[j];
  }
}

void convert_f16_generic(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
void convert_bf16_generic(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void transpose_generic(int dtype, const void* src, int64_t ld, int rows, int64_t cols, float* dst, int64_t dld,
                       int lanes) {
  for (int64_t c = 0; c < cols; ++c)
    for (int r = 0; r < lanes; ++r) {
      float v = 0.0f;
      if (r < rows) {
        const int64_t i = r * ld + c;
        v = dtype == 0   ? static_cast<const float*>(src)[i]
            : dtype == 1 ? f16_to_f32(static_cast<const uint16_t*>(src)[i])
                         : bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      }
      dst[c * dld + r] = v;
    }
}

void dot_generic(int m, int64_t n, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                 int64_t rsc, float alpha, float beta) {
  for (int64_t j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      const float* a = A + i * lda;
      const float* b = B + j * ldb;
      float part[8] = {};
      int64_t k = 0;
      for (; k + 8 <= K; k += 8)
        for (int q = 0; q < 8; ++q) part[q] += a[k + q] * b[k + q];
      for (; k < K; ++k) part[0] += a[k] * b[k];
      const float d = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      float* c = C + i * rsc + j;
      *c = beta == 0.0f ? alpha * d : alpha * d + beta * *c;
    }
}

KernelInfo gemm_kernel_generic() {
  return {ukr_generic,          4, 8, "generic 4x8", 256, 64, 1024, convert_f16_generic, convert_bf16_generic,
          transpose_generic, 8,  dot_generic};
}

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

// Problems whose operands and result fit in this many bytes take the direct path.
constexpr int64_t kDirectBytes = 448 * 1024;
// Threaded only from this many flops (a parallel region costs a few us).
constexpr double kParFlops = 2.0 * 80 * 80 * 80;

// 64-byte aligned growable scratch, one per thread.
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = nullptr;
      cap = 0;
      size_t bytes = ((n * sizeof(float)) + 63) & ~size_t(63);
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) fail(ErrorCode::E_OOM, "gemm: out of memory for a ", bytes, "-byte packing buffer");
      cap = n;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
thread_local Scratch t_apack, t_bpack, t_run;

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int dcode(DType t) { return t == DType::F32 ? 0 : (t == DType::F16 ? 1 : 2); }
const void* elem_ptr(const void* base, DType t, int64_t off) {
  return static_cast<const char*>(base) + off * (int64_t)elem_size(t);
}

// n elements of operand `base` (dtype t) at element offset off, step stride -> f32.
// Returns a pointer to them: in place for unit-stride f32, else converted into `tmp`.
const float* load_run(const KernelInfo& ki, DType t, const void* base, int64_t off, int64_t stride, int64_t n,
                      float* tmp) {
  if (t == DType::F32) {
    const float* s = static_cast<const float*>(base) + off;
    if (stride == 1) return s;
    for (int64_t i = 0; i < n; ++i) tmp[i] = s[i * stride];
    return tmp;
  }
  const uint16_t* s = static_cast<const uint16_t*>(base) + off;
  if (stride == 1) {
    (t == DType::F16 ? ki.f16 : ki.bf16)(s, tmp, n);
    return tmp;
  }
  if (t == DType::F16)
    for (int64_t i = 0; i < n; ++i) tmp[i] = f16_to_f32(s[i * stride]);
  else
    for (int64_t i = 0; i < n; ++i) tmp[i] = bf16_to_f32(s[i * stride]);
  return tmp;
}

void check_operand_type(DType t, const char* which) {
  ENGRAM_CHECK(t == DType::F32 || t == DType::F16 || t == DType::BF16, DTYPE, "gemm: operand ", which,
               " must be f32, f16 or bf16, got ", dtype_name(t));
}

// A rows [i0, i0+mc) x cols [k0, k0+kc) -> MR-row panels, k-major inside
// (panel ip at out + ip*kc, element (r, k) at [k*mr + r]). Rows past mc are
// zero or unwritten: the kernels never read them.
void pack_a(const KernelInfo& ki, const GemmArgs& g, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* out) {
  const int mr = ki.mr;
  float* tmp = t_run.get((size_t)std::max<int64_t>(kc, mr));
  for (int64_t ip = 0; ip < mc; ip += mr) {
    const int rows = (int)std::min<int64_t>(mr, mc - ip);
    float* dst = out + ip * kc;
    if (g.rsa == 1 && g.csa != 1) {  // column-major: each k is a contiguous run of rows
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = load_run(ki, g.a_type, g.A, (i0 + ip) + (k0 + k) * g.csa, 1, rows, tmp);
        std::memcpy(dst + k * mr, s, sizeof(float) * (size_t)rows);
      }
    } else if (g.csa == 1 && mr <= ki.tw) {  // row-major: transpose MR rows into the panel
      ki.transpose(dcode(g.a_type), elem_ptr(g.A, g.a_type, (i0 + ip) * g.rsa + k0), g.rsa, rows, kc, dst, mr, mr);
    } else {
      for (int r = 0; r < rows; ++r) {
        const float* s = load_run(ki, g.a_type, g.A, (i0 + ip + r) * g.rsa + k0 * g.csa, g.csa, kc, tmp);
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = s[k];
      }
    }
  }
}

// B rows [k0, k0+kc) x NR-column panels [p0, p1) of the columns [j0, j0+ncols)
// -> panel p at out + p*nr*kc, element (k, j) at [k*nr + j], zero-padded.
void pack_b(const KernelInfo& ki, const GemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t ncols, int64_t p0,
            int64_t p1, float* out) {
  const int nr = ki.nr;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t jb = j0 + p * nr;
    const int cols = (int)std::min<int64_t>(nr, ncols - p * nr);
    float* dst = out + p * nr * kc;
    if (g.csb == 1 || g.rsb != 1) {  // row runs
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * nr;
        const float* s = load_run(ki, g.b_type, g.B, (k0 + k) * g.rsb + jb * g.csb, g.csb, cols, d);
        if (s != d) std::memcpy(d, s, sizeof(float) * (size_t)cols);
        for (int j = cols; j < nr; ++j) d[j] = 0.0f;
      }
    } else {  // transposed B: columns are contiguous runs over k; transpose W at a time
      for (int h = 0; h < nr; h += ki.tw) {
        const int rows = std::max(0, std::min(ki.tw, cols - h));
        ki.transpose(dcode(g.b_type), elem_ptr(g.B, g.b_type, k0 + (jb + h) * g.csb), g.csb, rows, kc, dst + h, nr,
                     ki.tw);
      }
    }
  }
}

template <class Fn>
void for_range(bool par, int64_t n, int64_t grain, const Fn& fn) {
  if (par) parallel_for(n, grain, fn);
  else fn(0, n);
}

// Small / thin problems: operands in place where possible, whole-K tiles.
void run_direct(const GemmArgs& g, const KernelInfo& ki, bool par) {
  const int mr = ki.mr, nr = ki.nr;
  const int64_t M = g.M, N = g.N, K = g.K;
  const int64_t nI = cdiv(M, mr), nJ = cdiv(N, nr);

  // A: in place (row- or column-major f32) or packed whole.
  const float* a = nullptr;
  int64_t a_rs = 0, a_ks = 0, a_tile = 0;  // a_tile: offset between row tiles
  if (g.a_type == DType::F32 && (g.csa == 1 || g.rsa == 1)) {
    a = static_cast<const float*>(g.A);
    a_rs = g.rsa;
    a_ks = g.csa;
    a_tile = mr * g.rsa;
  } else {
    float* ap = t_apack.get((size_t)(nI * mr * K));
    pack_a(ki, g, 0, M, 0, K, ap);
    a = ap;
    a_rs = 1;
    a_ks = mr;
    a_tile = mr * K;
  }
  // B: in place (row-major f32; the partial last panel is packed) or packed whole.
  const bool b_direct = g.b_type == DType::F32 && g.csb == 1;
  const float* bp = nullptr;
  float* bedge = nullptr;
  if (!b_direct) {
    float* p = t_bpack.get((size_t)(nJ * nr * K));
    pack_b(ki, g, 0, K, 0, N, 0, nJ, p);
    bp = p;
  } else if (N % nr) {
    bedge = t_bpack.get((size_t)(nr * K));
    pack_b(ki, g, 0, K, (nJ - 1) * nr, N - (nJ - 1) * nr, 0, 1, bedge);
  }
  auto tile = [&](int64_t ir, int64_t jr) {
    UkrTile t;
    t.kc = K;
    t.a = a + ir * a_tile;
    t.a_rs = a_rs;
    t.a_ks = a_ks;
    if (!b_direct) {
      t.b = bp + jr * nr * K;
      t.b_ks = nr;
    } else if (bedge && jr == nJ - 1) {
      t.b = bedge;
      t.b_ks = nr;
    } else {
      t.b = static_cast<const float*>(g.B) + jr * nr;
      t.b_ks = g.rsb;
    }
    t.c = g.C + ir * mr * g.rsc + jr * nr;
    t.rsc = g.rsc;
    t.m = (int)std::min<int64_t>(mr, M - ir * mr);
    t.n = (int)std::min<int64_t>(nr, N - jr * nr);
    t.alpha = g.alpha;
    t.beta = g.beta;
    ki.fn(t);
  };
  // Column panels outer: one B panel serves every row tile from L1/L2.
  for_range(par, nI * nJ, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t q = t0; q < t1; ++q) tile(q % nI, q / nI);
  });
}

// x W^T: at most 4 rows of A against a transposed B, both contiguous along k:
// dot products read straight from the operands (packing B would cost as
// much as the product).
void run_dot(const GemmArgs& g, const KernelInfo& ki, bool par) {
  const float* A = static_cast<const float*>(g.A);
  const float* B = static_cast<const float*>(g.B);
  for_range(par, g.N, 64, [&](int64_t j0, int64_t j1) {
    ki.dot((int)g.M, j1 - j0, g.K, A, g.rsa, B + j0 * g.csb, g.csb, g.C + j0, g.rsc, g.alpha, g.beta);
  });
}

// Large problems, one thread: BLIS loops jc (NC) > pc (KC) > ic (MC) > jr (NR) > ir (MR).
// The packed B block (kc x nc) is streamed panel by panel; each kc x NR panel
// serves all MR-row panels of the packed A block (mc x kc, in L2).
void run_blocked(const GemmArgs& g, const KernelInfo& ki) {
  const int mr = ki.mr, nr = ki.nr;
  const int64_t M = g.M, N = g.N, K = g.K;
  const int64_t KC = ki.kc, NC = std::max<int64_t>(nr, ki.nc / nr * nr);
  const int64_t MCmax = std::max<int64_t>(mr, ki.mc / mr * mr);
  // Equal row blocks (in MR-row panels) of at most MCmax rows.
  const int64_t panels = cdiv(M, mr), nIb = cdiv(M, MCmax);
  float* ap = t_apack.get((size_t)(std::min(panels, cdiv(panels, nIb) + 1) * mr * std::min(K, KC)));
  float* bp = t_bpack.get((size_t)(cdiv(std::min(N, NC), nr) * nr * std::min(K, KC)));
  UkrTile t;
  t.a_rs = 1;
  t.a_ks = mr;
  t.b_ks = nr;
  t.rsc = g.rsc;
  t.alpha = g.alpha;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t npanels = cdiv(nc, nr);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      pack_b(ki, g, pc, kc, jc, nc, 0, npanels, bp);
      t.kc = kc;
      t.beta = pc == 0 ? g.beta : 1.0f;
      for (int64_t ib = 0; ib < nIb; ++ib) {
        const int64_t i0 = ib * panels / nIb * mr, i1 = std::min(M, (ib + 1) * panels / nIb * mr);
        const int64_t mc = i1 - i0;
        pack_a(ki, g, i0, mc, pc, kc, ap);
        for (int64_t p = 0; p < npanels; ++p) {
          t.b = bp + p * nr * kc;
          t.n = (int)std::min<int64_t>(nr, nc - p * nr);
          for (int64_t ir = 0; ir < mc; ir += mr) {
            t.a = ap + ir * kc;
            t.m = (int)std::min<int64_t>(mr, mc - ir);
            t.c = g.C + (i0 + ir) * g.rsc + jc + p * nr;
            ki.fn(t);
          }
        }
      }
    }
  }
}

// Threaded large problems: C is cut into a pr x pc grid of independent
// sub-GEMMs, one per thread, each packing its own operands (no shared
// buffers; the redundant packing, B pr times and A pc times, costs about
// 8 pr / M of the run time and the grid minimises it). One parallel region
// per KC slice of K, so the pool is released every few ms for other callers
// (the JS thread's own small ops wait for it otherwise).
void run_partitioned(const GemmArgs& g, const KernelInfo& ki, int nt) {
  int best_pr = nt;
  double best = 1e300;
  for (int pr = 1; pr <= nt; ++pr) {
    if (nt % pr) continue;
    const int pcn = nt / pr;
    const double rows = (double)g.M / pr, cols = (double)g.N / pcn;
    // Packing cost plus a penalty for parts narrower than a few tiles.
    double cost = (double)pcn * g.M + (double)pr * g.N;
    if (rows < 4.0 * ki.mr) cost *= 4.0 * ki.mr / rows;
    if (cols < 4.0 * ki.nr) cost *= 4.0 * ki.nr / cols;
    if (cost < best) {
      best = cost;
      best_pr = pr;
    }
  }
  for (int64_t pc = 0; pc < g.K; pc += ki.kc) {
    parallel_tasks(nt, [&](int t, int ntasks) {
      const int pr = ntasks == nt ? best_pr : ntasks, pcn = ntasks / pr;
      const int r = t / pcn, q = t % pcn;
      const int64_t rp = cdiv(g.M, ki.mr), cp = cdiv(g.N, ki.nr);
      const int64_t i0 = std::min(g.M, r * rp / pr * ki.mr), i1 = std::min(g.M, (r + 1) * rp / pr * ki.mr);
      const int64_t j0 = std::min(g.N, q * cp / pcn * ki.nr), j1 = std::min(g.N, (q + 1) * cp / pcn * ki.nr);
      if (i1 <= i0 || j1 <= j0) return;
      GemmArgs s = g;
      s.M = i1 - i0;
      s.N = j1 - j0;
      s.K = std::min(ki.kc, g.K - pc);
      s.A = elem_ptr(g.A, g.a_type, i0 * g.rsa + pc * g.csa);
      s.B = elem_ptr(g.B, g.b_type, pc * g.rsb + j0 * g.csb);
      s.C = g.C + i0 * g.rsc + j0;
      if (pc > 0) s.beta = 1.0f;
      run_blocked(s, ki);
    });
  }
}

}  // namespace

void gemm(const GemmArgs& g) {
  ENGRAM_CHECK(g.M >= 0 && g.N >= 0 && g.K >= 0, SHAPE, "gemm: negative size");
  check_operand_type(g.a_type, "A");
  check_operand_type(g.b_type, "B");
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {
    for (int64_t i = 0; i < g.M; ++i)
      for (int64_t j = 0; j < g.N; ++j) g.C[i * g.rsc + j] = g.beta == 0.0f ? 0.0f : g.beta * g.C[i * g.rsc + j];
    return;
  }
  const KernelInfo ki = pick_kernel();
  const double flops = 2.0 * (double)g.M * (double)g.N * (double)g.K;
  const bool par = !in_parallel_region() && num_threads() > 1 && flops >= kParFlops;
  const int64_t bytes = 4 * (g.M * g.K + g.K * g.N + g.M * g.N);
  // Few rows: every B element is used at most 2*MR times, packing it would cost as much as the product.
  const bool thin = g.M <= 2 * ki.mr && g.b_type == DType::F32 && g.csb == 1;
  const bool dots = g.M <= 4 && g.K >= 64 && g.a_type == DType::F32 && g.b_type == DType::F32 && g.csa == 1 &&
                    g.rsb == 1 && g.csb != 1;
  if (dots) run_dot(g, ki, par);
  else if (bytes <= kDirectBytes || thin) run_direct(g, ki, par);
  else if (par) run_partitioned(g, ki, num_threads());
  else run_blocked(g, ki);
}

void gemm_ref(const GemmArgs& g) {
  check_operand_type(g.a_type, "A");
  check_operand_type(g.b_type, "B");
  auto ld = [](DType t, const void* base, int64_t i) -> float {
    switch (t) {
      case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
      case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
      default: return static_cast<const float*>(base)[i];
    }
  };
  for (int64_t i = 0; i < g.M; ++i)
    for (int64_t j = 0; j < g.N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < g.K; ++k)
        acc += (double)ld(g.a_type, g.A, i * g.rsa + k * g.csa) * (double)ld(g.b_type, g.B, k * g.rsb + j * g.csb);
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
