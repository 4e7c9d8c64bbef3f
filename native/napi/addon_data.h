// Per-environment state of the addon (one per Node.js thread that loads it).
#pragma once
#include <napi.h>

namespace engram {
namespace napi {

struct AddonData {
  Napi::FunctionReference error_ctor;   // lib/errors.ts EngramError
  Napi::FunctionReference tensor_ctor;  // TensorHandle
  Napi::FunctionReference quantizer_ctor, quant_kvcache_ctor;  // QuantizerHandle, QuantKVCacheHandle (quant_wrap, quant_kvcache_wrap)
  int64_t live_handles = 0;             // JS tensor handles not yet disposed/collected
};

AddonData& addon_data(Napi::Env env);

}  // namespace napi
}  // namespace engram
