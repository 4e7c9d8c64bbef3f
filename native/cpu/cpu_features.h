// Runtime CPU feature detection and the kernel family picked at load time.
// ENGRAM_ISA=generic|avx2|avx512 caps the choice (tests and benchmarks use it
// to compare paths on one machine).
#pragma once
#include <string>
#include <vector>

namespace engram {
namespace cpu {

enum class Isa { GENERIC = 0, AVX2 = 1, AVX512 = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512bw = false, avx512vl = false,
       avx512dq = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
Isa isa();  // best supported, capped by ENGRAM_ISA
void set_isa(Isa isa);  // clamps to what the CPU supports (tests)
const char* isa_name(Isa isa);
std::vector<std::string> feature_list();

}  // namespace cpu
}  // namespace engram
