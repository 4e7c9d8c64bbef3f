// Objects a plan node can be bound to (StateKernel): each JS class that wraps
// one type-tags its instances and registers an unwrap function here, so
// plan_wrap.cpp can accept any of them without knowing the class. A new kind
// (e.g. the quantized KVCache) adds one register_state_type call in its Init.
#pragma once
#include <napi.h>

#include <memory>

#include "engram/plan.h"

namespace engram {
namespace napi {

using StateUnwrap = std::shared_ptr<StateKernel> (*)(Napi::Object obj);

void register_state_type(const napi_type_tag* tag, StateUnwrap fn);
// The StateKernel behind a JS object; E_ARG naming `what` if it is none.
std::shared_ptr<StateKernel> unwrap_state(Napi::Env env, Napi::Value v, const std::string& what);

}  // namespace napi
}  // namespace engram
