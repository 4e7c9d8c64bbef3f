// KVCache serialization, format version 1 (little-endian; docs/quant.md):
//
//   0   "ENGRAMKV"                      magic (8 bytes)
//   8   u32 version (1), u32 flags (0)
//   16  u64 total size in bytes, trailer included
//   24  u32 layers, u32 heads, u32 headDim, u32 pageTokens, u64 maxTokens, u64 residual
//   56  quantizer(keys), quantizer(values)  (see put_config: kind, flags, dim, bits, seed, table
//       sizes, outlier channels, centering means), u64 fingerprint each
//       per layer: u64 n, u64 nq(keys), u64 nq(values)
//       per layer, keys then values, per head: the encoded blocks of tokens
//       [0, nq) (nq / blockTokens × blockBytes), then the window rows
//       [nq, n) as f32 [n - nq][headDim]
//   end u32 CRC-32C of every preceding byte
//
// The reader checks magic, version, size and checksum before parsing, then
// every field against limits with overflow-checked arithmetic; the rebuilt
// quantizers must have the same table fingerprints, stored norms/scales and
// window rows must be finite, and the payload must end exactly at the
// trailer. Any failure is E_FORMAT; no read goes past the buffer.
#include <cmath>
#include <cstring>
#include <string>

#include "engram/alloc.h"
#include "engram/error.h"
#include "kvcache.h"

namespace engram {
namespace quant {

namespace {

constexpr char kMagic[8] = {'E', 'N', 'G', 'R', 'A', 'M', 'K', 'V'};
constexpr uint32_t kVersion = 1;

uint32_t crc32c(const uint8_t* p, size_t n) {
  static uint32_t table[8][256];
  static bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int t = 1; t < 8; ++t) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    return true;
  }();
  (void)init;
  uint32_t c = 0xFFFFFFFFu;
  while (n >= 8) {  // slicing-by-8
    uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
        table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct Writer {
  std::vector<uint8_t> b;
  template <class T>
  void put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
  }
  void bytes(const void* p, size_t n) { b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n); }
};

struct Reader {
  const uint8_t* p;
  size_t n, off = 0;
  void need(size_t k, const char* what) const {
    ENGRAM_CHECK(k <= n - off, FORMAT, "KVCache.deserialize: truncated input (", what, " at byte ", off, ")");
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p + off, sizeof(T));
    off += sizeof(T);
    return v;
  }
  const uint8_t* take(size_t k, const char* what) {
    need(k, what);
    const uint8_t* r = p + off;
    off += k;
    return r;
  }
};

void put_config(Writer& w, const QuantConfig& c) {
  w.put<uint8_t>((uint8_t)c.kind);
  w.put<uint8_t>((uint8_t)c.plain);
  w.put<uint8_t>((uint8_t)((c.prod ? 1 : 0) | (c.hadamard ? 2 : 0) | (c.orth_sketch ? 4 : 0) | (c.f32_scalars ? 8 : 0) |
                           (c.channel_axis ? 16 : 0)));
  w.put<uint8_t>(0);
  w.put<uint32_t>((uint32_t)c.dim);
  w.put<double>(c.bits);
  w.put<uint64_t>(c.seed);
  w.put<uint32_t>((uint32_t)c.heads);
  w.put<uint32_t>((uint32_t)c.n_outliers);
  w.put<uint32_t>((uint32_t)c.sketch);
  w.put<uint32_t>((uint32_t)c.outlier_sketch);
  w.put<uint32_t>((uint32_t)c.group);
  w.put<uint32_t>((uint32_t)c.residual);
  w.put<uint32_t>((uint32_t)c.outliers.size());
  for (int32_t v : c.outliers) w.put<int32_t>(v);
  w.put<uint32_t>((uint32_t)c.center.size());
  for (float v : c.center) w.put<float>(v);
}

