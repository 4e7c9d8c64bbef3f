// The single error boundary between the core and JavaScript. Every exported
// function body runs inside ENGRAM_NAPI_TRY; engram::Error becomes a JS
// EngramError (the class lib/errors.ts hands to the addon at load) with the
// same code, anything else an EngramError with code E_INTERNAL.
#pragma once
#include <napi.h>

#include <string>

#include "engram/error.h"

namespace engram {
namespace napi {

// Remembers the JS EngramError constructor (called once from lib/binding.ts).
void set_error_class(Napi::Env env, Napi::Function ctor);
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const std::string& code, const std::string& message);

// Converts the in-flight C++ exception into a pending JS exception.
void rethrow_as_js(Napi::Env env);

}  // namespace napi
}  // namespace engram

#define ENGRAM_NAPI_TRY(env, ...)             \
  try {                                       \
    __VA_ARGS__                               \
  } catch (const Napi::Error&) {              \
    throw;                                    \
  } catch (...) {                             \
    ::engram::napi::rethrow_as_js(env);       \
    return env.Undefined();                   \
  }
