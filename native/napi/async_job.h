// PromiseJob: runs `work` on the libuv pool (no N-API there) and settles a
// Promise on the JS thread with `done(env)`, or rejects with an EngramError
// carrying the core error's code. Used by plans, KV caches and safetensors.
#pragma once
#include <napi.h>

#include <functional>
#include <string>

#include "engram/error.h"
#include "errors.h"

namespace engram {
namespace napi {

class PromiseJob : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Finally = std::function<void()>;

  // Queues the job and returns its Promise. `fin` (optional) runs on the JS
  // thread before the Promise settles, on success and on failure alike.
  static Napi::Promise Start(Napi::Env env, const char* name, Work work, Done done, Finally fin = nullptr) {
    auto* j = new PromiseJob(env, name, std::move(work), std::move(done));
    j->fin_ = std::move(fin);
    Napi::Promise p = j->deferred_.Promise();
    j->Queue();
    return p;
  }

  void Execute() override {
    try {
      work_();
    } catch (const engram::Error& e) {
      code_ = error_code_name(e.code());
      msg_ = e.what();
    } catch (const std::bad_alloc&) {
      code_ = "E_OOM";
      msg_ = "out of memory";
    } catch (const std::exception& e) {
      code_ = "E_INTERNAL";
      msg_ = std::string("internal error: ") + e.what();
    } catch (...) {
      code_ = "E_INTERNAL";
      msg_ = "internal error: unknown exception";
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (fin_) fin_();
    if (!code_.empty()) {
      deferred_.Reject(make_error(env, code_, msg_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(make_error(env, "E_INTERNAL", "internal error while resolving").Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    if (fin_) fin_();
    deferred_.Reject(e.Value());
  }

 private:
  PromiseJob(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Finally fin_;
  std::string code_, msg_;
};

// For constructors (which cannot return undefined): turns the in-flight
// exception into a thrown JS EngramError.
[[noreturn]] inline void throw_as_js(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (const engram::Error& e) {
    throw make_error(env, error_code_name(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, "E_OOM", "out of memory");
  } catch (const std::exception& e) {
    throw make_error(env, "E_INTERNAL", std::string("internal error: ") + e.what());
  }
}

}  // namespace napi
}  // namespace engram