QuantConfig get_config(Reader& r) {
  QuantConfig c;
  const uint8_t kind = r.get<uint8_t>("quantizer kind"), plain = r.get<uint8_t>("dtype"), fl = r.get<uint8_t>("flags");
  r.get<uint8_t>("reserved");
  ENGRAM_CHECK(kind <= (uint8_t)QuantKind::INT8, FORMAT, "KVCache.deserialize: unknown quantizer kind ", (int)kind);
  ENGRAM_CHECK(plain < (uint8_t)DType::COUNT, FORMAT, "KVCache.deserialize: unknown dtype ", (int)plain);
  ENGRAM_CHECK(fl < 32, FORMAT, "KVCache.deserialize: unknown quantizer flags ", (int)fl);
  c.kind = (QuantKind)kind;
  c.plain = (DType)plain;
  c.prod = fl & 1;
  c.hadamard = fl & 2;
  c.orth_sketch = fl & 4;
  c.f32_scalars = fl & 8;
  c.channel_axis = fl & 16;
  c.dim = (int)r.get<uint32_t>("dim");
  c.bits = r.get<double>("bits");
  c.seed = r.get<uint64_t>("seed");
  const uint32_t heads = r.get<uint32_t>("heads"), nout = r.get<uint32_t>("outliers");
  const uint32_t sk = r.get<uint32_t>("sketch"), osk = r.get<uint32_t>("outlier sketch");
  const uint32_t group = r.get<uint32_t>("group"), resid = r.get<uint32_t>("residual");
  const uint32_t nlist = r.get<uint32_t>("outlier list");
  ENGRAM_CHECK(heads <= 4096 && nout <= 8192 && sk <= 16384 && osk <= 16384 && group <= 4096 && resid <= (1u << 20) &&
                   c.dim >= 0 && c.dim <= 8192 && (uint64_t)nlist == (uint64_t)heads * nout,
               FORMAT, "KVCache.deserialize: quantizer fields out of range");
  c.heads = (int)heads;
  c.n_outliers = (int)nout;
  c.sketch = (int)sk;
  c.outlier_sketch = (int)osk;
  c.group = (int)group;
  c.residual = (int)resid;
  const uint8_t* lst = r.take((size_t)nlist * 4, "outlier channels");
  c.outliers.resize(nlist);
  if (nlist) std::memcpy(c.outliers.data(), lst, (size_t)nlist * 4);  // (memcpy from null is UB even for 0 bytes)
  const uint32_t ncenter = r.get<uint32_t>("center");
  ENGRAM_CHECK(ncenter == 0 || (uint64_t)ncenter == (uint64_t)(heads ? heads : 1) * (uint64_t)c.dim, FORMAT,
               "KVCache.deserialize: center of ", ncenter, " values does not match the quantizer");
  const uint8_t* ctr = r.take((size_t)ncenter * 4, "center");
  c.center.resize(ncenter);
  if (ncenter) std::memcpy(c.center.data(), ctr, (size_t)ncenter * 4);
  for (float v : c.center) ENGRAM_CHECK(std::isfinite(v), FORMAT, "KVCache.deserialize: non-finite center");
  return c;
}

// a * b + c with overflow -> E_FORMAT (all operands non-negative).
uint64_t mad(uint64_t a, uint64_t b, uint64_t c) {
  ENGRAM_CHECK(b == 0 || a <= (UINT64_MAX - c) / b, FORMAT, "KVCache.deserialize: sizes overflow");
  return a * b + c;
}

}  // namespace

