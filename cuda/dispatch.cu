// Op -> CUDA launcher. No default case: a new op must be listed here (nullptr
// when the CUDA kernel does not exist yet).
#include "kernels.cuh"
#include "ops/memory.cuh"
#include "ops/trellis.cuh"

namespace engram {
namespace cuda {

Kernel kernel_for(const OpCall& call) {
  switch (call.op) {
    case OpId::MATMUL: return launch_matmul;
    case OpId::ADD:
    case OpId::SUB:
    case OpId::MUL:
    case OpId::DIV: return launch_binary;
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
    case OpId::SOFTPLUS: return launch_unary;
    case OpId::SOFTMAX: return launch_softmax;
    case OpId::RMS_NORM:
    case OpId::LAYER_NORM: return launch_norm;
    case OpId::SUM:
    case OpId::MEAN:
    case OpId::MAX: return launch_reduce;
    case OpId::CUMSUM:
    case OpId::LOGCUMSUMEXP: return launch_scan;
    case OpId::COPY: return launch_copy;
    case OpId::CAST: return launch_cast;
    case OpId::GATHER: return launch_gather;
    case OpId::SDPA: return sdpa_supported(call) ? launch_sdpa : nullptr;
    case OpId::CONCAT: return launch_concat;
    case OpId::CAUSAL_CONV1D: return launch_causal_conv1d;
    case OpId::ROPE: return launch_rope;
    case OpId::SDPA_WINDOW: return sdpa_window_supported(call) ? launch_sdpa_window : nullptr;
    // The fused chunk kernels where they fit; else the token loops (the same function; mode 'recurrent' too).
    case OpId::GATED_DELTA_RULE:
      return gated_delta_rule_cuda_ok(call)         ? gated_delta_rule_cuda
             : gated_delta_rule_token_cuda_ok(call) ? gated_delta_rule_token_cuda
                                                    : nullptr;
    case OpId::TITANS_LINEAR:
      return titans_linear_cuda_ok(call)         ? titans_linear_cuda
             : titans_linear_token_cuda_ok(call) ? titans_linear_token_cuda
                                                 : nullptr;
    case OpId::TITANS_MLP: return titans_mlp_cuda_ok(call) ? titans_mlp_cuda : nullptr;
    case OpId::TTT_LINEAR: return ttt_linear_cuda_ok(call) ? ttt_linear_cuda : nullptr;
    case OpId::TTT_MLP: return ttt_mlp_cuda_ok(call) ? ttt_mlp_cuda : nullptr;
    case OpId::TRELLIS: return trellis_cuda_ok(call) ? trellis_cuda : nullptr;
    case OpId::TNT: return tnt_cuda_ok(call) ? tnt_cuda : tnt_token_cuda_ok(call) ? tnt_token_cuda : nullptr;
    case OpId::COUNT: break;
  }
  return nullptr;
}

}  // namespace cuda
}  // namespace engram
