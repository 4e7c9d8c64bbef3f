// PlainKVCache: the unquantized attention cache (f32 storage) used by the
// attention and sliding-window mixers, and the binding of a cache to a plan
// node. Keys/values are [B, S, H_kv, D] / [B, S, H_kv, Dv]; appends grow the
// capacity by doubling. With a window W > 0 only the last W-1 positions are
// kept between calls (all a later query can see), so memory stays O(W).
//
// As a plan StateKernel it runs nodes of op `sdpa` or `sdpaWindow` with inputs
// (q [B,T,H,D], k_new [B,T,H_kv,D], v_new [B,T,H_kv,Dv]): it appends k_new and
// v_new, then attends q (the last T positions) over everything cached, with
// the node's own params. Quantized caches implement the same contract.
#pragma once
#include <cstdint>
#include <mutex>

#include "plan.h"

namespace engram {

class PlainKVCache : public StateKernel {
 public:
  // window 0: keep everything (full attention).
  PlainKVCache(int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t value_dim, int64_t window,
               DeviceType dev);

  const char* kind() const override { return window_ ? "swa-f32" : "f32"; }
  void run_bound(OpCall& call) override;

  // Appends k [B, T, H_kv, D], v [B, T, H_kv, Dv] (any float dtype; stored as f32).
  void append(const Tensor& k, const Tensor& v);
  // Attention of q [B, T, H, D] (the last T cached positions, or any T with
  // causal off) over the cache: op SDPA (params SdpaParams) or SDPA_WINDOW.
  Tensor attend(const Tensor& q, OpId op, const OpParams& params);

  int64_t length() const { return len_; }      // positions stored now
  int64_t position() const { return pos_; }    // positions appended since creation (or load)
  int64_t bytes() const;                       // bytes of the stored positions
  int64_t capacity_bytes() const;              // bytes allocated
  int64_t window() const { return window_; }
  int64_t batch() const { return B_; }
  int64_t kv_heads() const { return Hkv_; }
  int64_t head_dim() const { return D_; }
  int64_t value_dim() const { return Dv_; }
  DeviceType device() const { return dev_; }

  // Contiguous copies of the stored keys/values ([B, length, H_kv, D|Dv]).
  Tensor keys() const;
  Tensor values() const;
  // Replaces the contents (shapes checked); `position` is the absolute count.
  void load(const Tensor& k, const Tensor& v, int64_t position);
  std::shared_ptr<PlainKVCache> fork() const;
  void reset();

 private:
  void reserve(int64_t need);  // capacity for `need` positions (may compact a windowed cache)
  void check_kv(const Tensor& k, const Tensor& v, const char* what) const;

  int64_t B_, Hkv_, D_, Dv_, window_;
  DeviceType dev_;
  Tensor k_, v_;  // [B, cap, H_kv, D|Dv] f32
  int64_t cap_ = 0, len_ = 0, pos_ = 0;
  mutable std::mutex mu_;
};

}  // namespace engram
