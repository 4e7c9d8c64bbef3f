// The quantizers without a transform (A = I): plain f32/f16/bf16 rows, KIVI
// (arXiv 2402.02750, algorithms.md §11.3: x̂ = s·code + z with z = min,
// s = (max - min)/(2^b - 1), per token over groups of `group` channels, or
// per channel over blocks of `group` tokens) and per-token symmetric int8
// (x̂ = s·code, s = max|x|/127). Encoders quantize with the stored (rounded)
// scale and zero so decode is consistent.
//
// Records (docs/quant.md):
//   plain:        d values
//   KIVI token:   code stream (d × b bits) | per channel group: s, z
//   KIVI channel: G code rows of d × b bits | per channel: s, z   (one block = G tokens)
//   int8:         d int8 codes | s
#include <cmath>
#include <cstring>

#include "engram/error.h"
#include "engram/threadpool.h"
#include "quant_impl.h"

namespace engram {
namespace quant {

namespace {

class IdentityQuantizer : public Quantizer {
 public:
  void transform_query(const float* q, int, float* qt) const override { std::memcpy(qt, q, sizeof(float) * (size_t)dim()); }
  void transform_back(const float* acc, int, float* out) const override {
    std::memcpy(out, acc, sizeof(float) * (size_t)dim());
  }
  void transform_queries(const float* q, int64_t ldq, int64_t n, int, float* qt, int64_t ldt) const override {
    for (int64_t i = 0; i < n; ++i) std::memcpy(qt + i * ldt, q + i * ldq, sizeof(float) * (size_t)dim());
  }
  void transform_back_rows(const float* acc, int64_t lda, int64_t n, int, float* out, int64_t ldo) const override {
    for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * ldo, acc + i * lda, sizeof(float) * (size_t)dim());
  }

 protected:
  void init(const QuantConfig& c, TileKind kind, int dim) {
    cfg_ = c;
    desc_.kind = kind;
    desc_.f32_scalars = c.f32_scalars;
    desc_.dim = dim;
    desc_.t_dim = dim;
    desc_.block_tokens = 1;
  }
};

class PlainQuantizer final : public IdentityQuantizer {
 public:
  PlainQuantizer(const QuantConfig& c, int dim) {
    init(c, c.plain == DType::F32 ? TileKind::F32 : c.plain == DType::F16 ? TileKind::F16 : TileKind::BF16, dim);
    desc_.block_bytes = (int32_t)(dim * (c.plain == DType::F32 ? 4 : 2));
    finish_fingerprint({});
  }
  void encode(const float* x, int64_t ldx, int64_t n, int, uint8_t* out) const override {
    const int d = dim();
    for (int64_t i = 0; i < n; ++i) {
      uint8_t* r = out + i * desc_.block_bytes;
      const float* xi = x + i * ldx;
      if (desc_.kind == TileKind::F32) {
        std::memcpy(r, xi, sizeof(float) * (size_t)d);
      } else {
        for (int c = 0; c < d; ++c) {
          uint16_t h = desc_.kind == TileKind::F16 ? f32_to_f16(xi[c]) : f32_to_bf16(xi[c]);
          r[2 * c] = (uint8_t)h;
          r[2 * c + 1] = (uint8_t)(h >> 8);
        }
      }
    }
  }
};

class KiviQuantizer final : public IdentityQuantizer {
 public:
  KiviQuantizer(const QuantConfig& c, int dim) {
    const int sb = scalar_bytes(c);
    init(c, c.channel_axis ? TileKind::KIVI_CHANNEL : TileKind::KIVI_TOKEN, dim);
    desc_.bits = (int)c.bits;
    desc_.group = c.group;
    const int64_t codes = stream_bytes(dim, desc_.bits);
    int64_t bytes;
    if (c.channel_axis) {
      desc_.block_tokens = c.group;
      desc_.row_bytes = (int32_t)codes;
      bytes = codes * c.group + (int64_t)dim * 2 * sb;
    } else {
      bytes = codes + (int64_t)((dim + c.group - 1) / c.group) * 2 * sb;
    }
    ENGRAM_CHECK(bytes < (1ll << 30), ARG, "kivi: blocks of ", bytes, " bytes are too large (reduce groupSize)");
    desc_.block_bytes = (int32_t)bytes;
    finish_fingerprint({});
  }

