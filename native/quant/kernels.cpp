// Scalar references over blocks (the spec of every fast kernel) and the
// dispatch to the AVX2 kernels.
#include "kernels.h"

#include <atomic>
#include <cmath>

#include "../cpu/cpu_features.h"

namespace engram {
namespace quant {

namespace {
std::atomic<bool> g_force_ref{false};

inline const uint8_t* block_of(const TileDesc& D, const uint8_t* blocks, int64_t j, int* tok) {
  *tok = (int)(j % D.block_tokens);
  return blocks + (j / D.block_tokens) * (int64_t)D.block_bytes;
}
}  // namespace

void tile_ref(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt) {
  for (int64_t j = 0; j < n_tok; ++j) {
    int tok;
    const uint8_t* b = block_of(D, blocks, j, &tok);
    for (int e = 0; e < D.t_dim; ++e) t[j * ldt + e] = tile_elem(D, b, tok, e);
  }
}

void scores_ref(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* blocks, int64_t n_tok,
                float* s, int64_t lds) {
  for (int64_t j = 0; j < n_tok; ++j) {
    int tok;
    const uint8_t* b = block_of(D, blocks, j, &tok);
    for (int m = 0; m < M; ++m) {
      double acc = 0;
      for (int e = 0; e < D.t_dim; ++e) acc += (double)qt[m * ldq + e] * tile_elem(D, b, tok, e);
      s[m * lds + j] = (float)acc;
    }
  }
}

void accumulate_ref(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  for (int64_t j = 0; j < n_tok; ++j) {
    if (w[j] == 0.0f) continue;
    int tok;
    const uint8_t* b = block_of(D, blocks, j, &tok);
    for (int e = 0; e < D.t_dim; ++e) acc[e] += w[j] * tile_elem(D, b, tok, e);
  }
}

float exp_sum_ref(float* row, int64_t n, float m) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += row[j] = std::exp(row[j] - m);
  return (float)s;
}

float exp_sum(float* row, int64_t n, float m) {
  if (!g_force_ref.load(std::memory_order_relaxed) && cpu::isa() >= cpu::Isa::AVX2) return avx2::exp_sum(row, n, m);
  return exp_sum_ref(row, n, m);
}

float row_max_ref(const float* row, int64_t n, float init) {
  float m = init;
  for (int64_t j = 0; j < n; ++j) m = row[j] > m ? row[j] : m;
  return m;
}

float row_max(const float* row, int64_t n, float init) {
  if (!g_force_ref.load(std::memory_order_relaxed) && cpu::isa() >= cpu::Isa::AVX2) return avx2::row_max(row, n, init);
  return row_max_ref(row, n, init);
}

void set_force_reference(bool on) { g_force_ref = on; }
bool force_reference() { return g_force_ref.load(std::memory_order_relaxed); }

bool fast_path(const TileDesc& D) {
  return !g_force_ref.load(std::memory_order_relaxed) && cpu::isa() >= cpu::Isa::AVX2 && avx2::supports(D);
}

void tile(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt) {
  if (fast_path(D)) return avx2::tile(D, blocks, n_tok, t, ldt);
  tile_ref(D, blocks, n_tok, t, ldt);
}

void scores(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* blocks, int64_t n_tok, float* s,
            int64_t lds) {
  if (fast_path(D)) return avx2::scores(D, qt, ldq, M, blocks, n_tok, s, lds);
  scores_ref(D, qt, ldq, M, blocks, n_tok, s, lds);
}

void accumulate(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc) {
  if (fast_path(D)) return avx2::accumulate(D, w, blocks, n_tok, acc);
  accumulate_ref(D, w, blocks, n_tok, acc);
}

}  // namespace quant
}  // namespace engram
