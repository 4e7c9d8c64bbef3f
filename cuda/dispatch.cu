// Op -> CUDA launcher. No default case: a new op must be listed here (nullptr
// when the CUDA kernel does not exist yet).
#include "kernels.cuh"
#include "ops/memory.cuh"

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
    case OpId::GATED_DELTA_RULE: return gated_delta_rule_cuda_ok(call) ? gated_delta_rule_cuda : nullptr;
    case OpId::TITANS_LINEAR: return titans_linear_cuda_ok(call) ? titans_linear_cuda : nullptr;
    case OpId::TITANS_MLP: return nullptr;  // no CUDA kernel yet
    case OpId::TTT_LINEAR: return ttt_linear_cuda_ok(call) ? ttt_linear_cuda : nullptr;
    case OpId::TTT_MLP: return nullptr;  // no CUDA kernel yet
    case OpId::COUNT: break;
  }
  return nullptr;
}

}  // namespace cuda
}  // namespace engram
