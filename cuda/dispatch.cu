// Op -> CUDA launcher. No default case: a new op must be listed here (nullptr
// when the CUDA kernel does not exist yet).
#include "kernels.cuh"

namespace engram {
namespace cuda {

Kernel kernel_for(const OpCall& call) {
  switch (call.op) {
    case OpId::MATMUL:
    case OpId::ADD:
    case OpId::SUB:
    case OpId::MUL:
    case OpId::DIV:
    case OpId::SCALE:
    case OpId::NEG:
    case OpId::ABS:
    case OpId::SQRT:
    case OpId::EXP:
    case OpId::LOG:
    case OpId::SIGMOID:
    case OpId::SILU:
    case OpId::GELU:
    case OpId::TANH:
    case OpId::RELU:
    case OpId::SOFTPLUS:
    case OpId::SOFTMAX:
    case OpId::RMS_NORM:
    case OpId::LAYER_NORM:
    case OpId::SUM:
    case OpId::MEAN:
    case OpId::MAX:
    case OpId::CUMSUM:
    case OpId::LOGCUMSUMEXP:
    case OpId::COPY:
    case OpId::CAST:
    case OpId::GATHER:
    case OpId::SDPA:
      return nullptr;
    case OpId::CONCAT: return launch_concat;
    case OpId::CAUSAL_CONV1D: return launch_causal_conv1d;
    case OpId::ROPE: return launch_rope;
    case OpId::SDPA_WINDOW: return sdpa_window_supported(call) ? launch_sdpa_window : nullptr;
    case OpId::COUNT: break;
  }
  return nullptr;
}

}  // namespace cuda
}  // namespace engram
