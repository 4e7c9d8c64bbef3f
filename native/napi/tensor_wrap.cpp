// TensorHandle and the tensor functions of the addon: creation, metadata,
// zero-copy data views, copies out, device transfer, views, dispose, memory.
#include "tensor_wrap.h"

#include <cmath>
#include <cstring>

#include "addon_data.h"
#include "engram/alloc.h"
#include "engram/backend.h"
#include "engram/engine.h"
#include "errors.h"
#include "napi_util.h"

namespace engram {
namespace napi {

// Owns a reference to the storage for as long as the JS ArrayBuffer may be
// read: released by the ArrayBuffer finalizer, or at dispose() after the
// buffer is detached.
struct ViewHolder {
  std::shared_ptr<Storage> storage;
};

void TensorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "TensorHandle", {});
  addon_data(env).tensor_ctor = Napi::Persistent(f);
  exports.Set("TensorHandle", f);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

TensorHandle::~TensorHandle() {
  // Collected without dispose(): the storage goes with the last reference
  // (a live data() view keeps its own through ViewHolder, freed with the buffer).
  if (disposed()) return;
  Napi::Env env = Env();
  if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
  addon_data(env).live_handles--;
}

Napi::Object TensorHandle::Wrap(Napi::Env env, Tensor t) {
  AddonData& d = addon_data(env);
  Napi::Object o = d.tensor_ctor.New({});
  TensorHandle* h = Napi::ObjectWrap<TensorHandle>::Unwrap(o);
  h->accounted_ = (int64_t)t.nbytes();
  h->tensor_ = std::move(t);
  if (h->accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, h->accounted_);
  d.live_handles++;
  return o;
}

bool TensorHandle::IsHandle(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) return false;
  return v.As<Napi::Object>().InstanceOf(addon_data(env).tensor_ctor.Value());
}

const Tensor& TensorHandle::Get(Napi::Env env, Napi::Value v, const char* what) {
  if (!IsHandle(env, v)) fail(ErrorCode::E_ARG, what, " must be a Tensor");
  TensorHandle* h = Napi::ObjectWrap<TensorHandle>::Unwrap(v.As<Napi::Object>());
  if (h->disposed()) fail(ErrorCode::E_DISPOSED, what, " was disposed");
  return h->tensor_;
}

void TensorHandle::Dispose(Napi::Env env) {
  if (disposed()) return;
  if (view_) {
    Napi::Value v = view_ref_.Value();
    if (v.IsTypedArray()) {
      Napi::ArrayBuffer ab = v.As<Napi::TypedArray>().ArrayBuffer();
      if (!ab.IsDetached()) ab.Detach();
    }
    view_->storage.reset();  // the holder itself is freed by the buffer's finalizer
    view_ = nullptr;
    view_ref_.Reset();
  }
  tensor_ = Tensor();
  if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
  accounted_ = 0;
  addon_data(env).live_handles--;
}

Napi::Value typed_array_for(Napi::Env env, DType dt, Napi::ArrayBuffer ab, size_t off, size_t n) {
  switch (dt) {
    case DType::F32: return Napi::Float32Array::New(env, n, ab, off);
    case DType::F16:
    case DType::BF16: return Napi::Uint16Array::New(env, n, ab, off);
    case DType::I32: return Napi::Int32Array::New(env, n, ab, off);
    case DType::I8: return Napi::Int8Array::New(env, n, ab, off);
    default: return Napi::Uint8Array::New(env, n, ab, off);
  }
}

static size_t array_elements(const Tensor& t) {
  return is_packed(t.dtype()) ? t.nbytes() : (size_t)t.numel();
}

Napi::Value TensorHandle::DataView(Napi::Env env) {
  if (view_) return view_ref_.Value();
  ENGRAM_CHECK(tensor_.device() == DeviceType::CPU, DEVICE, "data(): the tensor is on ", device_name(tensor_.device()),
               "; use toArray() (copies) or .to('cpu')");
  ENGRAM_CHECK(tensor_.is_contiguous(), ARG, "data(): the tensor is a strided view ", tensor_.shape().str(),
               "; use toArray() (copies) or contiguous()");
  auto* holder = new ViewHolder{tensor_.storage()};
  size_t nbytes = tensor_.nbytes();
  void* p = tensor_.raw();
  Napi::ArrayBuffer ab;
  if (nbytes == 0) {
    delete holder;
    ab = Napi::ArrayBuffer::New(env, 0);
    holder = nullptr;
  } else {
    ab = Napi::ArrayBuffer::New(env, p, nbytes, [](Napi::Env, void*, ViewHolder* h) { delete h; }, holder);
  }
  Napi::Value arr = typed_array_for(env, tensor_.dtype(), ab, 0, array_elements(tensor_));
  if (holder) {
    view_ = holder;
    view_ref_ = Napi::Persistent(arr);
  }
  return arr;
}

