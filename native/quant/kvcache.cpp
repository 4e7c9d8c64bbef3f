// KVCache state: construction, append (window + block flush), pages with
// copy-on-write, truncate, fork, sizes. Attention is in kv_attend.cpp and
// serialization in kv_serialize.cpp.
#include "kvcache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engram/alloc.h"
#include "engram/backend.h"
#include "engram/error.h"

namespace engram {
namespace quant {

namespace {
constexpr int64_t kPageTarget = 256;  // tokens per page (rounded to whole blocks)
inline int table_head(const Quantizer& q, int h) { return q.table_heads() > 1 ? h : 0; }
}  // namespace

KVCache::KVCache(const KVCacheOptions& opt_in) : opt_(opt_in) {
  KVCacheOptions& o = opt_;
  ENGRAM_CHECK(o.layers >= 1 && o.layers <= 4096, ARG, "KVCache: layers must be in [1, 4096], got ", o.layers);
  ENGRAM_CHECK(o.heads >= 1 && o.heads <= 4096, ARG, "KVCache: heads must be in [1, 4096], got ", o.heads);
  ENGRAM_CHECK(o.head_dim >= 1 && o.head_dim <= 8192, ARG, "KVCache: headDim must be in [1, 8192], got ", o.head_dim);
  ENGRAM_CHECK(o.max_tokens >= 1 && o.max_tokens <= (int64_t(1) << 40), ARG,
               "KVCache: maxTokens must be in [1, 2^40], got ", o.max_tokens);
  if (o.device == DeviceType::CUDA) require_available(DeviceType::CUDA);
  if (o.keys.kind == QuantKind::KIVI) o.keys.channel_axis = true;     // KIVI: keys per channel,
  if (o.values.kind == QuantKind::KIVI) o.values.channel_axis = false;  // values per token
  qk_ = make_quantizer(o.keys, o.head_dim);
  qv_ = make_quantizer(o.values, o.head_dim);
  for (const auto* q : {qk_.get(), qv_.get()})
    ENGRAM_CHECK(q->table_heads() == 1 || q->table_heads() == o.heads, SHAPE, "KVCache: the ",
                 q == qk_.get() ? "keys" : "values", " quantizer has outlier tables for ", q->table_heads(),
                 " heads; the cache has ", o.heads);
  if (o.residual < 0) {
    int64_t r = 0;
    if (o.keys.kind == QuantKind::KIVI) r = std::max<int64_t>(r, o.keys.residual);
    if (o.values.kind == QuantKind::KIVI) r = std::max<int64_t>(r, o.values.residual);
    o.residual = r;
  }
  ENGRAM_CHECK(o.residual <= (int64_t(1) << 20), ARG, "KVCache: residualWindow must be in [0, 2^20], got ", o.residual);
  residual_ = o.residual;
  const int64_t bt = std::max<int64_t>(qk_->block_tokens(), qv_->block_tokens());
  page_tokens_ = (kPageTarget + bt - 1) / bt * bt;
  layers_.resize((size_t)o.layers);
  for (Layer& L : layers_) {
    init_stream(L.k, qk_);
    init_stream(L.v, qv_);
  }
}

void KVCache::init_stream(Stream& s, const std::shared_ptr<const Quantizer>& q) const {
  s.q = q;
  s.bt = q->block_tokens();
  s.bb = q->block_bytes();
  s.head_bytes = page_tokens_ / s.bt * s.bb;
  s.page_bytes = s.head_bytes * opt_.heads + 16;  // slack: no kernel reads past a record, but be safe
  s.windowed = q->kind() != QuantKind::PLAIN && (residual_ > 0 || s.bt > 1);
  s.wcap = s.windowed ? residual_ + s.bt : 0;
  ENGRAM_CHECK(s.wcap * opt_.heads * (int64_t)opt_.head_dim <= (int64_t(1) << 28), ARG, "KVCache: a residual window of ",
               residual_, " tokens × ", opt_.heads, " heads × ", opt_.head_dim, " exceeds 2^28 values per stream");
}

void KVCache::ensure_ring(Stream& s) {
  if (!s.ring.empty()) return;
  s.ring.assign((size_t)(s.wcap * opt_.heads * opt_.head_dim), 0.0f);
  if (opt_.device != DeviceType::CPU) {
    s.dev_ring = std::make_shared<Storage>(opt_.device, s.ring.size() * sizeof(float));
    fill_bytes(opt_.device, s.dev_ring->data, 0, s.ring.size() * sizeof(float));
  }
}

void KVCache::check_layer(int layer, const char* what) const {
  ENGRAM_CHECK(layer >= 0 && layer < opt_.layers, ARG, what, ": layer ", layer, " is outside [0, ", opt_.layers, ")");
}

int64_t KVCache::length(int layer) const {
  check_layer(layer, "KVCache.length");
  return layers_[(size_t)layer].n;
}

uint8_t* KVCache::page_for_write(Stream& s, int64_t p) {
  if ((int64_t)s.pages.size() <= p) s.pages.resize((size_t)p + 1);
  auto& pg = s.pages[(size_t)p];
  if (!pg) {
    pg = std::make_shared<Storage>(opt_.device, (size_t)s.page_bytes);
  } else if (pg.use_count() > 1) {  // shared with a fork: copy before writing
    auto copy = std::make_shared<Storage>(opt_.device, (size_t)s.page_bytes);
    copy_bytes(copy->data, opt_.device, pg->data, opt_.device, (size_t)s.page_bytes);
    pg = copy;
  }
  return static_cast<uint8_t*>(pg->data);
}

// Encodes tokens [tok0, tok0 + ntok) (whole blocks) from rows x (token t, head
// h at x + t * ld_tok + h * head_dim) into the pages.
void KVCache::write_blocks(Stream& s, int64_t tok0, const float* x, int64_t ld_tok, int64_t ntok) {
  const int H = opt_.heads, D = opt_.head_dim;
  std::vector<uint8_t> host;
  for (int64_t a = tok0; a < tok0 + ntok;) {
    const int64_t p = a / page_tokens_, b = std::min(tok0 + ntok, (p + 1) * page_tokens_);
    uint8_t* page = page_for_write(s, p);
    const int64_t off = (a - p * page_tokens_) / s.bt * s.bb, bytes = (b - a) / s.bt * s.bb;
    for (int h = 0; h < H; ++h) {
      const float* src = x + (a - tok0) * ld_tok + (int64_t)h * D;
      if (opt_.device == DeviceType::CPU) {
        s.q->encode(src, ld_tok, b - a, table_head(*s.q, h), page + h * s.head_bytes + off);
      } else {
        host.resize((size_t)bytes);
        s.q->encode(src, ld_tok, b - a, table_head(*s.q, h), host.data());
        copy_bytes(page + h * s.head_bytes + off, opt_.device, host.data(), DeviceType::CPU, (size_t)bytes);
      }
    }
    a = b;
  }
}

void KVCache::ring_store(Stream& s, int64_t tok, const float* x, int64_t) {
  const int H = opt_.heads, D = opt_.head_dim;
  ensure_ring(s);
  const int64_t slot = tok % s.wcap;
  for (int h = 0; h < H; ++h) {
    float* dst = s.ring.data() + ((int64_t)h * s.wcap + slot) * D;
    std::memcpy(dst, x + (int64_t)h * D, sizeof(float) * (size_t)D);
    if (s.dev_ring)
      copy_bytes(static_cast<float*>(s.dev_ring->data) + ((int64_t)h * s.wcap + slot) * D, opt_.device, dst,
                 DeviceType::CPU, sizeof(float) * (size_t)D);
  }
}

void KVCache::append_stream(Stream& s, int64_t n0, const float* x, int64_t T) {
  const int64_t row = (int64_t)opt_.heads * opt_.head_dim;
  if (!s.windowed) {
    write_blocks(s, s.nq, x, row, T);
    s.nq += T;
    return;
  }
  const int64_t w = n0 - s.nq, total = w + T;
  const int64_t F = total > residual_ ? (total - residual_) / s.bt * s.bt : 0;  // tokens to encode now
  if (F > 0) {
    // Blocks that start in the window are assembled in a scratch buffer; the
    // rest is encoded straight from the input.
    const int64_t wf = std::min(F, w);
    const int64_t p1 = wf > 0 ? std::min(F, (wf + s.bt - 1) / s.bt * s.bt) : 0;
    if (p1 > 0) {
      std::vector<float> tmp((size_t)(p1 * row));
      for (int64_t t = 0; t < p1; ++t) {
        float* dst = tmp.data() + t * row;
        if (t < w) {
          const int64_t slot = (s.nq + t) % s.wcap;
          for (int h = 0; h < opt_.heads; ++h)
            std::memcpy(dst + (int64_t)h * opt_.head_dim, s.ring.data() + ((int64_t)h * s.wcap + slot) * opt_.head_dim,
                        sizeof(float) * (size_t)opt_.head_dim);
        } else {
          std::memcpy(dst, x + (t - w) * row, sizeof(float) * (size_t)row);
        }
      }
      write_blocks(s, s.nq, tmp.data(), row, p1);
    }
    if (F > p1) write_blocks(s, s.nq + p1, x + (p1 - w) * row, row, F - p1);
  }
  for (int64_t t = std::max(F, w); t < total; ++t) ring_store(s, n0 + (t - w), x + (t - w) * row, row);
  s.nq += F;
}

void KVCache::append(int layer, const float* k, const float* v, int64_t T) {
  check_layer(layer, "KVCache.append");
  Layer& L = layers_[(size_t)layer];
  ENGRAM_CHECK(T >= 0, SHAPE, "KVCache.append: negative token count ", T);
  if (T == 0) return;
  ENGRAM_CHECK(L.n + T <= opt_.max_tokens, STATE, "KVCache.append: ", T, " tokens on top of ", L.n,
               " exceed maxTokens ", opt_.max_tokens, " (layer ", layer, ")");
  const int64_t rows = T * opt_.heads, D = opt_.head_dim;
  for (const float* x : {k, v})
    for (int64_t i = 0; i < rows * D; ++i)
      ENGRAM_CHECK(std::isfinite(x[i]), NAN, "KVCache.append: ", x == k ? "k" : "v", " has a non-finite value at token ",
                   i / (opt_.heads * D), ", head ", (i / D) % opt_.heads, ", channel ", i % D);
  qk_->validate(k, D, rows);
  qv_->validate(v, D, rows);
  // Allocate (and un-share) every page the two streams will write before writing any.
  for (Stream* s : {&L.k, &L.v}) {
    const int64_t w = L.n - s->nq, total = w + T;
    const int64_t F = !s->windowed ? T : (total > residual_ ? (total - residual_) / s->bt * s->bt : 0);
    if (F > 0)
      for (int64_t p = s->nq / page_tokens_; p <= (s->nq + F - 1) / page_tokens_; ++p) page_for_write(*s, p);
  }
  append_stream(L.k, L.n, k, T);
  append_stream(L.v, L.n, v, T);
  L.n += T;
}

void KVCache::truncate_stream(Stream& s, int64_t, int64_t n) {
  if (n >= s.nq) return;  // only window rows are dropped
  const int64_t nq = n / s.bt * s.bt;
  if (nq < n) {  // a partial KIVI key block: decode its surviving tokens back into the window
    const int H = opt_.heads, D = opt_.head_dim;
    const int64_t p = nq / page_tokens_, off = (nq - p * page_tokens_) / s.bt * s.bb;
    std::vector<uint8_t> blk((size_t)s.bb);
    std::vector<float> rows((size_t)(s.bt * H * D));
    for (int h = 0; h < H; ++h) {
      copy_bytes(blk.data(), DeviceType::CPU, static_cast<uint8_t*>(s.pages[(size_t)p]->data) + h * s.head_bytes + off,
                 opt_.device, (size_t)s.bb);
      s.q->decode(blk.data(), s.bt, table_head(*s.q, h), rows.data() + (int64_t)h * D, (int64_t)H * D);
    }
    for (int64_t t = nq; t < n; ++t) ring_store(s, t, rows.data() + (t - nq) * H * D, (int64_t)H * D);
  }
  s.nq = nq;
  s.pages.resize((size_t)((nq + page_tokens_ - 1) / page_tokens_));
}

void KVCache::truncate(int64_t n) {
  ENGRAM_CHECK(n >= 0, ARG, "KVCache.truncate: length must be >= 0, got ", n);
  for (Layer& L : layers_) {
    if (n >= L.n) continue;
    truncate_stream(L.k, L.n, n);
    truncate_stream(L.v, L.n, n);
    L.n = n;
  }
}

KVCache::KVCache(const KVCache& o, int)
    : opt_(o.opt_), qk_(o.qk_), qv_(o.qv_), residual_(o.residual_), page_tokens_(o.page_tokens_), layers_(o.layers_) {
  for (Layer& L : layers_)
    for (Stream* s : {&L.k, &L.v})
      if (s->dev_ring) {
        auto r = std::make_shared<Storage>(opt_.device, s->ring.size() * sizeof(float));
        copy_bytes(r->data, opt_.device, s->dev_ring->data, opt_.device, s->ring.size() * sizeof(float));
        s->dev_ring = r;
      }
}

std::unique_ptr<KVCache> KVCache::fork() const { return std::unique_ptr<KVCache>(new KVCache(*this, 0)); }

int64_t KVCache::bytes() const {
  int64_t total = 0;
  for (const Layer& L : layers_)
    for (const Stream* s : {&L.k, &L.v}) {
      total += s->nq / s->bt * s->bb * opt_.heads;
      if (s->windowed) total += (L.n - s->nq) * opt_.heads * opt_.head_dim * (int64_t)sizeof(float);
    }
  return total;
}

int64_t KVCache::allocated_bytes() const {
  int64_t total = 0;
  for (const Layer& L : layers_)
    for (const Stream* s : {&L.k, &L.v}) {
      for (const auto& p : s->pages)
        if (p) total += s->page_bytes;
      total += (int64_t)(s->ring.size() * sizeof(float));
    }
  return total;
}

}  // namespace quant
}  // namespace engram
