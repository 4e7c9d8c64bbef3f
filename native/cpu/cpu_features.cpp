#include "cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace engram {
namespace cpu {

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

static Isa best() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma && f.f16c) return Isa::AVX512;
  if (f.avx2 && f.fma && f.f16c) return Isa::AVX2;
  return Isa::GENERIC;
}

static Isa initial() {
  Isa b = best();
  if (const char* e = std::getenv("ENGRAM_ISA")) {
    Isa want = b;
    if (!std::strcmp(e, "generic")) want = Isa::GENERIC;
    else if (!std::strcmp(e, "avx2")) want = Isa::AVX2;
    else if (!std::strcmp(e, "avx512")) want = Isa::AVX512;
    if ((int)want < (int)b) b = want;
  }
  return b;
}

static std::atomic<int> g_isa{(int)initial()};

Isa isa() { return (Isa)g_isa.load(std::memory_order_relaxed); }
void set_isa(Isa want) {
  Isa b = best();
  g_isa = (int)((int)want < (int)b ? want : b);
}

const char* isa_name(Isa i) {
  switch (i) {
    case Isa::GENERIC: return "generic";
    case Isa::AVX2: return "avx2+fma";
    case Isa::AVX512: return "avx512";
  }
  return "?";
}

std::vector<std::string> feature_list() {
  const CpuFeatures& f = cpu_features();
  std::vector<std::string> v;
  if (f.avx2) v.push_back("avx2");
  if (f.fma) v.push_back("fma");
  if (f.f16c) v.push_back("f16c");
  if (f.avx512f) v.push_back("avx512f");
  if (f.avx512bw) v.push_back("avx512bw");
  if (f.avx512vl) v.push_back("avx512vl");
  if (f.avx512dq) v.push_back("avx512dq");
  if (f.avx512bf16) v.push_back("avx512bf16");
  return v;
}

}  // namespace cpu
}  // namespace engram
