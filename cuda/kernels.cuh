// CUDA kernel dispatch: kernel_for(call) returns the launcher for an op and
// its dtypes, or nullptr (unsupported: E_UNSUPPORTED for users, skipped by
// the parity harness). One launcher per op file in cuda/ops/.
#pragma once
#include "engram/engine.h"

namespace engram {
namespace cuda {

using Kernel = void (*)(OpCall&);
Kernel kernel_for(const OpCall& call);

// Launchers (cuda/ops/<op>.cu). Outputs are allocated and contiguous; inputs
// may be strided views. Each runs asynchronously on cuda::stream() except
// gather, which reads back its index check.
void launch_matmul(OpCall& c);
void launch_binary(OpCall& c);
void launch_unary(OpCall& c);
void launch_softmax(OpCall& c);
void launch_norm(OpCall& c);
void launch_reduce(OpCall& c);
void launch_scan(OpCall& c);
void launch_copy(OpCall& c);
void launch_cast(OpCall& c);
void launch_gather(OpCall& c);
void launch_sdpa(OpCall& c);
// sdpa keeps a tile of Q, K, V and O in shared memory: false when even the
// smallest tile of these head dims does not fit the device.
bool sdpa_supported(const OpCall& c);

// Contiguous copy of X into O (same shape and dtype, O contiguous), async.
void copy_into(const Tensor& X, const Tensor& O);

// model-building ops (cuda/ops/{concat,causal_conv1d,rope,sdpa_window}.cu)
void launch_concat(OpCall& c);
void launch_causal_conv1d(OpCall& c);
void launch_rope(OpCall& c);
void launch_sdpa_window(OpCall& c);
bool sdpa_window_supported(const OpCall& c);

}  // namespace cuda
}  // namespace engram
