// Typed parameters of each op, parsed from Attrs by the op's definition
// (native/core/ops/<op>.cpp). Kernels read them with call.p<T>().
// OpParams holds any params struct (type-checked on access), so an op's
// struct can live next to the op; the foundation ops' structs are here.
#pragma once
#include <memory>

#include "dtype.h"
#include "error.h"

namespace engram {

struct NoParams {};

class OpParams {
 public:
  OpParams() = default;
  template <class T>
  OpParams(T v) : p_(std::make_shared<const T>(std::move(v))), tag_(tag_of<T>()) {}  // NOLINT: implicit on purpose

  template <class T>
  const T& get() const {
    if (tag_ != tag_of<T>()) fail(ErrorCode::E_INTERNAL, "op params accessed with the wrong type");
    return *static_cast<const T*>(p_.get());
  }
  bool empty() const { return !p_; }

 private:
  template <class T>
  static const void* tag_of() {
    static const char tag = 0;
    return &tag;
  }
  std::shared_ptr<const void> p_;
  const void* tag_ = nullptr;
};

struct MatmulParams {
  bool trans_a = false;  // use A^T (A stored [..., K, M])
  bool trans_b = false;  // use B^T (B stored [..., N, K])
  float alpha = 1.0f;    // C = alpha * op(A) op(B)
};

enum class UnaryFn : uint8_t { SCALE, NEG, ABS, SQRT, EXP, LOG, SIGMOID, SILU, GELU, TANH, RELU, SOFTPLUS };
struct UnaryParams {
  UnaryFn fn = UnaryFn::NEG;
  float alpha = 1.0f;     // scale: y = alpha * x + beta
  float beta = 0.0f;
  bool approximate = false;  // gelu: tanh approximation instead of erf
};

enum class BinaryFn : uint8_t { ADD, SUB, MUL, DIV };
struct BinaryParams {
  BinaryFn fn = BinaryFn::ADD;
};

struct AxisParams {
  int axis = -1;
  bool keepdim = false;    // reductions
  bool exclusive = false;  // scans
  bool reverse = false;    // scans
};

struct NormParams {
  float eps = 1e-6f;
};

struct CastParams {
  DType to = DType::F32;
};

struct SdpaParams {
  bool causal = true;
  float scale = 0.0f;  // 0 => 1/sqrt(D)
};

}  // namespace engram
