// Quantizer base: bit accounting, decode, dense A, fingerprints, outlier
// selection and the validating factory.
#include "quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "engram/error.h"
#include "kernels.h"
#include "quant_impl.h"

namespace engram {
namespace quant {

const char* quant_kind_name(QuantKind k) {
  switch (k) {
    case QuantKind::PLAIN: return "plain";
    case QuantKind::TURBO: return "turboquant";
    case QuantKind::QJL: return "qjl";
    case QuantKind::KIVI: return "kivi";
    case QuantKind::INT8: return "int8";
  }
  return "?";
}

BitAccount Quantizer::bits() const {
  BitAccount a;
  const TileDesc& D = desc_;
  const double values = (double)D.block_tokens * D.dim;
  const int sb = D.f32_scalars ? 32 : 16;
  double code = 0, over = 0;
  switch (D.kind) {
    case TileKind::F32: code = 32.0 * D.dim; break;
    case TileKind::F16:
    case TileKind::BF16: code = 16.0 * D.dim; break;
    case TileKind::TURBO:
    case TileKind::QJL:
      for (int g = 0; g < D.ngroups; ++g) {
        code += (double)D.g[g].rot_dim * D.g[g].bits + D.g[g].sk_dim;
        over += sb * (D.g[g].rnorm_off >= 0 ? 2 : 1);
      }
      break;
    case TileKind::KIVI_TOKEN:
      code = (double)D.dim * D.bits;
      over = 2.0 * sb * ((D.dim + D.group - 1) / D.group);
      break;
    case TileKind::KIVI_CHANNEL:
      code = (double)D.dim * D.bits * D.block_tokens;
      over = 2.0 * sb * D.dim;
      break;
    case TileKind::INT8:
      code = 8.0 * D.dim;
      over = sb;
      break;
  }
  a.block_bytes = D.block_bytes;
  a.block_tokens = D.block_tokens;
  a.code_bits = code / values;
  a.overhead_bits = over / values;
  a.bits_per_value = 8.0 * (double)D.block_bytes / values;
  a.padding_bits = a.bits_per_value - a.code_bits - a.overhead_bits;
  switch (cfg_.kind) {
    case QuantKind::PLAIN: a.nominal_bits = cfg_.plain == DType::F32 ? 32 : 16; break;
    case QuantKind::INT8: a.nominal_bits = 8; break;
    case QuantKind::QJL: a.nominal_bits = a.code_bits; break;
    default: a.nominal_bits = a.code_bits;
  }
  return a;
}

std::vector<float> Quantizer::matrix(int head) const {
  const int d = dim(), t = t_dim();
  std::vector<float> a((size_t)t * d), e((size_t)d, 0.0f), col((size_t)t);
  for (int c = 0; c < d; ++c) {
    e[(size_t)c] = 1.0f;
    transform_query(e.data(), head, col.data());
    e[(size_t)c] = 0.0f;
    for (int r = 0; r < t; ++r) a[(size_t)r * d + c] = col[(size_t)r];
  }
  return a;
}

void Quantizer::transform_queries(const float* q, int64_t ldq, int64_t n, int head, float* qt, int64_t ldt) const {
  for (int64_t i = 0; i < n; ++i) transform_query(q + i * ldq, head, qt + i * ldt);
}

void Quantizer::transform_back_rows(const float* acc, int64_t lda, int64_t n, int head, float* out, int64_t ldo) const {
  for (int64_t i = 0; i < n; ++i) transform_back(acc + i * lda, head, out + i * ldo);
}

void Quantizer::decode(const uint8_t* in, int64_t n_tok, int head, float* x, int64_t ldx) const {
  const int64_t chunk = std::max<int64_t>(block_tokens(), 256 / block_tokens() * block_tokens());
  std::vector<float> rows((size_t)(chunk * t_dim()));
  for (int64_t j0 = 0; j0 < n_tok; j0 += chunk) {
    const int64_t n = std::min(chunk, n_tok - j0);
    tile(desc_, in + (j0 / block_tokens()) * block_bytes(), n, rows.data(), t_dim());
    transform_back_rows(rows.data(), t_dim(), n, head, x + j0 * ldx, ldx);
  }
}

void Quantizer::decode_ref(const uint8_t* in, int64_t n_tok, int head, float* x, int64_t ldx) const {
  std::vector<float> row((size_t)t_dim());
  for (int64_t j = 0; j < n_tok; ++j) {
    const uint8_t* b = in + (j / block_tokens()) * block_bytes();
    for (int e = 0; e < t_dim(); ++e) row[(size_t)e] = tile_elem(desc_, b, (int)(j % block_tokens()), e);
    transform_back(row.data(), head, x + j * ldx);
  }
}

bool Quantizer::blocks_finite(const uint8_t* in, int64_t n_tok) const {
  const TileDesc& D = desc_;
  const bool f32 = D.f32_scalars != 0;
  const int sb = f32 ? 4 : 2;
  auto ok = [](float v) { return std::isfinite(v); };
  for (int64_t b = 0; b < n_tok / D.block_tokens; ++b) {
    const uint8_t* r = in + b * D.block_bytes;
    switch (D.kind) {
      case TileKind::F32:
      case TileKind::F16:
      case TileKind::BF16:
        for (int e = 0; e < D.dim; ++e)
          if (!ok(tile_elem(D, r, 0, e))) return false;
        break;
      case TileKind::TURBO:
      case TileKind::QJL:
        for (int g = 0; g < D.ngroups; ++g) {
          if (!ok(load_scalar(r + D.g[g].norm_off, f32))) return false;
          if (D.g[g].rnorm_off >= 0 && !ok(load_scalar(r + D.g[g].rnorm_off, f32))) return false;
        }
        break;
      case TileKind::KIVI_TOKEN: {
        const int64_t codes = stream_bytes(D.dim, D.bits);
        for (int g = 0; g < 2 * ((D.dim + D.group - 1) / D.group); ++g)
          if (!ok(load_scalar(r + codes + (int64_t)g * sb, f32))) return false;
        break;
      }
      case TileKind::KIVI_CHANNEL:
        for (int g = 0; g < 2 * D.dim; ++g)
          if (!ok(load_scalar(r + (int64_t)D.row_bytes * D.block_tokens + (int64_t)g * sb, f32))) return false;
        break;
      case TileKind::INT8:
        if (!ok(load_scalar(r + D.dim, f32))) return false;
        break;
    }
  }
  return true;
}

void Quantizer::validate(const float* x, int64_t ldx, int64_t n_tok) const {
  if (desc_.f32_scalars || desc_.kind == TileKind::F32 || desc_.kind == TileKind::BF16) return;
  // Norms (TURBO, QJL), ranges (KIVI) and f16 rows stay finite below these bounds.
  const double lim = desc_.kind == TileKind::INT8 ? 8.0e6 : desc_.kind == TileKind::F16 ? 65504.0
                     : desc_.kind == TileKind::KIVI_TOKEN || desc_.kind == TileKind::KIVI_CHANNEL ? 32000.0 : 65000.0;
  const bool norm = desc_.kind == TileKind::TURBO || desc_.kind == TileKind::QJL;
  for (int64_t i = 0; i < n_tok; ++i) {
    const float* r = x + i * ldx;
    double v = 0;
    for (int c = 0; c < dim(); ++c) v = norm ? v + (double)r[c] * r[c] : std::fmax(v, std::fabs((double)r[c]));
    if (norm) v = std::sqrt(v);
    ENGRAM_CHECK(v <= lim, ARG, quant_kind_name(cfg_.kind), ": a vector with ", norm ? "norm " : "magnitude ", v,
                 " exceeds what f16 ", desc_.kind == TileKind::F16 ? "rows" : "norms/scales", " can store (", lim,
                 "); use f32 scalars (normDType 'f32') or scale the inputs");
  }
}

void ChannelGroups::build(const QuantConfig& c) {
  dim = c.dim;
  heads = c.n_outliers ? c.heads : 1;
  ngroups = c.n_outliers ? 2 : 1;
  identity = c.n_outliers == 0;
  gdim[0] = c.n_outliers ? c.n_outliers : dim;
  gdim[1] = c.n_outliers ? dim - c.n_outliers : 0;
  goff[0] = 0;
  goff[1] = gdim[0];
  order.assign((size_t)heads * dim, 0);
  for (int h = 0; h < heads; ++h) {
    int32_t* o = order.data() + (size_t)h * dim;
    if (identity) {
      std::iota(o, o + dim, 0);
      continue;
    }
    std::vector<char> is_out((size_t)dim, 0);
    for (int i = 0; i < c.n_outliers; ++i) {
      int32_t ch = c.outliers[(size_t)h * c.n_outliers + i];
      o[i] = ch;
      is_out[(size_t)ch] = 1;
    }
    int k = c.n_outliers;
    for (int ch = 0; ch < dim; ++ch)
      if (!is_out[(size_t)ch]) o[k++] = ch;
  }
}

void ChannelGroups::gather(const float* x, int64_t ldx, int64_t n, int head, float* dst, const float* mu) const {
  const int32_t* o = head_order(head);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < dim; ++c) dst[i * dim + c] = x[i * ldx + o[c]] - (mu ? mu[o[c]] : 0.0f);
}

void Quantizer::finish_fingerprint(const std::vector<const std::vector<float>*>& tables) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  int32_t head[6] = {(int32_t)desc_.kind, desc_.dim, desc_.t_dim, desc_.block_tokens, desc_.block_bytes, desc_.ngroups};
  mix(head, sizeof(head));
  for (int g = 0; g < desc_.ngroups; ++g) mix(desc_.g[g].lut, sizeof(desc_.g[g].lut));
  for (const auto* t : tables)
    if (t && !t->empty()) mix(t->data(), t->size() * sizeof(float));
  mix(cfg_.outliers.data(), cfg_.outliers.size() * sizeof(int32_t));
  mix(cfg_.center.data(), cfg_.center.size() * sizeof(float));
  fingerprint_ = h;
}

