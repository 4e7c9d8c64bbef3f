// QuantKVCacheHandle: the JS object behind engram.KVCache (lib/quant/kvcache.ts).
// append / attend have Promise twins that run on the libuv pool; while one
// is in flight every other call on the same cache is E_STATE (busy).
// Also: quantKVCacheDeserialize, and the bench helpers (native attend timing,
// memory read bandwidth).
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>

#include "../cpu/cpu_common.h"
#include "../quant/kv_bench.h"
#include "../quant/kv_state.h"
#include "../quant/kvcache.h"
#include "addon_data.h"
#include "async_job.h"
#include "engram/engine.h"
#include "errors.h"
#include "napi_util.h"
#include "quant_wrap.h"
#include "state_binding.h"
#include "tensor_wrap.h"

namespace engram {
namespace napi {

using quant::KVCache;

namespace {

// Instances are bindable plan states (state_binding.h): quant::KVCacheState.
const napi_type_tag kQuantKVTag = {0x656e6772616d514bULL, 0x5643616368655354ULL};

Tensor f32_input(const Tensor& t, const char* what) {
  ENGRAM_CHECK(is_float(t.dtype()), DTYPE, what, " must be f32, f16 or bf16, got ", dtype_name(t.dtype()));
  return cpu::as_f32_contiguous(to_device(t, DeviceType::CPU));
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t lo, int64_t hi) {
  ENGRAM_CHECK(info.Length() > i && info[i].IsNumber(), ARG, what, " must be an integer");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  ENGRAM_CHECK(std::isfinite(d) && d == std::floor(d) && d >= (double)lo && d <= (double)hi, ARG, what,
               " must be an integer in [", lo, ", ", hi, "], got ", d);
  return (int64_t)d;
}

quant::QuantConfig stream_config(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    quant::QuantConfig c;
    ENGRAM_CHECK(s == "f32" || s == "f16" || s == "bf16", ARG, "KVCache: ", what, " must be a quantizer or 'f32' | 'f16' | 'bf16', got '",
                 s, "'");
    c.plain = s == "f32" ? DType::F32 : s == "f16" ? DType::F16 : DType::BF16;
    return c;
  }
  if (v.IsUndefined()) return quant::QuantConfig{};
  return QuantizerHandle::Get(env, v, what)->config();
}

}  // namespace

class QuantKVCacheHandle : public Napi::ObjectWrap<QuantKVCacheHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(
        env, "QuantKVCacheHandle",
        {InstanceMethod("append", &QuantKVCacheHandle::Append), InstanceMethod("appendAsync", &QuantKVCacheHandle::AppendAsync),
         InstanceMethod("attend", &QuantKVCacheHandle::Attend), InstanceMethod("attendAsync", &QuantKVCacheHandle::AttendAsync),
         InstanceMethod("length", &QuantKVCacheHandle::Length), InstanceMethod("bytes", &QuantKVCacheHandle::Bytes),
         InstanceMethod("allocatedBytes", &QuantKVCacheHandle::AllocatedBytes),
         InstanceMethod("truncate", &QuantKVCacheHandle::Truncate), InstanceMethod("fork", &QuantKVCacheHandle::Fork),
         InstanceMethod("serialize", &QuantKVCacheHandle::Serialize), InstanceMethod("info", &QuantKVCacheHandle::Info),
         InstanceMethod("quantizer", &QuantKVCacheHandle::Quantizer), InstanceMethod("dispose", &QuantKVCacheHandle::Dispose),
         InstanceMethod("isDisposed", &QuantKVCacheHandle::IsDisposed),
         InstanceMethod("benchAttend", &QuantKVCacheHandle::BenchAttend)});
    addon_data(env).quant_kvcache_ctor = Napi::Persistent(f);
    exports.Set("QuantKVCacheHandle", f);
    register_state_type(&kQuantKVTag, [](Napi::Object o) -> std::shared_ptr<StateKernel> {
      return Napi::ObjectWrap<QuantKVCacheHandle>::Unwrap(o)->bound_state();
    });
  }

  // The plan binding of this cache (created on first use; one per cache, so runs serialize on its lock).
  std::shared_ptr<StateKernel> bound_state() {
    live("bind");
    if (!state_ || state_->cache() != cache_) state_ = std::make_shared<quant::KVCacheState>(cache_);
    return state_;
  }

  static Napi::Object Wrap(Napi::Env env, std::unique_ptr<KVCache> c) {
    Napi::Object o = addon_data(env).quant_kvcache_ctor.New({Napi::External<void>::New(env, nullptr)});
    Napi::ObjectWrap<QuantKVCacheHandle>::Unwrap(o)->cache_ = std::shared_ptr<KVCache>(std::move(c));
    return o;
  }

  // new QuantKVCacheHandle(options, keys, values)
  explicit QuantKVCacheHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QuantKVCacheHandle>(info) {
    Napi::Env env = info.Env();
    info.This().As<Napi::Object>().TypeTag(&kQuantKVTag);
    if (info.Length() == 1 && info[0].IsExternal()) return;
    try {
      Attrs a = attrs_from_js(info.Length() > 0 ? info[0] : env.Undefined(), "KVCache");
      quant::KVCacheOptions o;
      o.layers = (int)a.get_int("KVCache", "layers", 1);
      o.heads = (int)a.get_int("KVCache", "heads", 0);
      o.head_dim = (int)a.get_int("KVCache", "headDim", 0);
      o.max_tokens = a.get_int("KVCache", "maxTokens", 0);
      o.residual = a.get_int("KVCache", "residualWindow", -1);
      ENGRAM_CHECK(o.residual >= -1, ARG, "KVCache: residualWindow must be >= 0, got ", o.residual);
      const std::string dev = a.get_string("KVCache", "device", "cpu");
      ENGRAM_CHECK(parse_device(dev.c_str(), &o.device), ARG, "KVCache: unknown device '", dev, "'");
      a.check_all_used("KVCache");
      o.keys = stream_config(env, info.Length() > 1 ? info[1] : env.Undefined(), "keys");
      o.values = stream_config(env, info.Length() > 2 ? info[2] : env.Undefined(), "values");
      cache_ = std::make_shared<KVCache>(o);
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      rethrow_as_js(env);
    }
  }

  std::shared_ptr<KVCache> cache_;
  std::shared_ptr<quant::KVCacheState> state_;
  std::atomic<bool> busy_{false};

  KVCache& live(const char* fn) {
    ENGRAM_CHECK(cache_, DISPOSED, "KVCache.", fn, ": the cache was disposed");
    ENGRAM_CHECK(!busy_, STATE, "KVCache.", fn, ": an async append/attend on this cache is still running");
    return *cache_;
  }

  struct AppendJob {
    std::shared_ptr<KVCache> c;
    int layer = 0;
    Tensor k, v;
    int64_t T = 0;
    void run() const { c->append(layer, k.data<float>(), v.data<float>(), T); }
  };
  struct AttendJob {
    std::shared_ptr<KVCache> c;
    int layer = 0;
    Tensor q, out;
    int64_t Tq = 0;
    int hq = 0;
    quant::AttendOptions o;
    void run() const { c->attend(layer, q.data<float>(), Tq, hq, o, out.data<float>()); }
  };

  // [T, H, D] or [1, T, H, D]
  static void seq_shape(const Tensor& t, int D, const char* what, int64_t* T, int64_t* H) {
    const bool ok = (t.ndim() == 3 || (t.ndim() == 4 && t.size(0) == 1)) && t.size(-1) == D;
    ENGRAM_CHECK(ok, SHAPE, "KVCache: ", what, " must be [T, heads, ", D, "] or [1, T, heads, ", D, "], got ", t.shape().str());
    *T = t.size(-3);
    *H = t.size(-2);
  }

  AppendJob prepare_append(Napi::Env env, const Napi::CallbackInfo& info) {
    KVCache& c = live("append");
    AppendJob j;
    j.c = cache_;
    j.layer = (int)int_arg(info, 0, "KVCache.append: layer", 0, c.options().layers - 1);
    const Tensor& k = TensorHandle::Get(env, info[1], "KVCache.append: k");
    const Tensor& v = TensorHandle::Get(env, info[2], "KVCache.append: v");
    const int D = c.options().head_dim;
    int64_t Tk, Hk, Tv, Hv;
    seq_shape(k, D, "k", &Tk, &Hk);
    seq_shape(v, D, "v", &Tv, &Hv);
    ENGRAM_CHECK(Hk == c.options().heads && Hv == c.options().heads && Tk == Tv, SHAPE, "KVCache.append: k ", k.shape().str(),
                 " and v ", v.shape().str(), " must both have ", c.options().heads, " heads and the same length");
    j.T = Tk;
    j.k = f32_input(k, "KVCache.append: k");
    j.v = f32_input(v, "KVCache.append: v");
    return j;
  }

  AttendJob prepare_attend(Napi::Env env, const Napi::CallbackInfo& info) {
    KVCache& c = live("attend");
    AttendJob j;
    j.c = cache_;
    j.layer = (int)int_arg(info, 0, "KVCache.attend: layer", 0, c.options().layers - 1);
    const Tensor& q = TensorHandle::Get(env, info[1], "KVCache.attend: q");
    int64_t Tq, Hq;
    seq_shape(q, c.options().head_dim, "q", &Tq, &Hq);
    j.Tq = Tq;
    j.hq = (int)Hq;
    j.o.causal = info.Length() > 2 && info[2].IsBoolean() ? info[2].As<Napi::Boolean>().Value() : true;
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      ENGRAM_CHECK(info[3].IsNumber(), ARG, "KVCache.attend: scale must be a number");
      j.o.scale = (float)info[3].As<Napi::Number>().DoubleValue();
      ENGRAM_CHECK(std::isfinite(j.o.scale) && j.o.scale > 0, ARG, "KVCache.attend: scale must be positive, got ", j.o.scale);
    }
    j.o.reference = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
    j.q = f32_input(q, "KVCache.attend: q");
    j.out = Tensor::empty(q.shape(), DType::F32);
    return j;
  }

  // Runs a prepared job off the JS thread; the cache reports E_STATE to other
  // calls until it settles, and the JS object stays alive meanwhile.
  template <class Job>
  Napi::Promise start_job(Napi::Env env, Job job, bool returns_out) {
    auto j = std::make_shared<Job>(std::move(job));
    auto keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(Value()));
    busy_ = true;
    return PromiseJob::Start(
        env, "engram:kvcache", [j] { j->run(); },
        [j, returns_out](Napi::Env e) -> Napi::Value {
          return returns_out ? (Napi::Value)TensorHandle::Wrap(e, out_of(*j)) : e.Undefined();
        },
        [this, keep] { busy_ = false; });
  }
  static Tensor out_of(const AttendJob& j) { return j.out; }
  static Tensor out_of(const AppendJob&) { return Tensor(); }

  Napi::Value Append(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      prepare_append(env, info).run();
      return env.Undefined();
    })
  }
  Napi::Value AppendAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      return start_job(env, prepare_append(env, info), false);
    })
  }
  Napi::Value Attend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      AttendJob j = prepare_attend(env, info);
      j.run();
      return TensorHandle::Wrap(env, j.out);
    })
  }
  Napi::Value AttendAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      return start_job(env, prepare_attend(env, info), true);
    })
  }
  Napi::Value Length(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      KVCache& c = live("length");
      int layer = info.Length() > 0 && !info[0].IsUndefined() ? (int)int_arg(info, 0, "KVCache.length: layer", 0, c.options().layers - 1) : 0;
      return Napi::Number::New(env, (double)c.length(layer));
    })
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, { return Napi::Number::New(env, (double)live("bytes").bytes()); })
  }
  Napi::Value AllocatedBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, { return Napi::Number::New(env, (double)live("allocatedBytes").allocated_bytes()); })
  }
  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      live("truncate").truncate(int_arg(info, 0, "KVCache.truncate: length", 0, int64_t(1) << 50));
      return env.Undefined();
    })
  }
  Napi::Value Fork(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, { return Wrap(env, live("fork").fork()); })
  }
  Napi::Value Serialize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      std::vector<uint8_t> b = live("serialize").serialize();
      return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size());
    })
  }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      KVCache& c = live("info");
      const auto& o = c.options();
      Napi::Object r = Napi::Object::New(env);
      r.Set("layers", o.layers);
      r.Set("heads", o.heads);
      r.Set("headDim", o.head_dim);
      r.Set("maxTokens", (double)o.max_tokens);
      r.Set("residualWindow", (double)c.residual());
      r.Set("pageTokens", (double)c.page_tokens());
      r.Set("device", device_name(o.device));
      r.Set("keys", quant_config_to_js(env, c.key_quantizer().config()));
      r.Set("values", quant_config_to_js(env, c.value_quantizer().config()));
      r.Set("keyBits", bit_account_to_js(env, c.key_quantizer().bits()));
      r.Set("valueBits", bit_account_to_js(env, c.value_quantizer().bits()));
      return r;
    })
  }
  // quantizer('keys' | 'values') -> a QuantizerHandle sharing the cache's quantizer
  Napi::Value Quantizer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      KVCache& c = live("quantizer");
      const bool keys = info.Length() > 0 && info[0].IsString() && info[0].As<Napi::String>().Utf8Value() == "keys";
      const KVCache::Layer& L = c.layer(0);
      return QuantizerHandle::Wrap(env, keys ? L.k.q : L.v.q);
    })
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      ENGRAM_CHECK(!busy_, STATE, "KVCache.dispose: an async append/attend on this cache is still running");
      cache_.reset();  // a plan run in flight keeps its own reference (through state_)
      state_.reset();
      return env.Undefined();
    })
  }
  Napi::Value IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !cache_); }

  // benchAttend(layer, q, reps) -> {best, median} ms of attend, timed natively.
  Napi::Value BenchAttend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      AttendJob j = prepare_attend(env, info);
      const int reps = (int)int_arg(info, 5, "benchAttend: reps", 1, 100000);
      std::vector<double> ms;
      j.run();  // warm-up
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        j.run();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      Napi::Object o = Napi::Object::New(env);
      o.Set("best", ms.front());
      o.Set("median", ms[ms.size() / 2]);
      return o;
    })
  }
};

