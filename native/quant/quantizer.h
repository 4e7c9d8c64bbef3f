// Quantizers for KV vectors (algorithms.md §11): TurboQuant (mse / prod,
// dense or Hadamard rotation, optional outlier channel split), QJL (sign
// sketches with an outlier group), KIVI (2/4-bit asymmetric, per token or per
// channel over token blocks), int8 (per-token symmetric), and the plain
// f32/f16/bf16 rows of an unquantized cache.
//
// Every quantizer is a linear "transformed space" view of its records: a
// record (block) decodes to rows tile(x) in R^t_dim and x̃ = Aᵀ tile(x) for
// a fixed matrix A (rotation rows, sketch rows, channel scatter). Hence
//   <q, x̃> = <A q, tile(x)>   and   Σ_j p_j x̃_j = Aᵀ Σ_j p_j tile(x_j),
// which is how attention runs on the codes (§11.1(c)): the query is
// transformed once, scores are lookups, values are summed in t-space and
// mapped back once. Record layouts are in docs/quant.md.
//
// Objects are immutable after construction and shared (shared_ptr<const>).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engram/dtype.h"
#include "quant_hd.h"

namespace engram {
namespace quant {

enum class QuantKind : uint8_t { PLAIN = 0, TURBO = 1, QJL = 2, KIVI = 3, INT8 = 4 };
const char* quant_kind_name(QuantKind k);

// Everything needed to rebuild a quantizer (serialised with caches).
struct QuantConfig {
  QuantKind kind = QuantKind::PLAIN;
  DType plain = DType::F32;       // PLAIN: f32 | f16 | bf16
  int dim = 0;                    // TURBO/QJL: fixed dimension; others 0 = bound at use
  double bits = 0;                // TURBO: bits per value (1..4, fractional = outlier split); KIVI: 2 | 4
  bool prod = false;              // TURBO: (b-1)-bit mse + 1-bit QJL of the residual
  bool hadamard = false;          // TURBO: randomised Hadamard instead of a dense rotation
  bool orth_sketch = false;       // TURBO prod / QJL: block-orthogonal projection instead of i.i.d. Gaussian
  bool f32_scalars = false;       // norms / scales stored as f32 (default f16)
  uint64_t seed = 0;
  int heads = 1;                  // outlier tables: 1 (shared by all heads) or one per head
  int n_outliers = 0;             // TURBO (derived from bits) / QJL: channels in the outlier group
  std::vector<int32_t> outliers;  // heads × n_outliers channel indices, ascending per head
  std::vector<float> center;      // TURBO/QJL: per-channel mean μ (heads × dim) subtracted before
                                  // encoding (empty: none); attention is unchanged by it (softmax
                                  // is shift-invariant), the codes only see x - μ
  int sketch = 0;                 // QJL: sketch dimension m of the inlier group
  int outlier_sketch = 0;         // QJL: sketch dimension of the outlier group
  int group = 32;                 // KIVI group size
  int residual = 128;             // KIVI: suggested full-precision window for a cache
  bool channel_axis = false;      // KIVI: per-channel over blocks of `group` tokens (keys)
};

struct BitAccount {
  double code_bits = 0;      // per value: indices, signs, integer codes
  double overhead_bits = 0;  // per value: norms, scales, zero points
  double padding_bits = 0;   // per value: byte padding of the record
  double bits_per_value = 0; // total stored bits / values (= sum of the three)
  double nominal_bits = 0;   // the configured width (TURBO bits, KIVI bits, 8, 16, 32)
  int64_t block_bytes = 0;   // bytes per encoded block
  int block_tokens = 1;      // vectors per block
};

class Quantizer {
 public:
  Quantizer() { desc_.bias_t = -1; }
  virtual ~Quantizer() = default;
  const QuantConfig& config() const { return cfg_; }
  QuantKind kind() const { return cfg_.kind; }
  int dim() const { return desc_.dim; }
  int t_dim() const { return desc_.t_dim; }
  int block_tokens() const { return desc_.block_tokens; }
  int64_t block_bytes() const { return desc_.block_bytes; }
  const TileDesc& desc() const { return desc_; }
  BitAccount bits() const;
  // Hash of every table (codebooks, rotations, sketches, channel lists):
  // serialized caches refuse to load where the rebuilt tables differ.
  uint64_t fingerprint() const { return fingerprint_; }
  // Head count the channel tables were built for (1 = shared).
  int table_heads() const { return cfg_.heads; }

  // n_tok rows x[i * ldx + c] (f32, finite) of head `head` -> n_tok / block_tokens
  // blocks of block_bytes at out. n_tok must be a multiple of block_tokens.
  virtual void encode(const float* x, int64_t ldx, int64_t n_tok, int head, uint8_t* out) const = 0;
  // E_ARG when rows cannot be stored (a norm or scale beyond the f16 range
  // with f16 scalars). Callers check finiteness (E_NAN) first.
  virtual void validate(const float* x, int64_t ldx, int64_t n_tok) const;
  // qt = A_head q (t_dim floats).
  virtual void transform_query(const float* q, int head, float* qt) const = 0;
  // out = A_headᵀ acc (dim floats, overwritten).
  virtual void transform_back(const float* acc, int head, float* out) const = 0;
  // Batched forms: qt[i] = A q[i], out[i] = Aᵀ acc[i] for n rows (GEMMs for
  // the rotations and sketches).
  virtual void transform_queries(const float* q, int64_t ldq, int64_t n, int head, float* qt, int64_t ldt) const;
  virtual void transform_back_rows(const float* acc, int64_t lda, int64_t n, int head, float* out, int64_t ldo) const;
  // A_head as a dense t_dim × dim row-major matrix (CUDA, tests).
  std::vector<float> matrix(int head) const;

  // Dequantized rows: x̃ = Aᵀ tile (uses the fast tile kernel; decode_ref the
  // scalar reference tile_ref).
  void decode(const uint8_t* in, int64_t n_tok, int head, float* x, int64_t ldx) const;
  void decode_ref(const uint8_t* in, int64_t n_tok, int head, float* x, int64_t ldx) const;
  // False if a stored scalar (norm, scale, plain value) is not finite: used
  // on untrusted (deserialized) blocks.
  bool blocks_finite(const uint8_t* in, int64_t n_tok) const;

 protected:
  QuantConfig cfg_;
  TileDesc desc_{};
  uint64_t fingerprint_ = 0;
  void finish_fingerprint(const std::vector<const std::vector<float>*>& tables);
};

// Validates cfg (E_ARG naming the option) and builds the quantizer for `dim`
// (must equal cfg.dim when that is set). KIVI: cfg.channel_axis picks the axis.
std::shared_ptr<const Quantizer> make_quantizer(const QuantConfig& cfg, int dim);

// Outlier channels from calibration rows: the n channels with the largest
// mean square, ascending. x is [rows, heads, dim] (heads = 1: [rows, dim]);
// per_head = false pools the heads into one table.
// With centered = true, the channels with the largest variance.
std::vector<int32_t> select_outliers(const float* x, int64_t rows, int heads, int dim, int n, bool per_head,
                                     bool centered = false);
// Per-channel means of calibration rows (layout as select_outliers).
std::vector<float> channel_means(const float* x, int64_t rows, int heads, int dim, bool per_head);

// TURBO split implied by `bits` for `dim`: {n_outliers, outlier bits, regular bits}.
struct TurboSplit {
  int n_out = 0, bits_out = 0, bits_reg = 0;
};
TurboSplit turbo_split(double bits, int dim);

}  // namespace quant
}  // namespace engram
