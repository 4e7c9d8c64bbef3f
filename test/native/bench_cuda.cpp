// Native CUDA benchmark (built when CUDA is compiled in; needs a GPU to run):
// the engine's CUDA kernels timed without N-API, next to baselines measured in
// the same run:
//   - GEMM (f32 SIMT, bf16/f16 tensor cores) and causal attention: absolute
//     TFLOP/s; scripts/torch_baseline.py times cuBLAS / PyTorch's SDPA on the
//     same shapes for the ratio (PyTorch is not linked here).
//   - memory ops (titansLinear, gatedDeltaRule, tttLinear, chunk form): tokens/s
//     on the GPU and on this machine's CPU backend (all cores), same inputs.
// Each row: warm-up, then the best of 5 batches of timed runs (synchronised).
// Also checks every GPU result against the CPU backend (nmse), so a fast wrong
// kernel cannot pass unnoticed. Usage: bench_cuda [--quick] [--device cpu]
// (--device cpu runs the same rows on the CPU backend: a smoke test of this
// harness on a machine without a GPU; its "gpu/cpu" ratios are then ~1).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engram/backend.h"
#include "engram/engine.h"
#include "engram/error.h"

using namespace engram;

namespace {

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Best over 5 batches of the mean time of one call, in ms.
double time_call(OpCall& c, DeviceType dev, double budget_ms = 300) {
  Backend& be = backend_for(dev);
  execute_op(c);
  be.synchronize();
  double t0 = now_ms();
  execute_op(c);
  be.synchronize();
  const double one = std::max(now_ms() - t0, 1e-3);
  const int reps = (int)std::clamp(budget_ms / 5 / one, 1.0, 200.0);
  double best = 1e300;
  for (int b = 0; b < 5; ++b) {
    t0 = now_ms();
    for (int r = 0; r < reps; ++r) execute_op(c);
    be.synchronize();
    best = std::min(best, (now_ms() - t0) / reps);
  }
  return best;
}

OpCall make_call(OpId op, std::vector<Tensor> in, const Attrs& a) {
  OpCall c;
  c.op = op;
  c.in = std::move(in);
  parse_op(c, a);
  prepare_op(c);
  return c;
}

Tensor host_f32(const Tensor& t) {
  Tensor h = to_device(t, DeviceType::CPU);
  if (h.dtype() != DType::F32) {
    Attrs a;
    a.set_string("to", "f32");
    h = call_op1(OpId::CAST, {h}, a);
  }
  return contiguous(h);
}

double nmse(const Tensor& got, const Tensor& ref) {
  Tensor g = host_f32(got), r = host_f32(ref);
  const float* x = g.data<float>();
  const float* y = r.data<float>();
  double num = 0, den = 0;
  for (int64_t i = 0; i < r.numel(); ++i) {
    const double d = (double)x[i] - y[i];
    num += d * d;
    den += (double)y[i] * y[i];
  }
  return std::isfinite(num) ? num / std::max(den, 1e-30) : INFINITY;
}

// U[lo, hi) on the CPU, then to `dev`.
Tensor uniform(const Dims& s, uint64_t seed, float lo, float hi, DeviceType dev) {
  Tensor t = rand_uniform(s, seed);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * p[i];
  return to_device(t, dev);
}

// l2-normalised rows of the last axis (the models normalise keys).
Tensor unit_rows(const Dims& s, uint64_t seed, DType dt, DeviceType dev) {
  Tensor t = randn(s, seed);
  float* p = t.data<float>();
  const int64_t D = s[s.size() - 1];
  for (int64_t r = 0; r < t.numel() / D; ++r) {
    double n = 0;
    for (int64_t d = 0; d < D; ++d) n += (double)p[r * D + d] * p[r * D + d];
    const float inv = (float)(1.0 / std::sqrt(n + 1e-12));
    for (int64_t d = 0; d < D; ++d) p[r * D + d] *= inv;
  }
  if (dt != DType::F32) {
    Attrs a;
    a.set_string("to", dtype_name(dt));
    t = call_op1(OpId::CAST, {t}, a);
  }
  return to_device(t, dev);
}

struct Row {
  std::string what, shape;
  double ms, rate;  // rate: TFLOP/s or Mtok/s
  const char* unit;
  double extra;     // cpu ms (memory ops) or -1
  double err;       // nmse vs the CPU backend, -1 when not checked
};
std::vector<Row> rows;
int bad = 0;
DeviceType G = DeviceType::CUDA;  // the device under test

void print_row(const Row& r) {
  std::printf("%-34s %-26s %10.3f ms %9.2f %-7s", r.what.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit);
  if (r.extra > 0) std::printf("  cpu %9.2f ms  gpu/cpu %7.1fx", r.extra, r.extra / r.ms);
  if (r.err >= 0) std::printf("  nmse %.1e", r.err);
  std::printf("\n");
  std::fflush(stdout);
}

// GPU result vs CPU backend on the same inputs (checked on a prefix of the
// work where the CPU would be slow: the caller passes smaller inputs).
double check(OpId op, const std::vector<Tensor>& gin, const Attrs& a, int out = 0) {
  std::vector<Tensor> cin;
  for (const Tensor& t : gin) cin.push_back(t.defined() ? to_device(t, DeviceType::CPU) : Tensor());
  OpCall g = make_call(op, gin, a), c = make_call(op, cin, a);
  execute_op(g);
  execute_op(c);
  backend_for(G).synchronize();
  return nmse(g.out[out], c.out[out]);
}

void gemm(DType dt, int64_t batch, int64_t n, bool quick) {
  Dims sa = batch > 1 ? Dims{batch, n, n} : Dims{n, n};
  std::vector<Tensor> in = {randn(sa, 11, dt, G), randn(sa, 12, dt, G)};
  OpCall c = make_call(OpId::MATMUL, in, Attrs());
  const double ms = time_call(c, G, quick ? 100 : 300);
  const double tf = 2.0 * batch * n * n * n / ms / 1e9;
  double err = -1;
  if (batch * n * n * n <= (int64_t)1 << 30) err = check(OpId::MATMUL, in, Attrs());
  const double tol = dt == DType::F32 ? 1e-9 : 1e-4;
  if (err > tol) ++bad;
  std::string shape = (batch > 1 ? std::to_string(batch) + " x " : "") + std::to_string(n) + "^3";
  rows.push_back({std::string("matmul ") + dtype_name(dt), shape, ms, tf, "TFLOP/s", -1, err});
  print_row(rows.back());
}

void sdpa(DType dt, int64_t T, int64_t H, int64_t D, bool quick) {
  Dims s{1, T, H, D};
  std::vector<Tensor> in = {randn(s, 21, dt, G), randn(s, 22, dt, G), randn(s, 23, dt, G)};
  Attrs a;
  a.set_bool("causal", true);
  OpCall c = make_call(OpId::SDPA, in, a);
  const double ms = time_call(c, G, quick ? 100 : 300);
  const double tf = 4.0 * H * D * (double)T * (T + 1) / 2 / ms / 1e9;  // causal: half of QK^T and PV
  double err = -1;
  if (T <= 4096) err = check(OpId::SDPA, in, a);
  if (err > (dt == DType::F32 ? 1e-9 : 1e-4)) ++bad;
  rows.push_back({std::string("sdpa causal ") + dtype_name(dt), "T" + std::to_string(T) + " H" + std::to_string(H) +
                  " D" + std::to_string(D), ms, tf, "TFLOP/s", -1, err});
  print_row(rows.back());
}

// Memory op inputs [1, T, H, D] (+ gates [1, T, H]).
std::vector<Tensor> memory_inputs(OpId op, int64_t T, int64_t H, int64_t D, DType dt, DeviceType dev) {
  Dims s{1, T, H, D}, gs{1, T, H};
  std::vector<Tensor> in = {unit_rows(s, 31, dt, dev), unit_rows(s, 32, dt, dev), randn(s, 33, dt, dev)};
  if (op == OpId::TITANS_LINEAR || op == OpId::TITANS_MLP) {
    in.push_back(uniform(gs, 34, op == OpId::TITANS_MLP ? 0.02f : 0.05f, op == OpId::TITANS_MLP ? 0.15f : 0.3f, dev));  // theta
    in.push_back(uniform(gs, 35, 0.0f, 0.05f, dev));   // alpha
    in.push_back(uniform(gs, 36, 0.5f, 0.95f, dev));   // eta
  } else if (op == OpId::GATED_DELTA_RULE) {
    in.push_back(uniform(gs, 34, -0.2f, 0.0f, dev));   // g (log decay)
    in.push_back(uniform(gs, 35, 0.05f, 0.95f, dev));  // beta
  } else {
    in.push_back(uniform(gs, 34, 0.05f, 0.3f, dev));   // eta
  }
  return in;
}

// Model FLOPs of the chunk forms (lib/bench/memory.ts); 0 where not counted (MLP memories, token loops).
double memory_flops(OpId op, int64_t T, int64_t C, int64_t d, int64_t H, bool recurrent) {
  if (recurrent || op == OpId::TITANS_MLP || op == OpId::TTT_MLP) return 0;
  double f = 0;
  for (int64_t t0 = 0; t0 < T; t0 += C) {
    const double n = (double)std::min(C, T - t0);
    if (op == OpId::TITANS_LINEAR) f += 2 * n * n * 2 * d + 2 * n * d * d + 4 * n * d * 2 * d;
    else if (op == OpId::GATED_DELTA_RULE) f += 6 * n * d * d + 2 * n * n * 5 * d + n * n * n / 3;
    else f += 6 * n * d * d + 4 * n * n * d;
  }
  return f * H;
}

void memory(OpId op, const char* name, DType dt, int64_t T, int64_t H, int64_t D, int64_t C, int64_t Tcpu, bool quick,
            bool recurrent = false) {
  const DeviceType P = DeviceType::CPU;
  Attrs a;
  a.set_number("chunkSize", (double)C);
  if (recurrent) a.set_string("mode", "recurrent");
  std::vector<Tensor> gin = memory_inputs(op, T, H, D, dt, G);
  OpCall g = make_call(op, gin, a);
  const double ms = time_call(g, G, quick ? 100 : 300);
  // CPU backend on Tcpu tokens (scaled to T: these kernels are linear in T).
  std::vector<Tensor> cin = memory_inputs(op, Tcpu, H, D, dt, P);
  OpCall c = make_call(op, cin, a);
  const double cpu_ms = time_call(c, P, quick ? 200 : 600) * (double)T / Tcpu;
  // Parity on the CPU-sized problem.
  std::vector<Tensor> small = memory_inputs(op, Tcpu, H, D, dt, G);
  const double err = check(op, small, a);
  if (!(err <= (dt == DType::F32 ? 1e-8 : 1e-4))) ++bad;
  const double tflops = memory_flops(op, T, C, D, H, recurrent) / ms / 1e9;
  rows.push_back({std::string(name) + " " + dtype_name(dt) + (recurrent ? " recurrent" : " C" + std::to_string(C)),
                  "T" + std::to_string(T) + " H" + std::to_string(H) + " D" + std::to_string(D), ms,
                  (double)T / ms / 1e3, "Mtok/s", cpu_ms, err});
  print_row(rows.back());
  if (tflops > 0) std::printf("%-34s %-26s %10s    %9.2f TFLOP/s (model FLOPs)\n", "", "", "", tflops);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc && std::strcmp(argv[i + 1], "cpu") == 0) G = DeviceType::CPU, ++i;
    else {
      std::printf("usage: bench_cuda [--quick] [--device cpu]\n");
      return 2;
    }
  }
  try {
    BackendInfo gi = backend_for(G).info(), ci = backend_for(DeviceType::CPU).info();
    if (!gi.available) {
      std::printf("bench_cuda: cuda not available (%s)\n", gi.reason.c_str());
      return 2;
    }
    if (G == DeviceType::CUDA)
      std::printf("bench_cuda: %s (sm_%d), cpu backend %d threads (%s)\n", gi.device_name.c_str(), gi.compute_capability,
                  ci.threads, ci.isa.c_str());
    else
      std::printf("bench_cuda --device cpu (harness smoke test): cpu backend %d threads (%s)\n", ci.threads, ci.isa.c_str());
    std::vector<int64_t> sq = quick ? std::vector<int64_t>{1024, 4096} : std::vector<int64_t>{1024, 2048, 4096, 8192};
    for (DType dt : {DType::F32, DType::BF16, DType::F16})
      for (int64_t n : sq) gemm(dt, 1, n, quick);
    for (DType dt : {DType::F32, DType::BF16}) {
      gemm(dt, 256, 64, quick);
      gemm(dt, 1024, 128, quick);
    }
    for (DType dt : {DType::F32, DType::BF16}) {
      sdpa(dt, 4096, 16, 64, quick);
      if (!quick) sdpa(dt, 16384, 16, 128, quick);
    }
    const int64_t T = quick ? 8192 : 32768;
    for (DType dt : {DType::F32, DType::BF16}) {
      memory(OpId::TITANS_LINEAR, "titansLinear", dt, T, 16, 64, 64, 4096, quick);
      memory(OpId::GATED_DELTA_RULE, "gatedDeltaRule", dt, T, 16, 64, 64, 4096, quick);
      memory(OpId::TTT_LINEAR, "tttLinear", dt, T, 16, 64, 64, 4096, quick);
    }
    memory(OpId::TITANS_LINEAR, "titansLinear", DType::F32, T, 16, 128, 64, 2048, quick);
    memory(OpId::GATED_DELTA_RULE, "gatedDeltaRule", DType::F32, T, 16, 128, 64, 2048, quick);
    // The token-loop kernels (not yet run on a GPU when written): recurrent modes and the MLP memories.
    memory(OpId::TITANS_LINEAR, "titansLinear", DType::F32, T, 16, 64, 64, 2048, quick, true);
    memory(OpId::GATED_DELTA_RULE, "gatedDeltaRule", DType::F32, T, 16, 64, 64, 2048, quick, true);
    memory(OpId::TITANS_MLP, "titansMlp", DType::F32, T / 4, 16, 64, 16, 512, quick);
    memory(OpId::TTT_MLP, "tttMlp", DType::F32, T / 4, 16, 64, 16, 512, quick);
  } catch (const std::exception& e) {
    std::printf("bench_cuda: error: %s\n", e.what());
    return 1;
  }
  std::printf("bench_cuda: %zu rows, %d above their error bound\n", rows.size(), bad);
  return bad ? 1 : 0;
}
