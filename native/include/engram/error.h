// Typed errors of the core. Every failure the user can cause is an
// engram::Error with a stable code; native/napi/errors.cpp turns it into a JS
// EngramError with the same code string.
#pragma once
#include <exception>
#include <sstream>
#include <string>

namespace engram {

#define ENGRAM_ERROR_CODES(X)                                                   \
  X(SHAPE, "E_SHAPE")         /* shapes do not fit the op */                    \
  X(DTYPE, "E_DTYPE")         /* dtype not accepted or mismatched */            \
  X(DEVICE, "E_DEVICE")       /* device unavailable or tensors on two devices */ \
  X(OOM, "E_OOM")             /* allocation failed */                           \
  X(DISPOSED, "E_DISPOSED")   /* use after dispose */                           \
  X(ARG, "E_ARG")             /* bad argument value */                          \
  X(OVERFLOW, "E_OVERFLOW")   /* sizes that overflow 64-bit byte counts */      \
  X(NAN, "E_NAN")             /* NaN/Inf where a finite value is required */    \
  X(CUDA, "E_CUDA")           /* CUDA runtime failure */                        \
  X(IO, "E_IO")               /* file system */                                 \
  X(FORMAT, "E_FORMAT")       /* corrupt or unsupported serialized data */      \
  X(STATE, "E_STATE")         /* object in the wrong state for the call */      \
  X(UNSUPPORTED, "E_UNSUPPORTED") /* op/dtype/device combination not built */   \
  X(INTERNAL, "E_INTERNAL")   /* a bug: please report */

enum class ErrorCode {
#define ENGRAM_X(id, str) E_##id,
  ENGRAM_ERROR_CODES(ENGRAM_X)
#undef ENGRAM_X
};

const char* error_code_name(ErrorCode c);

class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message) : code_(code), msg_(std::move(message)) {}
  ErrorCode code() const noexcept { return code_; }
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  ErrorCode code_;
  std::string msg_;
};

namespace detail {
inline void cat(std::ostringstream&) {}
template <class T, class... R>
void cat(std::ostringstream& os, const T& v, const R&... r) {
  os << v;
  cat(os, r...);
}
}  // namespace detail

// fail(ErrorCode::E_SHAPE, "matmul: a is ", a.shape_str(), ...) builds the message by streaming.
template <class... A>
[[noreturn]] void fail(ErrorCode code, const A&... parts) {
  std::ostringstream os;
  detail::cat(os, parts...);
  throw Error(code, os.str());
}

#define ENGRAM_CHECK(cond, code, ...)                        \
  do {                                                       \
    if (!(cond)) ::engram::fail(::engram::ErrorCode::E_##code, __VA_ARGS__); \
  } while (0)

}  // namespace engram
