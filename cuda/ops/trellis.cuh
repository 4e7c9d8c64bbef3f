// The trellis op on the GPU (cuda/ops/trellis.cu): launcher and its limits
// (kernel_for returns nullptr outside them: E_UNSUPPORTED).
#pragma once
#include "engram/engine.h"

namespace engram {
namespace cuda {

void trellis_cuda(OpCall& c);
bool trellis_cuda_ok(const OpCall& c);

}  // namespace cuda
}  // namespace engram