struct KVSerializer {
  static std::vector<uint8_t> save(const KVCache& kv) {
    const KVCacheOptions& o = kv.opt_;
    Writer w;
    w.bytes(kMagic, 8);
    w.put<uint32_t>(kVersion);
    w.put<uint32_t>(0);
    w.put<uint64_t>(0);  // total size, patched below
    w.put<uint32_t>((uint32_t)o.layers);
    w.put<uint32_t>((uint32_t)o.heads);
    w.put<uint32_t>((uint32_t)o.head_dim);
    w.put<uint32_t>((uint32_t)kv.page_tokens_);
    w.put<uint64_t>((uint64_t)o.max_tokens);
    w.put<uint64_t>((uint64_t)kv.residual_);
    put_config(w, kv.qk_->config());
    put_config(w, kv.qv_->config());
    w.put<uint64_t>(kv.qk_->fingerprint());
    w.put<uint64_t>(kv.qv_->fingerprint());
    for (const auto& L : kv.layers_) {
      w.put<uint64_t>((uint64_t)L.n);
      w.put<uint64_t>((uint64_t)L.k.nq);
      w.put<uint64_t>((uint64_t)L.v.nq);
    }
    const int64_t P = kv.page_tokens_, D = o.head_dim;
    for (const auto& L : kv.layers_)
      for (const KVCache::Stream* s : {&L.k, &L.v})
        for (int h = 0; h < o.heads; ++h) {
          for (int64_t t = 0; t < s->nq; t += P) {
            const int64_t p = t / P, len = std::min(P, s->nq - t) / s->bt * s->bb;
            const size_t at = w.b.size();
            w.b.resize(at + (size_t)len);
            copy_bytes(w.b.data() + at, DeviceType::CPU, static_cast<const uint8_t*>(s->pages[(size_t)p]->data) + h * s->head_bytes,
                       o.device, (size_t)len);
          }
          for (int64_t t = s->nq; t < L.n; ++t)
            w.bytes(s->ring.data() + ((int64_t)h * s->wcap + t % s->wcap) * D, sizeof(float) * (size_t)D);
        }
    const uint64_t total = w.b.size() + 4;
    std::memcpy(w.b.data() + 16, &total, 8);
    w.put<uint32_t>(crc32c(w.b.data(), w.b.size()));
    return std::move(w.b);
  }

