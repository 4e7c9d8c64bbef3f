// KVCache: a paged, quantized key/value cache for one sequence, with
// attention computed straight from the packed codes (kv_attend.cpp), fork()
// with copy-on-write prefix sharing, truncate, and a versioned, checksummed
// serialization (kv_serialize.cpp).
//
// Per layer there are two streams (keys, values). A stream stores tokens
// [0, nq) as encoded blocks in pages of `page_tokens` tokens (page layout
// [heads][page_tokens / block_tokens][block_bytes], so one head's codes are
// contiguous inside a page) and tokens [nq, n) in full precision (f32) in a
// ring buffer: the residual window. After every append the oldest window
// tokens are encoded as long as more than `residual` remain, in whole blocks
// (KIVI keys: `group` tokens), so the window holds the most recent
// residual..residual + block - 1 tokens. Plain f32/f16/bf16 streams have no
// window. Pages are shared_ptrs: fork() copies the page table, and a write
// into a page someone else holds copies it first.
//
// Pages live on the cache's device (Storage); on CUDA the attention runs in
// cuda/quant/kv_attend.cu and encoding runs on the host (codes are uploaded).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engram/tensor.h"
#include "quantizer.h"

namespace engram {
namespace quant {

struct KVCacheOptions {
  int layers = 1;
  int heads = 0;
  int head_dim = 0;
  int64_t max_tokens = 0;
  QuantConfig keys, values;  // PLAIN (f32/f16/bf16) or a quantizer
  int64_t residual = -1;     // full-precision window; -1: the KIVI quantizers' `residual`, else 0
  DeviceType device = DeviceType::CPU;
};

struct AttendOptions {
  bool causal = true;
  float scale = 0.0f;      // 0: 1/sqrt(head_dim)
  bool reference = false;  // decode everything with the scalar references, attend in double
};

class KVCache {
 public:
  explicit KVCache(const KVCacheOptions& opt);  // validates (E_ARG / E_SHAPE)
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;

  const KVCacheOptions& options() const { return opt_; }
  const Quantizer& key_quantizer() const { return *qk_; }
  const Quantizer& value_quantizer() const { return *qv_; }
  int64_t residual() const { return residual_; }
  int64_t page_tokens() const { return page_tokens_; }

  // k, v: [T, heads, head_dim] f32 rows, contiguous. Validates everything
  // (E_SHAPE, E_STATE past max_tokens, E_NAN, E_ARG for unstorable values)
  // before changing anything.
  void append(int layer, const float* k, const float* v, int64_t T);
  // q: [Tq, hq, head_dim] f32 (hq a multiple of heads: grouped-query
  // attention) -> out [Tq, hq, head_dim]. Causal: query i is token
  // n - Tq + i and sees keys [0, n - Tq + i].
  void attend(int layer, const float* q, int64_t Tq, int hq, const AttendOptions& o, float* out) const;

  int64_t length(int layer = 0) const;
  // Bytes of the stored representation now: codes (with norms/scales) of the
  // encoded tokens plus the f32 window rows, all layers, both streams.
  int64_t bytes() const;
  // Bytes held by pages and windows (capacity, shared pages included).
  int64_t allocated_bytes() const;
  // Drops tokens [n, length) in every layer (no-op when n >= length).
  // Encoded tokens stay encoded; a partial KIVI key block is decoded back
  // into the window so blocks stay aligned.
  void truncate(int64_t n);
  // A new cache sharing every page with this one (copy-on-write).
  std::unique_ptr<KVCache> fork() const;

  std::vector<uint8_t> serialize() const;
  // Rejects corrupt or hostile input with E_FORMAT; never reads out of bounds.
  static std::unique_ptr<KVCache> deserialize(const uint8_t* data, size_t size);

  // Internals shared by kv_attend.cpp / kv_serialize.cpp / the CUDA path.
  struct Stream {
    std::shared_ptr<const Quantizer> q;
    int64_t bt = 1;            // block tokens
    int64_t bb = 0;            // block bytes
    int64_t head_bytes = 0;    // bytes per head in a page
    int64_t page_bytes = 0;
    int64_t wcap = 0;          // ring capacity (0: no window)
    bool windowed = false;
    std::vector<std::shared_ptr<Storage>> pages;
    int64_t nq = 0;
    std::vector<float> ring;   // host ring [heads][wcap][head_dim] (empty until used)
    std::shared_ptr<Storage> dev_ring;  // device copy (CUDA caches)
  };
  struct Layer {
    Stream k, v;
    int64_t n = 0;
  };
  const Layer& layer(int i) const { return layers_[(size_t)i]; }

 private:
  KVCacheOptions opt_;
  std::shared_ptr<const Quantizer> qk_, qv_;
  int64_t residual_ = 0;
  int64_t page_tokens_ = 256;
  std::vector<Layer> layers_;

  KVCache(const KVCache& other, int fork_tag);  // fork(): shares pages, copies windows
  void init_stream(Stream& s, const std::shared_ptr<const Quantizer>& q) const;
  void check_layer(int layer, const char* what) const;
  void append_stream(Stream& s, int64_t n_before, const float* x, int64_t T);
  void write_blocks(Stream& s, int64_t tok0, const float* x, int64_t ldx_tok, int64_t ntok);
  uint8_t* page_for_write(Stream& s, int64_t page);
  void ring_store(Stream& s, int64_t tok, const float* x, int64_t ld_tok);
  void ensure_ring(Stream& s);  // windows are allocated at first use
  void sync_ring(Stream& s) const;
  void truncate_stream(Stream& s, int64_t n_old, int64_t n);
  void attend_cpu(int layer, const float* q, int64_t Tq, int hq, bool causal, float scale, float* out) const;
  void attend_ref(int layer, const float* q, int64_t Tq, int hq, bool causal, float scale, float* out) const;
  void attend_cuda(int layer, const float* q, int64_t Tq, int hq, bool causal, float scale, float* out) const;
  friend struct KVSerializer;
};

}  // namespace quant
}  // namespace engram
