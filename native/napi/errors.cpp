#include "errors.h"

#include <exception>
#include <new>

#include "addon_data.h"

namespace engram {
namespace napi {

void set_error_class(Napi::Env env, Napi::Function ctor) { addon_data(env).error_ctor = Napi::Persistent(ctor); }

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData& d = addon_data(env);
  if (!d.error_ctor.IsEmpty()) {
    Napi::Value v = d.error_ctor.New({Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, v);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw make_error(env, code, message);
}

void rethrow_as_js(Napi::Env env) {
  try {
    throw;
  } catch (const engram::Error& e) {
    make_error(env, error_code_name(e.code()), e.what()).ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    make_error(env, "E_OOM", "out of memory").ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    make_error(env, "E_INTERNAL", std::string("internal error: ") + e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    make_error(env, "E_INTERNAL", "internal error: unknown exception").ThrowAsJavaScriptException();
  }
}

}  // namespace napi
}  // namespace engram