  void encode(const float* x, int64_t ldx, int64_t n, int, uint8_t* out) const override {
    const int d = dim(), L = 1 << desc_.bits, sb = scalar_bytes(cfg_);
    const bool f32 = cfg_.f32_scalars;
    const int G = desc_.group;
    const int64_t nblk = n / desc_.block_tokens;
    parallel_for(nblk, 16, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        uint8_t* blk = out + bi * desc_.block_bytes;
        std::memset(blk, 0, (size_t)desc_.block_bytes);
        if (desc_.kind == TileKind::KIVI_TOKEN) {
          const float* xi = x + bi * ldx;
          uint8_t* stats = blk + stream_bytes(d, desc_.bits);
          for (int g0 = 0, gi = 0; g0 < d; g0 += G, ++gi) {
            const int g1 = std::min(d, g0 + G);
            float mn = xi[g0], mx = xi[g0];
            for (int c = g0; c < g1; ++c) mn = std::fmin(mn, xi[c]), mx = std::fmax(mx, xi[c]);
            const float s = round_scalar((mx - mn) / (float)(L - 1), f32), z = round_scalar(mn, f32);
            store_scalar(stats + (int64_t)gi * 2 * sb, f32, s);
            store_scalar(stats + (int64_t)gi * 2 * sb + sb, f32, z);
            for (int c = g0; c < g1; ++c) put_code(blk, c, desc_.bits, uniform_code(xi[c], z, s, L));
          }
        } else {
          const float* xb = x + bi * G * ldx;
          uint8_t* stats = blk + (int64_t)desc_.row_bytes * G;
          for (int c = 0; c < d; ++c) {
            float mn = xb[c], mx = xb[c];
            for (int t = 1; t < G; ++t) mn = std::fmin(mn, xb[t * ldx + c]), mx = std::fmax(mx, xb[t * ldx + c]);
            const float s = round_scalar((mx - mn) / (float)(L - 1), f32), z = round_scalar(mn, f32);
            store_scalar(stats + (int64_t)c * 2 * sb, f32, s);
            store_scalar(stats + (int64_t)c * 2 * sb + sb, f32, z);
            for (int t = 0; t < G; ++t)
              put_code(blk + (int64_t)t * desc_.row_bytes, c, desc_.bits, uniform_code(xb[t * ldx + c], z, s, L));
          }
        }
      }
    });
  }
};

class Int8Quantizer final : public IdentityQuantizer {
 public:
  Int8Quantizer(const QuantConfig& c, int dim) {
    init(c, TileKind::INT8, dim);
    desc_.block_bytes = dim + scalar_bytes(c);
    finish_fingerprint({});
  }
  void encode(const float* x, int64_t ldx, int64_t n, int, uint8_t* out) const override {
    const int d = dim();
    const bool f32 = cfg_.f32_scalars;
    parallel_for(n, 256, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float* xi = x + i * ldx;
        uint8_t* r = out + i * desc_.block_bytes;
        float amax = 0;
        for (int c = 0; c < d; ++c) amax = std::fmax(amax, std::fabs(xi[c]));
        const float s = round_scalar(amax / 127.0f, f32);
        const float inv = s > 0 ? 1.0f / s : 0.0f;
        for (int c = 0; c < d; ++c) r[c] = (uint8_t)(int8_t)int8_code(xi[c], inv);
        store_scalar(r + d, f32, s);
      }
    });
  }
};

}  // namespace

std::shared_ptr<const Quantizer> make_plain(const QuantConfig& c, int dim) { return std::make_shared<PlainQuantizer>(c, dim); }
std::shared_ptr<const Quantizer> make_kivi(const QuantConfig& c, int dim) { return std::make_shared<KiviQuantizer>(c, dim); }
std::shared_ptr<const Quantizer> make_int8(const QuantConfig& c, int dim) { return std::make_shared<Int8Quantizer>(c, dim); }

}  // namespace quant
}  // namespace engram
