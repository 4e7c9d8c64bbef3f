// The op entry points: op(name, inputs, options) runs synchronously,
// opAsync(...) validates and allocates on the JS thread, computes on the libuv
// pool, and resolves with the outputs. Also: the op list, the backends, thread
// and test switches, and the CPU reference path.
#include <cmath>
#include <string>
#include <vector>

#include "../cpu/cpu_features.h"
#include "../cpu/gemm.h"
#include "../cpu/kernels.h"
#include "addon_data.h"
#include "async_job.h"
#include "engram/alloc.h"
#include "engram/backend.h"
#include "engram/engine.h"
#include "engram/threadpool.h"
#include "errors.h"
#include "napi_util.h"
#include "tensor_wrap.h"

namespace engram {
namespace napi {

namespace {

OpCall build_call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_CHECK(info.Length() >= 2 && info[0].IsString(), ARG, "op(): name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  OpCall c;
  ENGRAM_CHECK(find_op(name, &c.op), ARG, "unknown op '", name, "'");
  ENGRAM_CHECK(info[1].IsArray(), ARG, name, ": inputs must be an array");
  Napi::Array ins = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < ins.Length(); ++i) {
    Napi::Value v = ins.Get(i);
    if (v.IsNull() || v.IsUndefined()) {
      c.in.emplace_back();
      continue;
    }
    std::string what = name + " input " + std::to_string(i);
    c.in.push_back(TensorHandle::Get(env, v, what.c_str()));
  }
  Attrs attrs = attrs_from_js(info.Length() > 2 ? info[2] : env.Undefined(), name.c_str());
  parse_op(c, attrs);
  return c;
}

Napi::Array wrap_outputs(Napi::Env env, std::vector<Tensor>& outs) {
  Napi::Array a = Napi::Array::New(env, outs.size());
  for (size_t i = 0; i < outs.size(); ++i) a.Set((uint32_t)i, TensorHandle::Wrap(env, std::move(outs[i])));
  return a;
}

Napi::Value Op(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    OpCall c = build_call(info);
    run_op(c);
    return wrap_outputs(env, c.out);
  })
}

Napi::Value ReferenceOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    OpCall c = build_call(info);
    for (const Tensor& t : c.in)
      ENGRAM_CHECK(!t.defined() || t.device() == DeviceType::CPU, DEVICE, "referenceOp(): inputs must be on the cpu");
    prepare_op(c);
    bool any = false;
    for (const Tensor& o : c.out) any |= o.numel() > 0;
    if (any) cpu::run_reference(c);
    return wrap_outputs(env, c.out);
  })
}

Napi::Value OpAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    auto call = std::make_shared<OpCall>(build_call(info));
    prepare_op(*call);  // validation errors throw here, synchronously
    return PromiseJob::Start(
        env, "engram:op",
        [call] {
          execute_op(*call);
          for (const Tensor& o : call->out)
            if (o.defined() && o.device() != DeviceType::CPU) {
              backend_for(o.device()).synchronize();
              break;
            }
        },
        [call](Napi::Env e) -> Napi::Value { return wrap_outputs(e, call->out); });
  })
}

Napi::Value OpNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, (size_t)kNumOps);
  for (int i = 0; i < kNumOps; ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", kOpArity[i].name);
    o.Set("minInputs", kOpArity[i].min_inputs);
    o.Set("maxInputs", kOpArity[i].max_inputs);
    o.Set("outputs", kOpArity[i].outputs);
    a.Set((uint32_t)i, o);
  }
  return a;
}

Napi::Object backend_to_js(Napi::Env env, const BackendInfo& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", b.name);
  o.Set("compiled", b.compiled);
  o.Set("available", b.available);
  if (!b.reason.empty()) o.Set("reason", b.reason);
  if (b.name == "cpu") {
    o.Set("threads", b.threads);
    o.Set("isa", b.isa);
  } else {
    o.Set("deviceCount", b.device_count);
    if (!b.device_name.empty()) {
      o.Set("deviceName", b.device_name);
      o.Set("totalMemory", Napi::Number::New(env, (double)b.total_memory));
      o.Set("computeCapability", b.compute_capability);
    }
  }
  Napi::Array f = Napi::Array::New(env, b.features.size());
  for (size_t i = 0; i < b.features.size(); ++i) f.Set((uint32_t)i, b.features[i]);
  o.Set("features", f);
  return o;
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    Napi::Array a = Napi::Array::New(env, 2);
    a.Set(0u, backend_to_js(env, cpu_backend().info()));
    a.Set(1u, backend_to_js(env, cuda_backend().info()));
    return a;
  })
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("napiVersion", NAPI_VERSION);
  o.Set("cudaCompiled", Napi::Boolean::New(env, ENGRAM_WITH_CUDA != 0));
  o.Set("gemmKernel", cpu::gemm_kernel_name());
  o.Set("compiler", __VERSION__);
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() > 0 && info[0].IsNumber(), ARG, "setNumThreads(): expected a number");
    double n = info[0].As<Napi::Number>().DoubleValue();
    ENGRAM_CHECK(std::isfinite(n) && n >= 1 && n <= 256 && n == std::floor(n), ARG,
                 "setNumThreads(): expected an integer in [1, 256], got ", n);
    set_num_threads((int)n);
    return Napi::Number::New(env, num_threads());
  })
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() > 0 && info[0].IsString(), ARG, "setIsa(): expected 'generic', 'avx2' or 'avx512'");
    std::string s = info[0].As<Napi::String>().Utf8Value();
    cpu::Isa want = s == "generic" ? cpu::Isa::GENERIC : s == "avx2" ? cpu::Isa::AVX2 : cpu::Isa::AVX512;
    ENGRAM_CHECK(s == "generic" || s == "avx2" || s == "avx512", ARG, "setIsa(): unknown isa '", s, "'");
    cpu::set_isa(want);
    return Napi::String::New(env, cpu::isa_name(cpu::isa()));
  })
}

Napi::Value SetPoison(const Napi::CallbackInfo& info) {
  set_poison(info.Length() > 0 && info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() > 0 && info[0].IsFunction(), ARG, "init(): expected the EngramError class");
    set_error_class(env, info[0].As<Napi::Function>());
    return env.Undefined();
  })
}

}  // namespace

void register_op_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("op", Napi::Function::New(env, Op, "op"));
  exports.Set("opAsync", Napi::Function::New(env, OpAsync, "opAsync"));
  exports.Set("referenceOp", Napi::Function::New(env, ReferenceOp, "referenceOp"));
  exports.Set("opNames", Napi::Function::New(env, OpNames, "opNames"));
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("setPoison", Napi::Function::New(env, SetPoison, "setPoison"));
}

}  // namespace napi
}  // namespace engram