static Napi::Value QuantKVCacheDeserialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() > 0 && info[0].IsTypedArray(), ARG, "KVCache.deserialize: expected a Uint8Array or Buffer");
    Napi::TypedArray t = info[0].As<Napi::TypedArray>();
    const uint8_t* p = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    return QuantKVCacheHandle::Wrap(env, KVCache::deserialize(p, t.ByteLength()));
  })
}

// quantReadBandwidth(mbytes, reps) -> GB/s reading a buffer with every thread.
static Napi::Value QuantReadBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    const int64_t mb = int_arg(info, 0, "quantReadBandwidth: mbytes", 1, 1 << 16);
    const int reps = (int)int_arg(info, 1, "quantReadBandwidth: reps", 1, 1000);
    return Napi::Number::New(env, quant::measure_read_bandwidth((size_t)mb << 20, reps));
  })
}

void register_quant_kvcache_functions(Napi::Env env, Napi::Object exports) {
  QuantKVCacheHandle::Init(env, exports);
  exports.Set("quantKVCacheDeserialize", Napi::Function::New(env, QuantKVCacheDeserialize, "quantKVCacheDeserialize"));
  exports.Set("quantReadBandwidth", Napi::Function::New(env, QuantReadBandwidth, "quantReadBandwidth"));
}

}  // namespace napi
}  // namespace engram
