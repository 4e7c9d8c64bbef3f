// N-API module registration only; the functions live in tensor_wrap.cpp and
// ops_wrap.cpp. The module is context-aware (loads in worker threads).
#include <napi.h>

#include "addon_data.h"
#include "engram/threadpool.h"

namespace engram {
namespace napi {

void register_tensor_functions(Napi::Env env, Napi::Object exports);
void register_op_functions(Napi::Env env, Napi::Object exports);
void register_bench_functions(Napi::Env env, Napi::Object exports);
void register_plan_functions(Napi::Env env, Napi::Object exports);
void register_kv_cache_functions(Napi::Env env, Napi::Object exports);
void register_safetensors_functions(Napi::Env env, Napi::Object exports);
void register_quant_functions(Napi::Env env, Napi::Object exports);
void register_quant_kvcache_functions(Napi::Env env, Napi::Object exports);

AddonData& addon_data(Napi::Env env) {
  AddonData* d = env.GetInstanceData<AddonData>();
  if (!d) {
    d = new AddonData();
    env.SetInstanceData<AddonData>(d);
  }
  return *d;
}

}  // namespace napi
}  // namespace engram

static Napi::Object EngramInit(Napi::Env env, Napi::Object exports) {
  engram::set_never_wait_for_pool(true);  // this is a JS thread
  engram::napi::addon_data(env);
  engram::napi::register_tensor_functions(env, exports);
  engram::napi::register_op_functions(env, exports);
  engram::napi::register_bench_functions(env, exports);
  engram::napi::register_plan_functions(env, exports);
  engram::napi::register_kv_cache_functions(env, exports);
  engram::napi::register_safetensors_functions(env, exports);
  engram::napi::register_quant_functions(env, exports);
  engram::napi::register_quant_kvcache_functions(env, exports);
  return exports;
}

NODE_API_MODULE(engram, EngramInit)