// ---- exported functions ------------------------------------------------------

static Napi::Value TensorFromData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() >= 4 && info[0].IsTypedArray(), ARG, "tensor(): data must be a typed array");
    Napi::TypedArray src = info[0].As<Napi::TypedArray>();
    Dims shape = parse_shape(info[1], "tensor()");
    DType dt = parse_dtype_arg(info[2], "tensor()");
    DeviceType dev = parse_device_arg(info[3], "tensor()");
    Tensor t = Tensor::empty(shape, dt, DeviceType::CPU);
    size_t need = t.nbytes();
    ENGRAM_CHECK(src.ByteLength() == need, SHAPE, "tensor(): ", src.ByteLength(), " bytes of data for ",
                 dtype_name(dt), shape.str(), " which needs ", need, " bytes (", t.numel(), " elements)");
    if (need) std::memcpy(t.raw(), static_cast<const char*>(src.ArrayBuffer().Data()) + src.ByteOffset(), need);
    return TensorHandle::Wrap(env, to_device(t, dev));
  })
}

static Napi::Value Empty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    Dims shape = parse_shape(info[0], "empty()");
    DType dt = parse_dtype_arg(info[1], "empty()");
    DeviceType dev = parse_device_arg(info[2], "empty()");
    bool zero = info.Length() > 3 && info[3].ToBoolean();
    return TensorHandle::Wrap(env, zero ? Tensor::zeros(shape, dt, dev) : Tensor::empty(shape, dt, dev));
  })
}

static Napi::Value Random(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    Dims shape = parse_shape(info[0], "randn()");
    ENGRAM_CHECK(info[1].IsNumber(), ARG, "randn(): seed must be a number");
    double seed = info[1].As<Napi::Number>().DoubleValue();
    ENGRAM_CHECK(std::isfinite(seed) && seed == std::floor(seed) && seed >= 0 && seed < 9007199254740992.0, ARG,
                 "randn(): seed must be a non-negative integer below 2^53, got ", seed);
    DType dt = parse_dtype_arg(info[2], "randn()");
    DeviceType dev = parse_device_arg(info[3], "randn()");
    bool uniform = info.Length() > 4 && info[4].ToBoolean();
    Tensor t = uniform ? rand_uniform(shape, (uint64_t)seed, dt, dev) : randn(shape, (uint64_t)seed, dt, dev);
    return TensorHandle::Wrap(env, t);
  })
}

static Napi::Value TensorInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    const Tensor& t = TensorHandle::Get(env, info[0], "tensor");
    Napi::Object o = Napi::Object::New(env);
    o.Set("shape", dims_to_js(env, t.shape()));
    o.Set("strides", dims_to_js(env, t.strides()));
    o.Set("offset", Napi::Number::New(env, (double)t.offset()));
    o.Set("dtype", Napi::String::New(env, dtype_name(t.dtype())));
    o.Set("device", Napi::String::New(env, device_name(t.device())));
    o.Set("contiguous", Napi::Boolean::New(env, t.is_contiguous()));
    o.Set("nbytes", Napi::Number::New(env, (double)t.nbytes()));
    return o;
  })
}

static Napi::Value TensorData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    TensorHandle::Get(env, info[0], "tensor");
    TensorHandle* h = Napi::ObjectWrap<TensorHandle>::Unwrap(info[0].As<Napi::Object>());
    return h->DataView(env);
  })
}

static Napi::Value TensorToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    const Tensor& t = TensorHandle::Get(env, info[0], "tensor");
    Tensor c = contiguous(t);
    size_t nbytes = c.nbytes();
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, nbytes);
    copy_bytes(ab.Data(), DeviceType::CPU, c.raw(), c.device(), nbytes);
    return typed_array_for(env, c.dtype(), ab, 0, array_elements(c));
  })
}

static Napi::Value TensorTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    const Tensor& t = TensorHandle::Get(env, info[0], "tensor");
    DeviceType dev = parse_device_arg(info[1], "to()");
    return TensorHandle::Wrap(env, to_device(t, dev));
  })
}