TurboSplit turbo_split(double bits, int dim) {
  ENGRAM_CHECK(std::isfinite(bits) && bits >= 1.0 && bits <= 4.0, ARG,
               "turboQuant: bits must be in [1, 4] (fractional values select an outlier split), got ", bits);
  TurboSplit s;
  const int lo = (int)std::floor(bits);
  const double frac = bits - lo;
  s.bits_reg = lo;
  s.bits_out = lo + 1;
  s.n_out = (int)std::lround(frac * dim);
  if (frac > 0) {
    ENGRAM_CHECK(s.n_out >= 1 && s.n_out <= dim - 1, ARG, "turboQuant: bits ", bits, " with dim ", dim,
                 " gives ", s.n_out, " outlier channels; need between 1 and dim - 1");
  }
  if (s.n_out == 0) s.bits_out = 0;
  return s;
}

std::vector<float> channel_means(const float* x, int64_t rows, int heads, int dim, bool per_head) {
  const int tables = per_head ? heads : 1;
  std::vector<float> out((size_t)tables * dim);
  for (int t = 0; t < tables; ++t) {
    std::vector<double> s((size_t)dim, 0.0);
    int64_t cnt = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int h = 0; h < heads; ++h) {
        if (per_head && h != t) continue;
        const float* v = x + (r * heads + h) * dim;
        for (int c = 0; c < dim; ++c) s[(size_t)c] += v[c];
        ++cnt;
      }
    for (int c = 0; c < dim; ++c) out[(size_t)t * dim + c] = (float)(s[(size_t)c] / (double)cnt);
  }
  return out;
}

