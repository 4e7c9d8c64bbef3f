// KVCacheHandle: the JS face of PlainKVCache (engram/attention_cache.h).
// `new KVCacheHandle({batch, kvHeads, headDim, valueDim, window, device})`
// or `new KVCacheHandle(other)` (a fork: an independent copy). Instances are
// type-tagged as bindable states, so plans accept them (state_binding.h).
#include <napi.h>

#include <cmath>

#include "async_job.h"
#include "engram/attention_cache.h"
#include "engram/backend.h"
#include "errors.h"
#include "napi_util.h"
#include "state_binding.h"
#include "tensor_wrap.h"

namespace engram {
namespace napi {

namespace {

const napi_type_tag kKVCacheTag = {0x656e6772616d4b56ULL, 0x5043616368653332ULL};

int64_t opt_int(Napi::Object o, const char* key, int64_t def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  ENGRAM_CHECK(v.IsNumber(), ARG, "KVCache: '", key, "' must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  ENGRAM_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15, ARG, "KVCache: '", key,
               "' must be an integer, got ", d);
  return (int64_t)d;
}

class KVCacheHandle : public Napi::ObjectWrap<KVCacheHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(
        env, "KVCacheHandle",
        {InstanceMethod("append", &KVCacheHandle::Append), InstanceMethod("attend", &KVCacheHandle::Attend),
         InstanceMethod("attendAsync", &KVCacheHandle::AttendAsync), InstanceMethod("keys", &KVCacheHandle::Keys),
         InstanceMethod("values", &KVCacheHandle::Values), InstanceMethod("load", &KVCacheHandle::Load),
         InstanceMethod("reset", &KVCacheHandle::Reset), InstanceMethod("info", &KVCacheHandle::Info),
         InstanceMethod("dispose", &KVCacheHandle::Dispose)});
    exports.Set("KVCacheHandle", f);
    register_state_type(&kKVCacheTag, [](Napi::Object o) -> std::shared_ptr<StateKernel> {
      return Napi::ObjectWrap<KVCacheHandle>::Unwrap(o)->live("bind");
    });
  }

  explicit KVCacheHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KVCacheHandle>(info) {
    Napi::Env env = info.Env();
    try {
      ENGRAM_CHECK(info.Length() >= 1 && info[0].IsObject(), ARG, "KVCache: expected an options object or a cache to fork");
      Napi::Object o = info[0].As<Napi::Object>();
      if (o.CheckTypeTag(&kKVCacheTag)) {
        cache_ = Napi::ObjectWrap<KVCacheHandle>::Unwrap(o)->live("fork")->fork();
      } else {
        const int64_t hd = opt_int(o, "headDim", 0);
        DeviceType dev = DeviceType::CPU;
        if (!o.Get("device").IsUndefined()) dev = parse_device_arg(o.Get("device"), "KVCache");
        cache_ = std::make_shared<PlainKVCache>(opt_int(o, "batch", 1), opt_int(o, "kvHeads", 0), hd,
                                                opt_int(o, "valueDim", hd), opt_int(o, "window", 0), dev);
      }
      info.This().As<Napi::Object>().TypeTag(&kKVCacheTag);
    } catch (...) {
      throw_as_js(env);
    }
  }

  std::shared_ptr<PlainKVCache> live(const char* fn) const {
    ENGRAM_CHECK(cache_, DISPOSED, "KVCache.", fn, ": the cache was disposed");
    return cache_;
  }

 private:
  // attend options -> (op, parsed params) through the ops' own parsers.
  static OpCall attend_call(Napi::Env env, const Napi::CallbackInfo& info) {
    Attrs a = attrs_from_js(info.Length() > 1 ? info[1] : env.Undefined(), "KVCache.attend");
    OpCall c;
    c.op = a.has("window") ? OpId::SDPA_WINDOW : OpId::SDPA;
    parse_op(c, a);
    c.in.push_back(TensorHandle::Get(env, info[0], "KVCache.attend: q"));
    return c;
  }

  Napi::Value Append(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      live("append")->append(TensorHandle::Get(env, info[0], "KVCache.append: k"),
                             TensorHandle::Get(env, info[1], "KVCache.append: v"));
      return env.Undefined();
    })
  }

  Napi::Value Attend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      OpCall c = attend_call(env, info);
      return TensorHandle::Wrap(env, live("attend")->attend(c.in[0], c.op, c.params));
    })
  }

  Napi::Value AttendAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      auto c = std::make_shared<OpCall>(attend_call(env, info));
      auto cache = live("attendAsync");
      auto out = std::make_shared<Tensor>();
      return PromiseJob::Start(
          env, "engram:kv-attend",
          [c, cache, out] {
            *out = cache->attend(c->in[0], c->op, c->params);
            if (out->device() != DeviceType::CPU) backend_for(out->device()).synchronize();
          },
          [out](Napi::Env e) -> Napi::Value { return TensorHandle::Wrap(e, *out); });
    })
  }

  Napi::Value Keys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, { return TensorHandle::Wrap(env, live("keys")->keys()); })
  }
  Napi::Value Values(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, { return TensorHandle::Wrap(env, live("values")->values()); })
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      ENGRAM_CHECK(info.Length() >= 3 && info[2].IsNumber(), ARG, "KVCache.load(k, v, position): position must be a number");
      double pos = info[2].As<Napi::Number>().DoubleValue();
      ENGRAM_CHECK(std::isfinite(pos) && pos >= 0 && pos == std::floor(pos) && pos < 9.0e15, ARG,
                   "KVCache.load: position must be a non-negative integer, got ", pos);
      live("load")->load(TensorHandle::Get(env, info[0], "KVCache.load: k"),
                         TensorHandle::Get(env, info[1], "KVCache.load: v"), (int64_t)pos);
      return env.Undefined();
    })
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      live("reset")->reset();
      return env.Undefined();
    })
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      auto c = live("info");
      Napi::Object o = Napi::Object::New(env);
      auto num = [&](const char* k, int64_t v) { o.Set(k, Napi::Number::New(env, (double)v)); };
      num("length", c->length());
      num("position", c->position());
      num("bytes", c->bytes());
      num("capacityBytes", c->capacity_bytes());
      num("window", c->window());
      num("batch", c->batch());
      num("kvHeads", c->kv_heads());
      num("headDim", c->head_dim());
      num("valueDim", c->value_dim());
      o.Set("device", device_name(c->device()));
      o.Set("kind", c->kind());
      return o;
    })
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    cache_.reset();  // a plan run in flight keeps its own reference
    return info.Env().Undefined();
  }

  std::shared_ptr<PlainKVCache> cache_;
};

}  // namespace

void register_kv_cache_functions(Napi::Env env, Napi::Object exports) { KVCacheHandle::Init(env, exports); }

}  // namespace napi
}  // namespace engram
