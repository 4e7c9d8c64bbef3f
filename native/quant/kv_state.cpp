// KVCacheState::run_bound (see kv_state.h).
#include "kv_state.h"

#include <cstring>

#include "../cpu/cpu_common.h"
#include "engram/alloc.h"
#include "engram/backend.h"
#include "engram/params.h"

namespace engram {
namespace quant {

void KVCacheState::run_bound(OpCall& call) {
  ENGRAM_CHECK(call.op == OpId::SDPA || call.op == OpId::SDPA_WINDOW, ARG,
               "a quantized KV cache runs sdpa nodes, not ", op_name(call.op));
  ENGRAM_CHECK(call.op == OpId::SDPA, UNSUPPORTED,
               "a quantized KV cache keeps every position: use it with full attention (sdpa), not sdpaWindow");
  const KVCacheOptions& o = c_->options();
  const Tensor &q = call.in[0], &k = call.in[1], &v = call.in[2];
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
  ENGRAM_CHECK(k.size(2) == o.heads && k.size(3) == o.head_dim && v.size(3) == o.head_dim && D == o.head_dim, SHAPE,
               "quantized KV cache: the node's keys ", k.shape().str(), " / values ", v.shape().str(), " do not match the cache's ",
               o.heads, " heads of dim ", o.head_dim);
  ENGRAM_CHECK(B == o.layers, SHAPE, "quantized KV cache: ", B, " sequences but the cache holds ", o.layers,
               " (one layer per batch row)");
  const SdpaParams& p = call.p<SdpaParams>();
  AttendOptions ao;
  ao.causal = p.causal;
  ao.scale = p.scale;
  // host f32 copies (the cache encodes on the host and copies what it keeps)
  const Tensor qh = cpu::as_f32_contiguous(to_device(q, DeviceType::CPU));
  const Tensor kh = cpu::as_f32_contiguous(to_device(k, DeviceType::CPU));
  const Tensor vh = cpu::as_f32_contiguous(to_device(v, DeviceType::CPU));
  Tensor& out = call.out[0];
  const bool direct = out.device() == DeviceType::CPU && out.dtype() == DType::F32 && out.is_contiguous();
  Tensor res = direct ? out : Tensor::empty(q.shape(), DType::F32, DeviceType::CPU);
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t per = T * o.heads * o.head_dim;
      c_->append((int)b, kh.data<float>() + b * per, vh.data<float>() + b * per, T);
      c_->attend((int)b, qh.data<float>() + b * T * H * D, T, (int)H, ao, res.data<float>() + b * T * H * D);
    }
  }
  if (direct) return;
  if (out.dtype() != DType::F32) {
    Attrs a;
    a.set_string("to", dtype_name(out.dtype()));
    res = call_op1(OpId::CAST, {res}, a);
  }
  copy_bytes(out.raw(), out.device(), res.raw(), res.device(), res.nbytes());
}

}  // namespace quant
}  // namespace engram