std::vector<int32_t> select_outliers(const float* x, int64_t rows, int heads, int dim, int n, bool per_head, bool centered) {
  const int tables = per_head ? heads : 1;
  std::vector<float> mu = centered ? channel_means(x, rows, heads, dim, per_head) : std::vector<float>();
  std::vector<int32_t> out;
  for (int t = 0; t < tables; ++t) {
    std::vector<double> ms((size_t)dim, 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int h = 0; h < heads; ++h) {
        if (per_head && h != t) continue;
        const float* v = x + (r * heads + h) * dim;
        for (int c = 0; c < dim; ++c) {
          const double z = v[c] - (centered ? mu[(size_t)t * dim + c] : 0.0f);
          ms[(size_t)c] += z * z;
        }
      }
    std::vector<int32_t> idx((size_t)dim);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return ms[(size_t)a] > ms[(size_t)b]; });
    idx.resize((size_t)n);
    std::sort(idx.begin(), idx.end());
    out.insert(out.end(), idx.begin(), idx.end());
  }
  return out;
}

namespace {

void check_outlier_table(const QuantConfig& c, int dim, const char* who) {
  ENGRAM_CHECK(c.heads >= 1 && c.heads <= 4096, ARG, who, ": outlier tables must cover 1..4096 heads, got ", c.heads);
  if (!c.center.empty()) {
    ENGRAM_CHECK((int64_t)c.center.size() == (int64_t)c.heads * dim, ARG, who, ": center must hold ", c.heads, " × ", dim,
                 " means, got ", c.center.size());
    for (float v : c.center) ENGRAM_CHECK(std::isfinite(v), ARG, who, ": center has a non-finite value");
  }
  if (c.n_outliers == 0) {
    ENGRAM_CHECK(c.outliers.empty(), ARG, who, ": outlier channels given but the configuration has no outlier group");
    return;
  }
  ENGRAM_CHECK((int64_t)c.outliers.size() == (int64_t)c.heads * c.n_outliers, ARG, who, ": expected ", c.heads, " × ",
               c.n_outliers, " outlier channel indices, got ", c.outliers.size());
  for (int h = 0; h < c.heads; ++h)
    for (int i = 0; i < c.n_outliers; ++i) {
      int32_t v = c.outliers[(size_t)h * c.n_outliers + i];
      ENGRAM_CHECK(v >= 0 && v < dim, ARG, who, ": outlier channel ", v, " is outside [0, ", dim, ")");
      if (i) ENGRAM_CHECK(v > c.outliers[(size_t)h * c.n_outliers + i - 1], ARG, who,
                          ": outlier channels must be strictly increasing (head ", h, ")");
    }
}

}  // namespace

