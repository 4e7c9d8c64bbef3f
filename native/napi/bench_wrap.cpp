// Benchmark entry points (kernel timings measured natively, see cpu/bench.h).
#include <napi.h>

#include "../cpu/bench.h"
#include "engram/threadpool.h"
#include "errors.h"

namespace engram {
namespace napi {

namespace {

int64_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  ENGRAM_CHECK(info.Length() > i && info[i].IsNumber(), ARG, "bench: ", what, " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  ENGRAM_CHECK(d >= 1 && d <= 1e9 && d == (double)(int64_t)d, ARG, "bench: ", what, " must be a positive integer");
  return (int64_t)d;
}

Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    int threads = info.Length() > 0 ? (int)int_arg(info, 0, "threads") : num_threads();
    return Napi::Number::New(env, cpu::measure_peak_gflops(threads));
  })
}

// benchGemm(which: 'engram'|'openblas', M, N, K, batch, reps) -> {ms, note}
Napi::Value BenchGemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() > 0 && info[0].IsString(), ARG, "benchGemm: which must be 'engram' or 'openblas'");
    std::string which = info[0].As<Napi::String>().Utf8Value();
    int64_t M = int_arg(info, 1, "M"), N = int_arg(info, 2, "N"), K = int_arg(info, 3, "K");
    int64_t batch = int_arg(info, 4, "batch");
    int reps = (int)int_arg(info, 5, "reps");
    cpu::GemmTiming t;
    if (which == "engram") t = cpu::time_engram_gemm(M, N, K, batch, reps);
    else if (which == "openblas") t = cpu::time_openblas_gemm(M, N, K, batch, reps, num_threads());
    else fail(ErrorCode::E_ARG, "benchGemm: unknown implementation '", which, "'");
    Napi::Object o = Napi::Object::New(env);
    o.Set("ms", t.best_ms);
    o.Set("note", t.note);
    return o;
  })
}

}  // namespace

void register_bench_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("peakGflops", Napi::Function::New(env, PeakGflops, "peakGflops"));
  exports.Set("benchGemm", Napi::Function::New(env, BenchGemm, "benchGemm"));
}

}  // namespace napi
}  // namespace engram
