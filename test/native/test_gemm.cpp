// Direct checks of cpu::gemm (every ISA kernel this CPU runs: avx512, avx2,
// generic) against a double-precision dot product per element:
//   build/test_gemm [--verbose]
// Covers the direct path (small, thin), the dot path (x W^T), the blocked
// path (K > KC, N > NC),
// the threaded partition, row-/column-major and general strides for A and B,
// f32/f16/bf16 operands, alpha/beta (beta == 0 must not read C: it holds NaN),
// and a C row stride wider than N (padding must stay untouched).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/gemm.h"
#include "engram/dtype.h"
#include "engram/philox.h"
#include "engram/threadpool.h"

using namespace engram;

namespace {

bool g_verbose = false;
int g_passed = 0, g_failed = 0;

// A logical R x C operand in dtype t with layout 0 row-major (padded rows),
// 1 column-major (padded columns), 2 general strides (neither unit).
struct Operand {
  DType t;
  int64_t rs, cs;
  std::vector<uint16_t> h;
  std::vector<float> f;
  const void* ptr() const { return t == DType::F32 ? (const void*)f.data() : (const void*)h.data(); }
  float at(int64_t r, int64_t c) const {
    int64_t i = r * rs + c * cs;
    if (t == DType::F32) return f[(size_t)i];
    return t == DType::F16 ? f16_to_f32(h[(size_t)i]) : bf16_to_f32(h[(size_t)i]);
  }
};

Operand make(int64_t R, int64_t C, DType t, int layout, uint64_t seed) {
  Operand o;
  o.t = t;
  if (layout == 0) o.rs = C + 3, o.cs = 1;
  else if (layout == 1) o.rs = 1, o.cs = R + 5;
  else o.rs = 2 * C + 1, o.cs = 2;
  const int64_t n = (R - 1) * o.rs + (C - 1) * o.cs + 1;
  o.f.assign((size_t)n, 0.0f);
  o.h.assign((size_t)n, 0);
  for (int64_t i = 0; i < n; ++i) {
    float v = philox_uniform(seed, (uint64_t)i) * 2.0f - 1.0f;
    if (t == DType::F32) o.f[(size_t)i] = v;
    else o.h[(size_t)i] = t == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
  }
  return o;
}

const char* lay(int l) { return l == 0 ? "row" : (l == 1 ? "col" : "gen"); }

void run_case(const std::string& isa, int64_t M, int64_t N, int64_t K, DType ta, int la, DType tb, int lb,
              float alpha, float beta, bool nested, bool sample) {
  static uint64_t seed = 1;
  Operand A = make(M, K, ta, la, seed++), B = make(K, N, tb, lb, seed++);
  const int64_t rsc = N + 3;
  std::vector<float> C((size_t)(M * rsc)), C0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < rsc; ++j)
      C[(size_t)(i * rsc + j)] = j >= N ? 12345.0f : (beta == 0.0f ? NAN : philox_uniform(seed, (uint64_t)(i * rsc + j)));
  seed++;
  C0 = C;
  cpu::GemmArgs g;
  g.M = M, g.N = N, g.K = K;
  g.A = A.ptr(), g.a_type = ta, g.rsa = A.rs, g.csa = A.cs;
  g.B = B.ptr(), g.b_type = tb, g.rsb = B.rs, g.csb = B.cs;
  g.C = C.data(), g.rsc = rsc, g.alpha = alpha, g.beta = beta;
  if (nested) parallel_for(1, 1, [&](int64_t, int64_t) { cpu::gemm(g); });
  else cpu::gemm(g);