std::shared_ptr<const Quantizer> make_quantizer(const QuantConfig& cfg_in, int dim) {
  QuantConfig c = cfg_in;
  ENGRAM_CHECK(dim >= 1 && dim <= 8192, SHAPE, quant_kind_name(c.kind), ": vector dimension must be in [1, 8192], got ",
               dim);
  if (c.dim) ENGRAM_CHECK(c.dim == dim, SHAPE, quant_kind_name(c.kind), ": built for dimension ", c.dim, ", got ", dim);
  switch (c.kind) {
    case QuantKind::PLAIN:
      ENGRAM_CHECK(c.plain == DType::F32 || c.plain == DType::F16 || c.plain == DType::BF16, ARG,
                   "plain cache rows must be f32, f16 or bf16, got ", dtype_name(c.plain));
      return make_plain(c, dim);
    case QuantKind::TURBO: {
      ENGRAM_CHECK(dim >= 2, SHAPE, "turboQuant: dim must be at least 2, got ", dim);
      c.dim = dim;
      TurboSplit s = turbo_split(c.bits, dim);
      if (c.n_outliers == 0 && c.outliers.empty() && s.n_out > 0) {  // documented default: the first channels
        c.outliers.resize((size_t)s.n_out * c.heads);
        for (int h = 0; h < c.heads; ++h) std::iota(c.outliers.begin() + (size_t)h * s.n_out, c.outliers.begin() + (size_t)(h + 1) * s.n_out, 0);
      }
      c.n_outliers = s.n_out;
      check_outlier_table(c, dim, "turboQuant");
      if (c.n_outliers) {
        ENGRAM_CHECK(c.n_outliers >= 2 && dim - c.n_outliers >= 2, ARG,
                     "turboQuant: each channel group needs at least 2 channels (outliers ", c.n_outliers, " of ", dim, ")");
      }
      if (!c.hadamard) ENGRAM_CHECK(dim <= 1024, ARG, "turboQuant: dense rotations are limited to dim <= 1024 (got ", dim,
                                    "); use rotation 'hadamard'");
      return make_turbo(c);
    }
    case QuantKind::QJL: {
      ENGRAM_CHECK(dim >= 2, SHAPE, "qjl: dim must be at least 2, got ", dim);
      c.dim = dim;
      ENGRAM_CHECK(c.sketch >= 1 && c.sketch <= 16384, ARG, "qjl: sketchDim must be in [1, 16384], got ", c.sketch);
      ENGRAM_CHECK(c.n_outliers >= 0 && c.n_outliers <= dim - 1, ARG, "qjl: outliers must be in [0, dim - 1], got ",
                   c.n_outliers);
      if (c.n_outliers && c.outliers.empty()) {
        c.outliers.resize((size_t)c.n_outliers * c.heads);
        for (int h = 0; h < c.heads; ++h)
          std::iota(c.outliers.begin() + (size_t)h * c.n_outliers, c.outliers.begin() + (size_t)(h + 1) * c.n_outliers, 0);
      }
      if (c.n_outliers) {
        if (c.outlier_sketch == 0) c.outlier_sketch = c.sketch;
        ENGRAM_CHECK(c.outlier_sketch >= 1 && c.outlier_sketch <= 16384, ARG,
                     "qjl: outlierSketchDim must be in [1, 16384], got ", c.outlier_sketch);
      } else {
        c.outlier_sketch = 0;
      }
      check_outlier_table(c, dim, "qjl");
      if (c.orth_sketch) {
        ENGRAM_CHECK(dim - c.n_outliers <= 1024 && c.n_outliers <= 1024, ARG,
                     "qjl: orthogonal projections are limited to groups of <= 1024 channels");
      }
      return make_qjl(c);
    }
    case QuantKind::KIVI:
      ENGRAM_CHECK(c.bits == 2 || c.bits == 4, ARG, "kivi: bits must be 2 or 4, got ", c.bits);
      ENGRAM_CHECK(c.group >= 1 && c.group <= 4096, ARG, "kivi: groupSize must be in [1, 4096], got ", c.group);
      ENGRAM_CHECK(c.residual >= 0 && c.residual <= (1 << 20), ARG, "kivi: residual must be in [0, 2^20], got ",
                   c.residual);
      return make_kivi(c, dim);
    case QuantKind::INT8: return make_int8(c, dim);
  }
  fail(ErrorCode::E_ARG, "unknown quantizer kind ", (int)c.kind);
}

}  // namespace quant
}  // namespace engram
