// Parameters of the test-time memory ops (gatedDeltaRule, titansLinear,
// titansMlp, tttLinear, tttMlp), parsed in native/core/ops/{gated_delta_rule,
// titans,ttt}.cpp and read by the CPU and CUDA kernels with call.p<T>().
// Semantics: ../../docs in the README section "Test-time memory" and
// algorithms.md §2, §3, §9, §10.
#pragma once
#include <cstdint>

namespace engram {

// Activation of the MLP memories (hd_mem_act in memory_hd.h).
enum class MemAct : uint8_t { GELU = 0, GELU_TANH = 1, SILU = 2, RELU = 3, TANH = 4 };

struct GdnParams {
  int64_t chunk = 64;        // chunk size of the WY/UT form (any C gives the same result)
  float scale = 0.0f;        // o = (scale q)^T S; 0 => 1/sqrt(K)
  bool final_state = true;   // output the final state (else a [0] tensor)
  bool recurrent = false;    // token loop instead of the chunk form
};

struct TitansParams {
  int64_t chunk = 64;        // semantic: gradients of a chunk are taken at the chunk-start state
  bool momentum = true;      // S_t = eta_t S_{t-1} - theta_t grad; false => eta == 0 (no eta input)
  bool decay = true;         // M_t = (1 - alpha_t) M_{t-1} + S_t; false => alpha == 0 (no alpha input)
  bool final_state = true;
  bool recurrent = false;    // linear memory only: token loop (same function as the chunk form)
  MemAct act = MemAct::GELU; // mlp memory
  int64_t hidden = 0;        // mlp memory: d_h (0 => from the initial state, else 4 d)
};

struct TttParams {
  int64_t chunk = 16;        // mini-batch size b
  bool layer_norm = true;    // f(x) = x + LN(f_res(x)) (false: no LN)
  bool residual = true;      // (false: no "x +", the target is v instead of v - k)
  bool bias = true;          // f_res has biases (state includes b)
  bool token_idx = false;    // lr of the i-th token of a mini-batch scaled by 1/i (official TTT code)
  float eps = 1e-6f;         // LayerNorm epsilon
  bool final_state = true;
  MemAct act = MemAct::GELU_TANH;  // mlp
  int64_t hidden = 0;        // mlp: d_h (0 => from the initial state, else 4 d)
};

}  // namespace engram