  static std::unique_ptr<KVCache> load(const uint8_t* data, size_t size) {
    ENGRAM_CHECK(data != nullptr || size == 0, FORMAT, "KVCache.deserialize: no data");
    ENGRAM_CHECK(size >= 28, FORMAT, "KVCache.deserialize: ", size, " bytes is too short for a cache");
    ENGRAM_CHECK(std::memcmp(data, kMagic, 8) == 0, FORMAT, "KVCache.deserialize: bad magic (not an engram KV cache)");
    Reader r{data, size};
    r.off = 8;
    const uint32_t version = r.get<uint32_t>("version"), flags = r.get<uint32_t>("flags");
    ENGRAM_CHECK(version == kVersion, FORMAT, "KVCache.deserialize: unsupported format version ", version, " (this build reads ",
                 kVersion, ")");
    ENGRAM_CHECK(flags == 0, FORMAT, "KVCache.deserialize: unknown flags ", flags);
    const uint64_t total = r.get<uint64_t>("size");
    ENGRAM_CHECK(total == size, FORMAT, "KVCache.deserialize: header says ", total, " bytes, got ", size,
                 total > size ? " (truncated)" : " (trailing bytes)");
    uint32_t stored;
    std::memcpy(&stored, data + size - 4, 4);
    ENGRAM_CHECK(crc32c(data, size - 4) == stored, FORMAT, "KVCache.deserialize: checksum mismatch (corrupt data)");
    r.n = size - 4;  // the payload must end at the trailer

    KVCacheOptions o;
    const uint32_t layers = r.get<uint32_t>("layers"), heads = r.get<uint32_t>("heads"), hd = r.get<uint32_t>("headDim");
    const uint32_t pt = r.get<uint32_t>("pageTokens");
    const uint64_t maxt = r.get<uint64_t>("maxTokens"), resid = r.get<uint64_t>("residual");
    ENGRAM_CHECK(layers >= 1 && layers <= 4096 && heads >= 1 && heads <= 4096 && hd >= 1 && hd <= 8192 && maxt >= 1 &&
                     maxt <= (uint64_t(1) << 40) && resid <= (1u << 20),
                 FORMAT, "KVCache.deserialize: cache dimensions out of range");
    o.layers = (int)layers;
    o.heads = (int)heads;
    o.head_dim = (int)hd;
    o.max_tokens = (int64_t)maxt;
    o.residual = (int64_t)resid;
    o.keys = get_config(r);
    o.values = get_config(r);
    const uint64_t fk = r.get<uint64_t>("fingerprint"), fv = r.get<uint64_t>("fingerprint");
    std::unique_ptr<KVCache> kv;
    try {
      kv.reset(new KVCache(o));
    } catch (const Error& e) {
      fail(ErrorCode::E_FORMAT, "KVCache.deserialize: invalid configuration: ", e.what());
    }
    ENGRAM_CHECK(kv->page_tokens_ == (int64_t)pt, FORMAT, "KVCache.deserialize: page size ", pt, " does not match ",
                 kv->page_tokens_);
    ENGRAM_CHECK(kv->qk_->fingerprint() == fk && kv->qv_->fingerprint() == fv, FORMAT,
                 "KVCache.deserialize: the quantizer tables rebuilt here differ from the ones the cache was written "
                 "with (another build or platform)");
    // Lengths, then the exact payload size, before allocating anything.
    uint64_t need = 0;
    for (auto& L : kv->layers_) {
      const uint64_t n = r.get<uint64_t>("length"), nk = r.get<uint64_t>("nq"), nv = r.get<uint64_t>("nq");
      ENGRAM_CHECK(n <= maxt, FORMAT, "KVCache.deserialize: length ", n, " exceeds maxTokens ", maxt);
      L.n = (int64_t)n;
      const std::pair<KVCache::Stream*, uint64_t> sv[2] = {{&L.k, nk}, {&L.v, nv}};
      for (const auto& e : sv) {
        KVCache::Stream& s = *e.first;
        const uint64_t nq = e.second;
        ENGRAM_CHECK(nq <= n && nq % (uint64_t)s.bt == 0, FORMAT, "KVCache.deserialize: bad encoded length ", nq);
        ENGRAM_CHECK(s.windowed ? n - nq < (uint64_t)s.wcap : nq == n, FORMAT,
                     "KVCache.deserialize: window of ", n - nq, " tokens does not fit the configuration");
        s.nq = (int64_t)nq;
        need = mad(mad(nq / s.bt, (uint64_t)s.bb, 0), heads, need);
        need = mad(mad(n - nq, (uint64_t)hd * 4, 0), heads, need);
      }
    }
    ENGRAM_CHECK(need == r.n - r.off, FORMAT, "KVCache.deserialize: payload is ", r.n - r.off, " bytes, the header implies ",
                 need);
    const int64_t P = kv->page_tokens_, D = o.head_dim;
    for (auto& L : kv->layers_)
      for (KVCache::Stream* s : {&L.k, &L.v}) {
        s->pages.resize((size_t)((s->nq + P - 1) / P));
        for (auto& pg : s->pages) pg = std::make_shared<Storage>(o.device, (size_t)s->page_bytes);
        for (int h = 0; h < o.heads; ++h) {
          for (int64_t t = 0; t < s->nq; t += P) {
            const int64_t ntok = std::min(P, s->nq - t), len = ntok / s->bt * s->bb;
            const uint8_t* src = r.take((size_t)len, "codes");
            ENGRAM_CHECK(s->q->blocks_finite(src, ntok), FORMAT, "KVCache.deserialize: non-finite norms or scales");
            copy_bytes(static_cast<uint8_t*>(s->pages[(size_t)(t / P)]->data) + h * s->head_bytes, o.device, src,
                       DeviceType::CPU, (size_t)len);
          }
          std::vector<float> row((size_t)D);
          if (L.n > s->nq) kv->ensure_ring(*s);
          for (int64_t t = s->nq; t < L.n; ++t) {
            std::memcpy(row.data(), r.take(sizeof(float) * (size_t)D, "window"), sizeof(float) * (size_t)D);
            for (float v : row) ENGRAM_CHECK(std::isfinite(v), FORMAT, "KVCache.deserialize: non-finite window value");
            std::memcpy(s->ring.data() + ((int64_t)h * s->wcap + t % s->wcap) * D, row.data(), sizeof(float) * (size_t)D);
          }
        }
        if (s->dev_ring && !s->ring.empty())
          copy_bytes(s->dev_ring->data, o.device, s->ring.data(), DeviceType::CPU, s->ring.size() * sizeof(float));
      }
    return kv;
  }
};

std::vector<uint8_t> KVCache::serialize() const { return KVSerializer::save(*this); }

std::unique_ptr<KVCache> KVCache::deserialize(const uint8_t* data, size_t size) { return KVSerializer::load(data, size); }

}  // namespace quant
}  // namespace engram
