// CUDA kernel dispatch: kernel_for(call) returns the launcher for an op and
// its dtypes, or nullptr (unsupported: E_UNSUPPORTED for users, skipped by
// the parity harness). One launcher per op file in cuda/ops/.
#pragma once
#include "engram/engine.h"

namespace engram {
namespace cuda {

using Kernel = void (*)(OpCall&);
Kernel kernel_for(const OpCall& call);

// cuda/ops/*.cu launchers
void launch_concat(OpCall& c);
void launch_causal_conv1d(OpCall& c);
void launch_rope(OpCall& c);
void launch_sdpa_window(OpCall& c);
bool sdpa_window_supported(const OpCall& c);

}  // namespace cuda
}  // namespace engram
