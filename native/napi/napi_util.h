// Argument parsing shared by the addon's functions: shapes, dtypes, devices,
// and JS option objects -> engram::Attrs. Bad values are engram::Errors with
// the function name in the message.
#pragma once
#include <napi.h>

#include <cmath>
#include <string>

#include "engram/attrs.h"
#include "engram/tensor.h"

namespace engram {
namespace napi {

inline Dims parse_dims_any(Napi::Value v, const char* fn) {
  ENGRAM_CHECK(v.IsArray(), ARG, fn, ": expected an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  ENGRAM_CHECK(a.Length() <= (uint32_t)kMaxDims, SHAPE, fn, ": at most ", kMaxDims, " dimensions, got ", a.Length());
  Dims d;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    ENGRAM_CHECK(e.IsNumber(), ARG, fn, ": entry ", i, " is not a number");
    double x = e.As<Napi::Number>().DoubleValue();
    ENGRAM_CHECK(std::isfinite(x) && x == std::floor(x), ARG, fn, ": entry ", i, " is not an integer (", x, ")");
    ENGRAM_CHECK(std::fabs(x) <= 9007199254740992.0, OVERFLOW, fn, ": entry ", i, " (", x, ") is too large");
    d.push_back((int64_t)x);
  }
  return d;
}

inline Dims parse_shape(Napi::Value v, const char* fn) {
  Dims d = parse_dims_any(v, fn);
  for (int i = 0; i < d.n; ++i)
    ENGRAM_CHECK(d[i] >= 0, SHAPE, fn, ": negative dimension ", d[i], " in shape ", d.str());
  checked_numel(d);
  return d;
}

inline DType parse_dtype_arg(Napi::Value v, const char* fn) {
  ENGRAM_CHECK(v.IsString(), DTYPE, fn, ": dtype must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  DType dt;
  ENGRAM_CHECK(parse_dtype(s.c_str(), &dt), DTYPE, fn, ": unknown dtype '", s,
               "' (f32, f16, bf16, i32, u8, i8, u4, u2, u1)");
  return dt;
}

inline DeviceType parse_device_arg(Napi::Value v, const char* fn) {
  ENGRAM_CHECK(v.IsString(), ARG, fn, ": device must be 'cpu' or 'cuda'");
  std::string s = v.As<Napi::String>().Utf8Value();
  DeviceType d;
  ENGRAM_CHECK(parse_device(s.c_str(), &d), ARG, fn, ": unknown device '", s, "' (cpu, cuda)");
  return d;
}

inline Napi::Array dims_to_js(Napi::Env env, const Dims& d) {
  Napi::Array a = Napi::Array::New(env, (size_t)d.n);
  for (int i = 0; i < d.n; ++i) a.Set((uint32_t)i, Napi::Number::New(env, (double)d[i]));
  return a;
}

// {key: number | boolean | string | number[]}; undefined values are skipped.
inline Attrs attrs_from_js(Napi::Value v, const char* fn) {
  Attrs attrs;
  if (v.IsUndefined() || v.IsNull()) return attrs;
  ENGRAM_CHECK(v.IsObject() && !v.IsArray(), ARG, fn, ": options must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) continue;
    if (x.IsNumber()) {
      attrs.set_number(k, x.As<Napi::Number>().DoubleValue());
    } else if (x.IsBoolean()) {
      attrs.set_bool(k, x.As<Napi::Boolean>().Value());
    } else if (x.IsString()) {
      attrs.set_string(k, x.As<Napi::String>().Utf8Value());
    } else if (x.IsArray()) {
      Napi::Array a = x.As<Napi::Array>();
      std::vector<double> nums;
      for (uint32_t j = 0; j < a.Length(); ++j) {
        Napi::Value e = a.Get(j);
        ENGRAM_CHECK(e.IsNumber(), ARG, fn, ": option '", k, "' must be an array of numbers");
        nums.push_back(e.As<Napi::Number>().DoubleValue());
      }
      attrs.set_numbers(k, std::move(nums));
    } else {
      fail(ErrorCode::E_ARG, fn, ": option '", k, "' has an unsupported type");
    }
  }
  return attrs;
}

}  // namespace napi
}  // namespace engram
