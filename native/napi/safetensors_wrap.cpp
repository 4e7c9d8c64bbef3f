// safetensors loading for JS: loadSafetensors(path, mmap) -> Promise (read and
// validated off the JS thread), loadSafetensorsSync(path, mmap), and
// parseSafetensors(bytes) (in memory; the fuzz tests use it). Each resolves
// to {names, tensors, metadata, mapped}.
#include <napi.h>

#include <memory>

#include "async_job.h"
#include "engram/safetensors.h"
#include "errors.h"
#include "tensor_wrap.h"

namespace engram {
namespace napi {

namespace {

Napi::Value to_js(Napi::Env env, SafetensorsFile& f) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array names = Napi::Array::New(env, f.tensors.size()), ts = Napi::Array::New(env, f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    names.Set((uint32_t)i, f.header.tensors[i].name);
    ts.Set((uint32_t)i, TensorHandle::Wrap(env, std::move(f.tensors[i])));
  }
  Napi::Object meta = Napi::Object::New(env);
  for (const auto& kv : f.header.metadata) meta.Set(kv.first, kv.second);
  o.Set("names", names);
  o.Set("tensors", ts);
  o.Set("metadata", meta);
  o.Set("mapped", Napi::Boolean::New(env, f.mapped));
  return o;
}

std::string path_arg(const Napi::CallbackInfo& info, const char* fn) {
  ENGRAM_CHECK(info.Length() >= 1 && info[0].IsString(), ARG, fn, ": path must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    std::string path = path_arg(info, "loadSafetensors");
    bool mmap = info.Length() > 1 && info[1].ToBoolean();
    auto f = std::make_shared<SafetensorsFile>();
    return PromiseJob::Start(
        env, "engram:safetensors", [f, path, mmap] { *f = load_safetensors(path, mmap); },
        [f](Napi::Env e) { return to_js(e, *f); });
  })
}

Napi::Value LoadSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    SafetensorsFile f = load_safetensors(path_arg(info, "loadSafetensorsSync"), info.Length() > 1 && info[1].ToBoolean());
    return to_js(env, f);
  })
}

Napi::Value Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() >= 1 && info[0].IsTypedArray(), ARG, "parseSafetensors: expected a Uint8Array");
    Napi::TypedArray a = info[0].As<Napi::TypedArray>();
    const uint8_t* p = static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
    SafetensorsFile f = load_safetensors_bytes(p, a.ByteLength());
    return to_js(env, f);
  })
}

}  // namespace

void register_safetensors_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("loadSafetensors", Napi::Function::New(env, Load, "loadSafetensors"));
  exports.Set("loadSafetensorsSync", Napi::Function::New(env, LoadSync, "loadSafetensorsSync"));
  exports.Set("parseSafetensors", Napi::Function::New(env, Parse, "parseSafetensors"));
}

}  // namespace napi
}  // namespace engram
