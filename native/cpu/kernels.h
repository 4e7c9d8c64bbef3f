// CPU kernels: for every op a fast kernel cpu_<op> and a readable scalar
// reference ref_<op>, both in native/cpu/ops/<op>.cpp. Families of ops share
// one kernel (binary, unary, reduce, scan, norm).
#pragma once
#include "engram/engine.h"

namespace engram {
namespace cpu {

using Kernel = void (*)(OpCall&);

#define ENGRAM_CPU_KERNEL(name) \
  void cpu_##name(OpCall& c);   \
  void ref_##name(OpCall& c);
ENGRAM_CPU_KERNEL(matmul)
ENGRAM_CPU_KERNEL(binary)
ENGRAM_CPU_KERNEL(unary)
ENGRAM_CPU_KERNEL(softmax)
ENGRAM_CPU_KERNEL(norm)
ENGRAM_CPU_KERNEL(reduce)
ENGRAM_CPU_KERNEL(scan)
ENGRAM_CPU_KERNEL(copy)
ENGRAM_CPU_KERNEL(cast)
ENGRAM_CPU_KERNEL(gather)
ENGRAM_CPU_KERNEL(sdpa)
ENGRAM_CPU_KERNEL(concat)
ENGRAM_CPU_KERNEL(causal_conv1d)
ENGRAM_CPU_KERNEL(rope)
ENGRAM_CPU_KERNEL(sdpa_window)
ENGRAM_CPU_KERNEL(gated_delta_rule)
ENGRAM_CPU_KERNEL(titans_linear)
ENGRAM_CPU_KERNEL(titans_mlp)
ENGRAM_CPU_KERNEL(ttt_linear)
ENGRAM_CPU_KERNEL(ttt_mlp)
ENGRAM_CPU_KERNEL(trellis)
ENGRAM_CPU_KERNEL(tnt)
#undef ENGRAM_CPU_KERNEL

// Reference dispatch (the parity harness runs every op through it).
void run_reference(OpCall& c);

}  // namespace cpu
}  // namespace engram