  std::vector<int64_t> rows, cols;
  auto pick = [&](int64_t n, std::vector<int64_t>& v) {
    for (int64_t x = 0; x < n; ++x)
      if (!sample || x < 2 || x > n - 3 || x % 97 == 11 || x % 12 == 0 || x % 32 == 31) v.push_back(x);
  };
  pick(M, rows);
  pick(N, cols);
  int64_t bad = 0;
  double worst = 0;
  for (int64_t i : rows)
    for (int64_t j : cols) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        double p = (double)A.at(i, k) * (double)B.at(k, j);
        acc += p;
        mag += std::fabs(p);
      }
      const double c0 = beta == 0.0f ? 0.0 : C0[(size_t)(i * rsc + j)];
      const double want = beta == 0.0f ? alpha * acc : alpha * acc + beta * c0;
      const double bound = (K + 4) * 1.2e-7 * (std::fabs(alpha) * mag + std::fabs(beta * c0)) + 1e-30;
      const double got = C[(size_t)(i * rsc + j)];
      const double err = std::fabs(got - want) / bound;
      if (!(err <= 1.0)) ++bad;
      if (err > worst || std::isnan(err)) worst = err;
    }
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < rsc; ++j)
      if (C[(size_t)(i * rsc + j)] != 12345.0f) ++bad;
  char name[200];
  std::snprintf(name, sizeof name, "%s %lldx%lldx%lld A %s/%s B %s/%s alpha %g beta %g%s", isa.c_str(), (long long)M,
                (long long)N, (long long)K, dtype_name(ta), lay(la), dtype_name(tb), lay(lb), alpha, beta,
                nested ? " nested" : "");
  if (bad) {
    ++g_failed;
    std::printf("FAIL %s: %lld bad elements (worst err/bound %.3g)\n", name, (long long)bad, worst);
  } else {
    ++g_passed;
    if (g_verbose) std::printf("ok   %s (err/bound %.2g)\n", name, worst);
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--verbose")) g_verbose = true;
  const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-1.5f, 0.25f}};
  const int64_t small[][3] = {{1, 1, 1}, {5, 7, 3}, {12, 32, 64}, {13, 33, 65}, {64, 64, 64}, {63, 65, 17}, {100, 40, 129}};
  const DType F32 = DType::F32, F16 = DType::F16, BF16 = DType::BF16;
  for (cpu::Isa want : {cpu::Isa::AVX512, cpu::Isa::AVX2, cpu::Isa::GENERIC}) {
    cpu::set_isa(want);
    if (cpu::isa() != want) {
      std::printf("isa %s: not supported here, skipped\n", cpu::isa_name(want));
      continue;
    }
    const std::string isa = cpu::isa_name(want);
    std::printf("isa %s: kernel %s\n", isa.c_str(), cpu::gemm_kernel_name());
    int v = 0;
    for (auto& s : small)
      for (int la = 0; la < 3; ++la)
        for (int lb = 0; lb < 3; ++lb, ++v)
          run_case(isa, s[0], s[1], s[2], F32, la, F32, lb, ab[v % 3][0], ab[v % 3][1], v % 2, false);
    for (auto& s : {small[3], small[4]})
      for (DType ta : {F16, BF16, F32})
        for (DType tb : {F16, BF16, F32})
          for (int l = 0; l < 2; ++l, ++v)
            run_case(isa, s[0], s[1], s[2], ta, l, tb, 1 - l, ab[v % 3][0], ab[v % 3][1], false, false);
    // Thin (few rows, B read in place) and blocked (K > KC, N > NC, threaded).
    for (int l = 0; l < 2; ++l) {
      run_case(isa, 3, 700, 300, F32, l, F32, 0, 1.0f, 0.0f, false, false);
      run_case(isa, 1, 1000, 50, F32, 0, F32, l, 0.5f, 1.0f, false, false);
    }
    // Few rows against a transposed B (dot path), odd K tails.
    run_case(isa, 1, 1000, 300, F32, 0, F32, 1, 1.0f, 0.0f, false, false);
    run_case(isa, 3, 257, 64, F32, 0, F32, 1, 0.5f, 1.0f, true, false);
    run_case(isa, 4, 33, 1001, F32, 0, F32, 1, -1.5f, 0.25f, false, false);
    run_case(isa, 2, 5, 77, F32, 0, F32, 1, 1.0f, 0.0f, false, false);
    for (int la = 0; la < 2; ++la)
      for (int lb = 0; lb < 2; ++lb, ++v) {
        run_case(isa, 150, 2100, 300, F32, la, F32, lb, ab[v % 3][0], ab[v % 3][1], false, true);
        run_case(isa, 300, 200, 530, F32, la, F32, lb, ab[v % 3][0], ab[v % 3][1], v % 2, true);
      }
    run_case(isa, 300, 200, 530, F16, 0, BF16, 1, 1.0f, 0.0f, false, true);
    run_case(isa, 97, 131, 260, BF16, 2, F32, 2, -1.5f, 0.25f, false, true);
  }
  std::printf("gemm: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
