// KVCacheState: a quantized KVCache (kvcache.h) as a plan StateKernel, so an
// attention node bound to it runs inside a compiled plan (docs/graphs.md,
// "Bound states"). Batch row b of the node is layer b of the cache (a cache
// for B sequences has `layers = B`). For an `sdpa` node with inputs
// (q [B,T,H,D], k_new [B,T,Hkv,D], v_new [B,T,Hkv,D]) it appends k_new/v_new
// to each row's layer (encoding them), then attends q (the last T positions,
// causal or not, the node's scale) straight from the codes, into out[0] (the
// node's dtype and device). `sdpaWindow` nodes are E_UNSUPPORTED: a quantized
// cache keeps every position.
#pragma once
#include <memory>
#include <mutex>

#include "engram/plan.h"
#include "kvcache.h"

namespace engram {
namespace quant {

class KVCacheState : public StateKernel {
 public:
  explicit KVCacheState(std::shared_ptr<KVCache> cache) : c_(std::move(cache)) {}
  const char* kind() const override { return "quant-kv"; }
  void run_bound(OpCall& call) override;
  const std::shared_ptr<KVCache>& cache() const { return c_; }

 private:
  std::shared_ptr<KVCache> c_;
  std::mutex mu_;
};

}  // namespace quant
}  // namespace engram
