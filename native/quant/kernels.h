// Kernels over encoded blocks, in the transformed space of a TileDesc
// (quantizer.h): tile (decode rows), scores (dot of transformed queries with
// the rows, without materialising them) and accumulate (weighted row sums,
// the value side of attention). *_ref are the readable scalar references
// built on tile_elem (quant_hd.h); the plain names dispatch to the AVX2
// kernels (kernels_avx2.cpp) when the CPU has them and fall back otherwise.
//
// Shapes: `blocks` holds n_tok / block_tokens consecutive blocks of
// block_bytes (n_tok a multiple of block_tokens); qt is M rows of t_dim
// floats (row stride ldq); s is M rows of n_tok scores (row stride lds).
#pragma once
#include <cstdint>

#include "quant_hd.h"

namespace engram {
namespace quant {

void tile_ref(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt);
void scores_ref(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* blocks, int64_t n_tok,
                float* s, int64_t lds);
void accumulate_ref(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc);

void tile(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt);
void scores(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* blocks, int64_t n_tok, float* s,
            int64_t lds);
void accumulate(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc);

// Softmax numerators in place: row[j] = exp(row[j] - m) for j < n; returns
// their sum (AVX2 polynomial exp, ~2 ulp, when available).
float exp_sum(float* row, int64_t n, float m);
float exp_sum_ref(float* row, int64_t n, float m);
// max(init, row[0..n)) ignoring NaN entries of row (the softmax row maximum).
float row_max(const float* row, int64_t n, float init);
float row_max_ref(const float* row, int64_t n, float init);

// Whether the AVX2 kernels handle this descriptor (else the plain names run
// the references). Tests use it to report which path they checked.
bool fast_path(const TileDesc& D);
// Tests: force the reference path everywhere (process-wide).
void set_force_reference(bool on);
bool force_reference();

namespace avx2 {
bool supports(const TileDesc& D);
void scores(const TileDesc& D, const float* qt, int64_t ldq, int M, const uint8_t* blocks, int64_t n_tok, float* s,
            int64_t lds);
void accumulate(const TileDesc& D, const float* w, const uint8_t* blocks, int64_t n_tok, float* acc);
void tile(const TileDesc& D, const uint8_t* blocks, int64_t n_tok, float* t, int64_t ldt);
float exp_sum(float* row, int64_t n, float m);
float row_max(const float* row, int64_t n, float init);
// pack_cells (quant_impl.h) for n a multiple of 8.
void pack_cells(float* y, int n, const float* thr_pad, int b, const float* lut, uint8_t* out);
}  // namespace avx2

}  // namespace quant
}  // namespace engram
