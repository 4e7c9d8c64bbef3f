// PlainKVCache: storage, growth, window compaction, attention and the plan
// binding. Rows of one batch entry are contiguous in [B, cap, H, D], so
// appends and compactions are per-batch byte copies on any device.
#include "engram/attention_cache.h"

#include <algorithm>

#include "engram/alloc.h"
#include "engram/backend.h"
#include "engram/params_model.h"

namespace engram {

namespace {
Tensor as_f32(const Tensor& t) {
  if (t.dtype() == DType::F32) return t;
  Attrs a;
  a.set_string("to", "f32");
  return call_op1(OpId::CAST, {t}, a);
}
// dst[b, 0:n] = src[b, 0:n] for each b (dst rows contiguous per batch entry).
void copy_rows(const Tensor& dst, int64_t dst_row, const Tensor& src, int64_t src_row, int64_t n) {
  if (n <= 0) return;
  for (int64_t b = 0; b < dst.size(0); ++b) {
    Tensor d = dst.select(0, b).slice(0, dst_row, dst_row + n);
    Tensor s = contiguous(src.select(0, b).slice(0, src_row, src_row + n));
    copy_bytes(d.raw(), d.device(), s.raw(), s.device(), s.nbytes());
  }
}
}  // namespace

PlainKVCache::PlainKVCache(int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t value_dim, int64_t window,
                           DeviceType dev)
    : B_(batch), Hkv_(kv_heads), D_(head_dim), Dv_(value_dim), window_(window), dev_(dev) {
  ENGRAM_CHECK(batch >= 1 && kv_heads >= 1 && head_dim >= 1 && value_dim >= 1, ARG,
               "KV cache: batch, kvHeads, headDim and valueDim must be >= 1, got ", batch, ", ", kv_heads, ", ",
               head_dim, ", ", value_dim);
  ENGRAM_CHECK(window >= 0, ARG, "KV cache: window must be >= 0 (0 = unbounded), got ", window);
  require_available(dev);
}

int64_t PlainKVCache::bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return len_ * B_ * Hkv_ * (D_ + Dv_) * 4;
}
int64_t PlainKVCache::capacity_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cap_ * B_ * Hkv_ * (D_ + Dv_) * 4;
}

