// QuantizerHandle: the JS object behind engram.quant.turboQuant/qjl/kivi/int8
// (lib/quant/quantizer.ts). It holds a QuantConfig and the quantizers built
// from it (one per vector dimension for the dimension-agnostic KIVI / int8).
#pragma once
#include <napi.h>

#include <map>
#include <memory>
#include <mutex>

#include "../quant/quantizer.h"

namespace engram {
namespace napi {

class QuantizerHandle : public Napi::ObjectWrap<QuantizerHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // A handle over an existing quantizer (a cache's keys / values).
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<const quant::Quantizer> q);
  static QuantizerHandle* Get(Napi::Env env, Napi::Value v, const char* what);  // E_ARG if not a handle

  explicit QuantizerHandle(const Napi::CallbackInfo& info);
  const quant::QuantConfig& config() const { return cfg_; }
  // The quantizer for vectors of `dim` (E_SHAPE on a mismatch with a fixed dim).
  std::shared_ptr<const quant::Quantizer> get(int dim);
  int fixed_dim() const { return cfg_.dim; }

 private:
  quant::QuantConfig cfg_;
  std::mutex mu_;
  std::map<int, std::shared_ptr<const quant::Quantizer>> built_;

  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Bits(const Napi::CallbackInfo& info);
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::Value EncodeAsync(const Napi::CallbackInfo& info);
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value Dot(const Napi::CallbackInfo& info);
  Napi::Value Matrix(const Napi::CallbackInfo& info);
};

// Config of a quantizer as a plain JS object (info(), cache info()).
Napi::Object quant_config_to_js(Napi::Env env, const quant::QuantConfig& c);
Napi::Object bit_account_to_js(Napi::Env env, const quant::BitAccount& a);

}  // namespace napi
}  // namespace engram
