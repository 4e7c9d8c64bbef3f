// TensorHandle: the JS object that owns one engram::Tensor. lib/tensor.ts
// wraps it in the public Tensor class. dispose() frees at once (and detaches
// any zero-copy view handed out by data()); use after dispose is E_DISPOSED.
#pragma once
#include <napi.h>

#include <memory>

#include "engram/tensor.h"

namespace engram {
namespace napi {

struct ViewHolder;  // keeps storage alive for a zero-copy ArrayBuffer

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, Tensor t);
  // The tensor behind a JS value; E_ARG if it is not a handle, E_DISPOSED if disposed.
  static const Tensor& Get(Napi::Env env, Napi::Value v, const char* what);
  static bool IsHandle(Napi::Env env, Napi::Value v);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  void Dispose(Napi::Env env);
  bool disposed() const { return !tensor_.defined(); }
  const Tensor& tensor() const { return tensor_; }
  Napi::Value DataView(Napi::Env env);  // zero-copy typed array (cached)

 private:
  Tensor tensor_;
  int64_t accounted_ = 0;
  ViewHolder* view_ = nullptr;
  Napi::Reference<Napi::Value> view_ref_;
};

// Typed array of the right kind over `bytes` (copy=false: over ab).
Napi::Value typed_array_for(Napi::Env env, DType dt, Napi::ArrayBuffer ab, size_t byte_offset, size_t elements);

}  // namespace napi
}  // namespace engram