void PlainKVCache::check_kv(const Tensor& k, const Tensor& v, const char* what) const {
  ENGRAM_CHECK(k.defined() && v.defined(), ARG, what, ": keys and values are required");
  ENGRAM_CHECK(is_float(k.dtype()) && is_float(v.dtype()), DTYPE, what, ": keys/values must be float, got ",
               dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  ENGRAM_CHECK(k.ndim() == 4 && k.size(0) == B_ && k.size(2) == Hkv_ && k.size(3) == D_, SHAPE, what,
               ": keys must be [", B_, ", T, ", Hkv_, ", ", D_, "], got ", k.shape().str());
  ENGRAM_CHECK(v.ndim() == 4 && v.size(0) == B_ && v.size(1) == k.size(1) && v.size(2) == Hkv_ && v.size(3) == Dv_,
               SHAPE, what, ": values must be [", B_, ", ", k.size(1), ", ", Hkv_, ", ", Dv_, "], got ",
               v.shape().str());
  ENGRAM_CHECK(k.device() == dev_ && v.device() == dev_, DEVICE, what, ": the cache lives on ", device_name(dev_));
}

void PlainKVCache::reserve(int64_t need) {
  // A windowed cache keeps only the last W-1 positions between calls (all a
  // later query can see): it is compacted once it holds more than ~2W, so
  // memory stays O(W) and appends cost amortised O(1).
  const int64_t limit = window_ > 0 ? std::max<int64_t>(2 * window_, 64) : INT64_MAX;
  if (len_ + need <= cap_ && (len_ + need <= limit || len_ <= window_ - 1)) return;
  const int64_t keep = window_ > 0 ? std::min(len_, window_ - 1) : len_;
  int64_t cap = 16;
  if (window_ > 0) {
    while (cap < std::max(limit, keep + need)) cap *= 2;
  } else {
    cap = std::max<int64_t>(16, cap_);
    while (cap < keep + need) cap *= 2;
  }
  Tensor nk = Tensor::empty(Dims{B_, cap, Hkv_, D_}, DType::F32, dev_);
  Tensor nv = Tensor::empty(Dims{B_, cap, Hkv_, Dv_}, DType::F32, dev_);
  copy_rows(nk, 0, k_, len_ - keep, keep);
  copy_rows(nv, 0, v_, len_ - keep, keep);
  k_ = nk;
  v_ = nv;
  cap_ = cap;
  len_ = keep;
}

void PlainKVCache::append(const Tensor& k, const Tensor& v) {
  std::lock_guard<std::mutex> lk(mu_);
  check_kv(k, v, "KV cache append");
  const int64_t T = k.size(1);
  reserve(T);
  copy_rows(k_, len_, as_f32(k), 0, T);
  copy_rows(v_, len_, as_f32(v), 0, T);
  len_ += T;
  pos_ += T;
}

Tensor PlainKVCache::attend(const Tensor& q, OpId op, const OpParams& params) {
  std::lock_guard<std::mutex> lk(mu_);
  ENGRAM_CHECK(len_ > 0, STATE, "KV cache attend: the cache is empty");
  OpCall c;
  c.op = op;
  c.params = params;
  c.in = {as_f32(q), k_.slice(1, 0, len_), v_.slice(1, 0, len_)};
  run_op(c);
  return c.out[0];
}

void PlainKVCache::run_bound(OpCall& call) {
  ENGRAM_CHECK(call.op == OpId::SDPA || call.op == OpId::SDPA_WINDOW, ARG, "a KV cache runs sdpa or sdpaWindow nodes, not ",
               op_name(call.op));
  if (call.op == OpId::SDPA_WINDOW)
    ENGRAM_CHECK(window_ >= call.p<SdpaWindowParams>().window, ARG, "KV cache window ", window_,
                 " is smaller than the node's attention window ", call.p<SdpaWindowParams>().window);
  append(call.in[1], call.in[2]);
  Tensor o = attend(call.in[0], call.op, call.params);
  Tensor& out = call.out[0];
  if (o.dtype() != out.dtype()) {
    Attrs a;
    a.set_string("to", dtype_name(out.dtype()));
    o = call_op1(OpId::CAST, {o}, a);
  }
  copy_bytes(out.raw(), out.device(), o.raw(), o.device(), o.nbytes());
}

Tensor PlainKVCache::keys() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (!len_) return Tensor::empty(Dims{B_, 0, Hkv_, D_}, DType::F32, dev_);
  return call_op1(OpId::COPY, {k_.slice(1, 0, len_)});
}
Tensor PlainKVCache::values() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (!len_) return Tensor::empty(Dims{B_, 0, Hkv_, Dv_}, DType::F32, dev_);
  return call_op1(OpId::COPY, {v_.slice(1, 0, len_)});
}

void PlainKVCache::load(const Tensor& k, const Tensor& v, int64_t position) {
  check_kv(k, v, "KV cache load");
  ENGRAM_CHECK(position >= k.size(1), ARG, "KV cache load: position ", position, " is less than the ", k.size(1),
               " stored positions");
  std::lock_guard<std::mutex> lk(mu_);
  k_ = Tensor();
  v_ = Tensor();
  cap_ = len_ = 0;
  reserve(k.size(1));
  copy_rows(k_, 0, as_f32(k), 0, k.size(1));
  copy_rows(v_, 0, as_f32(v), 0, k.size(1));
  len_ = k.size(1);
  pos_ = position;
}

std::shared_ptr<PlainKVCache> PlainKVCache::fork() const {
  auto c = std::make_shared<PlainKVCache>(B_, Hkv_, D_, Dv_, window_, dev_);
  Tensor k = keys(), v = values();
  int64_t pos;
  {
    std::lock_guard<std::mutex> lk(mu_);
    pos = pos_;
  }
  c->load(k, v, pos);
  return c;
}

void PlainKVCache::reset() {
  std::lock_guard<std::mutex> lk(mu_);
  k_ = Tensor();
  v_ = Tensor();
  cap_ = len_ = pos_ = 0;
}

}  // namespace engram
