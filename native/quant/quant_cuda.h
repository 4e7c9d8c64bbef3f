// The CUDA side of the quantized KV cache (cuda/quant/kv_attend.cu; a stub
// in builds without CUDA). Plain structs only: native/quant compiles without
// the CUDA toolkit. Every pointer below is a device pointer.
#pragma once
#include <cstdint>

#include "quant_hd.h"

namespace engram {
namespace quant {

struct CudaStreamView {
  TileDesc desc;                 // record layout of the encoded tokens
  const uint8_t* const* pages;   // device array of page pointers
  int64_t head_bytes = 0;        // bytes of one head inside a page
  int64_t nq = 0;                // encoded tokens [0, nq)
  const float* ring = nullptr;   // window rows [heads][wcap][dim] for tokens [nq, n)
  int64_t wcap = 0;
};

struct CudaAttendArgs {
  CudaStreamView k, v;
  int64_t page_tokens = 0;
  int64_t n = 0;          // cached tokens
  int64_t tq = 0;         // queries per head (causal: the last tq tokens)
  int heads = 0, group = 1, dim = 0;  // query heads = heads * group
  bool causal = true;
  const float* qt = nullptr;  // [heads][tq*group][t_dim(k)]: A_k q · scale
  const float* qs = nullptr;  // [heads][tq*group][dim]: q · scale (window scores)
  const float* av = nullptr;  // [av_tables][t_dim(v)][dim]: A_v
  int av_tables = 1;
  float* out = nullptr;       // [tq][heads*group][dim]
};

// Split-K attention over the codes + merge + one A_vᵀ per query (E_CUDA on
// failure; E_DEVICE in builds without CUDA).
void cuda_kv_attend(const CudaAttendArgs& a);

}  // namespace quant
}  // namespace engram
