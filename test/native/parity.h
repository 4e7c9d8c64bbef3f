// The parity harness: every op on every available backend against the CPU
// scalar reference (native/cpu/ops/*.cpp ref_*), with NaN-poisoned outputs,
// odd shapes and strided inputs. Case lists live in test/native/parity/*.cpp
// and register themselves with ENGRAM_PARITY_CASES.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engram/engine.h"

namespace engram {
namespace parity {

struct Case {
  std::string name;
  OpId op;
  std::vector<Tensor> in;  // CPU tensors (may be strided views)
  Attrs attrs;
  // Pass when for every output: nmse <= tol, where
  // nmse = sum (x - ref)^2 / max(sum ref^2, tiny). Integer outputs must match exactly.
  double tol = 1e-10;
  // Some ops may legitimately differ in which NaN bits they produce; compare NaN positions only.
};

using CaseFn = std::function<void(std::vector<Case>&)>;
int register_cases(const char* group, CaseFn fn);

#define ENGRAM_PARITY_CASES(group)                                              \
  static void group##_cases(std::vector<::engram::parity::Case>& cases);       \
  static int group##_registered = ::engram::parity::register_cases(#group, group##_cases); \
  static void group##_cases(std::vector<::engram::parity::Case>& cases)

// ---- helpers for building inputs ----
Tensor rnd(const Dims& shape, uint64_t seed, DType dt = DType::F32, float scale = 1.0f, float shift = 0.0f);
// A strided (non-contiguous) view with the given logical shape: the data live
// in a larger buffer with the last two axes swapped and a padding column.
Tensor strided(const Dims& shape, uint64_t seed, DType dt = DType::F32);
Tensor ints(const Dims& shape, int lo, int hi, uint64_t seed);
// Default tolerance for a dtype (f32 1e-10, f16 1e-5, bf16 1e-4 nmse).
double tol_for(DType dt);

// The "cuda-emu" pass (parity/cuda_emu.cpp): runs the CUDA token-loop body of
// c.op on a CPU-emulated thread block into c's (CPU) outputs; false when the
// op has none.
bool run_cuda_emulation(OpCall& c);

}  // namespace parity
}  // namespace engram