static Napi::Value TensorDispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(TensorHandle::IsHandle(env, info[0]), ARG, "dispose(): not a tensor");
    Napi::ObjectWrap<TensorHandle>::Unwrap(info[0].As<Napi::Object>())->Dispose(env);
    return env.Undefined();
  })
}

static Napi::Value TensorIsDisposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(TensorHandle::IsHandle(env, info[0]), ARG, "isDisposed(): not a tensor");
    return Napi::Boolean::New(env, Napi::ObjectWrap<TensorHandle>::Unwrap(info[0].As<Napi::Object>())->disposed());
  })
}

// tensorView(h, kind, args): permute(perm) | reshape(shape) | slice(dim, start, end)
// | select(dim, index) | unsqueeze(dim) | transpose(d0, d1)
static Napi::Value TensorView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    const Tensor& t = TensorHandle::Get(env, info[0], "tensor");
    ENGRAM_CHECK(info[1].IsString(), ARG, "view kind must be a string");
    std::string kind = info[1].As<Napi::String>().Utf8Value();
    auto num = [&](size_t i, const char* what) -> int64_t {
      ENGRAM_CHECK(info.Length() > i && info[i].IsNumber(), ARG, kind, "(): ", what, " must be an integer");
      double d = info[i].As<Napi::Number>().DoubleValue();
      ENGRAM_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15, ARG, kind, "(): ", what,
                   " must be an integer, got ", d);
      return (int64_t)d;
    };
    Tensor r;
    if (kind == "permute") {
      Dims p = parse_dims_any(info[2], "permute()");
      std::vector<int> perm;
      for (int i = 0; i < p.n; ++i) perm.push_back((int)p[i]);
      r = t.permute(perm);
    } else if (kind == "reshape") {
      r = t.reshape(parse_dims_any(info[2], "reshape()"));
    } else if (kind == "transpose") {
      r = t.transpose((int)num(2, "dim0"), (int)num(3, "dim1"));
    } else if (kind == "slice") {
      r = t.slice((int)num(2, "dim"), num(3, "start"), num(4, "end"));
    } else if (kind == "select") {
      r = t.select((int)num(2, "dim"), num(3, "index"));
    } else if (kind == "unsqueeze") {
      r = t.unsqueeze((int)num(2, "dim"));
    } else {
      fail(ErrorCode::E_ARG, "unknown view kind '", kind, "'");
    }
    return TensorHandle::Wrap(env, r);
  })
}

static Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    Napi::Object o = Napi::Object::New(env);
    for (DeviceType d : {DeviceType::CPU, DeviceType::CUDA}) {
      MemoryStats s = memory_stats(d);
      Napi::Object m = Napi::Object::New(env);
      m.Set("buffers", Napi::Number::New(env, (double)s.live_buffers));
      m.Set("bytes", Napi::Number::New(env, (double)s.live_bytes));
      m.Set("peakBytes", Napi::Number::New(env, (double)s.peak_bytes));
      m.Set("allocations", Napi::Number::New(env, (double)s.total_allocs));
      o.Set(device_name(d), m);
    }
    o.Set("handles", Napi::Number::New(env, (double)addon_data(env).live_handles));
    return o;
  })
}

void register_tensor_functions(Napi::Env env, Napi::Object exports) {
  TensorHandle::Init(env, exports);
  exports.Set("tensorFromData", Napi::Function::New(env, TensorFromData, "tensorFromData"));
  exports.Set("empty", Napi::Function::New(env, Empty, "empty"));
  exports.Set("random", Napi::Function::New(env, Random, "random"));
  exports.Set("tensorInfo", Napi::Function::New(env, TensorInfo, "tensorInfo"));
  exports.Set("tensorData", Napi::Function::New(env, TensorData, "tensorData"));
  exports.Set("tensorToArray", Napi::Function::New(env, TensorToArray, "tensorToArray"));
  exports.Set("tensorTo", Napi::Function::New(env, TensorTo, "tensorTo"));
  exports.Set("tensorDispose", Napi::Function::New(env, TensorDispose, "tensorDispose"));
  exports.Set("tensorIsDisposed", Napi::Function::New(env, TensorIsDisposed, "tensorIsDisposed"));
  exports.Set("tensorView", Napi::Function::New(env, TensorView, "tensorView"));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
}

}  // namespace napi
}  // namespace engram
