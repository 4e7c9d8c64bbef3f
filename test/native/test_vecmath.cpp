// Accuracy of the SIMD row kernels (native/cpu/vec.h) on every vector ISA
// this CPU runs, against double-precision references:
//   build/test_vecmath [--verbose]
// Unary maths: max error in ulp over ~100k inputs per function (log-spaced
// magnitudes 1e-40..1e6 of both signs, a dense grid on [-30, 30], and
// the specials +-0, +-inf, NaN, denormals, overflow/underflow edges);
// specials must match the reference exactly (NaN <-> NaN, inf <-> inf).
// Also: binary rows, max/sum, norm/softmax helpers and the f16/bf16 casts
// (bit-exact against the scalar conversions of engram/dtype.h).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/vec.h"
#include "engram/dtype.h"
#include "engram/philox.h"

using namespace engram;

namespace {

int g_passed = 0, g_failed = 0;
bool g_verbose = false;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
    if (g_verbose) std::printf("ok   %s\n", what.c_str());
  } else {
    ++g_failed;
    std::printf("FAIL %s\n", what.c_str());
  }
}

double sigmoid_d(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

double reference(UnaryFn fn, bool approx, double x) {
  switch (fn) {
    case UnaryFn::SCALE: return -2.5 * x + 0.25;
    case UnaryFn::NEG: return -x;
    case UnaryFn::ABS: return std::fabs(x);
    case UnaryFn::SQRT: return std::sqrt(x);
    case UnaryFn::EXP: return std::exp(x);
    case UnaryFn::LOG: return std::log(x);
    case UnaryFn::SIGMOID: return sigmoid_d(x);
    case UnaryFn::SILU: return std::isinf(x) && x < 0 ? NAN : x * sigmoid_d(x);
    case UnaryFn::GELU:
      if (std::isinf(x) && x < 0) return NAN;  // -inf * 0, like the scalar references
      if (approx) return x * sigmoid_d(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x));
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case UnaryFn::TANH: return std::tanh(x);
    case UnaryFn::RELU: return x > 0 ? x : 0.0;
    case UnaryFn::SOFTPLUS: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return 0;
}

// Error of got against want in units of the spacing of floats at want
// (denormal spacing below FLT_MIN).
double ulp_err(float got, double want) {
  double a = std::fabs(want);
  double ulp = a < 1.1754943508222875e-38 ? std::ldexp(1.0, -149) : std::ldexp(1.0, std::ilogb((float)a) - 23);
  return std::fabs((double)got - want) / ulp;
}

std::vector<float> inputs() {
  std::vector<float> v = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, -1e-45f, 1e-40f, 1.17549435e-38f,
                          -1.17549435e-38f, 88.72f, 88.73f, 89.0f, -87.3f, -103.9f, -104.0f, -110.0f, 1e30f,
                          -1e30f, 3.4e38f, -3.4e38f, 0.625f, -0.625f, 0.62499f, 1.0f, -1.0f, 20.0f, -20.0f};
  for (int s = -1; s <= 1; s += 2)
    for (int i = 0; i < 20000; ++i) v.push_back((float)(s * std::pow(10.0, -40.0 + 46.0 * i / 20000.0)));
  for (int i = 0; i < 60001; ++i) v.push_back(-30.0f + 60.0f * (float)i / 60000.0f);
  return v;
}

struct Fn {
  UnaryFn fn;
  bool approx;
  const char* name;
  double max_ulp;  // allowed error for finite, normal results
};

void test_unary(const cpu::VecKernels& vk, const std::string& isa) {
  const Fn fns[] = {{UnaryFn::EXP, false, "exp", 2},          {UnaryFn::LOG, false, "log", 2},
                    {UnaryFn::SIGMOID, false, "sigmoid", 3},  {UnaryFn::SILU, false, "silu", 4},
                    {UnaryFn::TANH, false, "tanh", 2},        {UnaryFn::SOFTPLUS, false, "softplus", 4},
                    {UnaryFn::GELU, false, "gelu", 8},        {UnaryFn::GELU, true, "gelu tanh", 4},
                    {UnaryFn::SQRT, false, "sqrt", 0.5},      {UnaryFn::ABS, false, "abs", 0},
                    {UnaryFn::NEG, false, "neg", 0},          {UnaryFn::RELU, false, "relu", 0},
                    {UnaryFn::SCALE, false, "scale", 0.5}};
  const std::vector<float> x = inputs();
  std::vector<float> y(x.size());
  for (const Fn& f : fns) {
    UnaryParams p;
    p.fn = f.fn;
    p.approximate = f.approx;
    p.alpha = -2.5f;
    p.beta = 0.25f;
    // Odd offsets and lengths exercise the masked tails.
    for (size_t at = 0, c = 0; at < x.size(); ++c) {
      const size_t n = std::min<size_t>(1 + (c * 37) % 1001, x.size() - at);
      vk.unary(p, x.data() + at, y.data() + at, (int64_t)n);
      at += n;
    }
    double worst = 0;
    float worst_x = 0;
    int64_t special_bad = 0, denorm_bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = reference(f.fn, f.approx, (double)x[i]);
      const float got = y[i];
      if (std::isnan(want) || std::isinf(want) || std::fabs(want) > 3.4028234663852886e38) {
        const float wf = (float)want;
        if (std::isnan(wf) != std::isnan(got) || (!std::isnan(wf) && wf != got)) {
          if (++special_bad <= 3)
            std::printf("  %s %s(%g) = %g, want %g\n", isa.c_str(), f.name, (double)x[i], (double)got, want);
        }
        continue;
      }
      const double e = ulp_err(got, want);
      if (std::fabs(want) < 1.1754943508222875e-38) {  // denormal result: a few spacings
        if (!(e <= 4)) {
          if (++denorm_bad <= 3)
            std::printf("  %s %s(%g) = %g, want %g (denormal)\n", isa.c_str(), f.name, (double)x[i], (double)got, want);
        }
        continue;
      }
      if (!(e <= worst)) {
        worst = std::isnan(e) ? 1e30 : e;
        worst_x = x[i];
      }
    }
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s unary %s: max %.2f ulp at x=%g (allowed %.1f), %lld special / %lld denormal mismatches",
                  isa.c_str(), f.name, worst, (double)worst_x, f.max_ulp, (long long)special_bad,
                  (long long)denorm_bad);
    std::printf("%s\n", buf);
    check(worst <= f.max_ulp && !special_bad && !denorm_bad, buf);
  }
}

void test_rows(const cpu::VecKernels& vk, const std::string& isa) {
  for (int64_t n : {1, 7, 16, 17, 63, 1000}) {
    std::vector<float> a((size_t)n), b((size_t)n), o((size_t)n), w((size_t)n), bias((size_t)n);
    for (int64_t i = 0; i < n; ++i) {
      a[(size_t)i] = philox_uniform(11, (uint64_t)i) * 8 - 4;
      b[(size_t)i] = philox_uniform(12, (uint64_t)i) * 8 + 0.5f;
      w[(size_t)i] = philox_uniform(13, (uint64_t)i);
      bias[(size_t)i] = philox_uniform(14, (uint64_t)i) - 0.5f;
    }
    const std::string tag = isa + " n=" + std::to_string(n);
    bool ok = true;
    for (int f = 0; f < 4; ++f)
      for (int bc = 0; bc < 3; ++bc) {
        vk.binary((BinaryFn)f, a.data(), bc == 1, b.data(), bc == 2, o.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          const float x = bc == 1 ? a[0] : a[(size_t)i], y = bc == 2 ? b[0] : b[(size_t)i];
          const float want = f == 0 ? x + y : f == 1 ? x - y : f == 2 ? x * y : x / y;
          ok = ok && o[(size_t)i] == want;
        }
      }
    check(ok, tag + " binary rows (exact)");
    double s = 0, mx = -INFINITY;
    for (float v : a) s += v, mx = std::fmax(mx, v);
    check(vk.max(a.data(), n) == (float)mx, tag + " max");
    check(std::fabs(vk.sum(a.data(), n) - s) <= 1e-9 * (1 + std::fabs(s)), tag + " sum (double)");
    double sq = 0;
    for (float v : a) sq += ((double)v - 0.3) * ((double)v - 0.3);
    check(std::fabs(vk.sumsq(a.data(), 0.3f, n) - sq) <= 1e-6 * sq, tag + " sumsq");
    float e = vk.exp_sum(a.data(), (float)mx, o.data(), n);
    double es = 0, eerr = 0;
    for (int64_t i = 0; i < n; ++i) {
      double want = std::exp((double)a[(size_t)i] - (double)(float)mx);
      es += want;
      eerr = std::fmax(eerr, std::fabs(o[(size_t)i] - want) / want);
    }
    check(eerr < 3e-7 && std::fabs(e - es) <= 1e-6 * es, tag + " exp_sum");
    vk.norm(a.data(), 0.25f, 1.5f, w.data(), bias.data(), o.data(), n);
    double nerr = 0;
    for (int64_t i = 0; i < n; ++i)
      nerr = std::fmax(nerr, std::fabs(o[(size_t)i] - ((a[(size_t)i] - 0.25) * 1.5 * w[(size_t)i] + bias[(size_t)i])));
    check(nerr < 1e-5, tag + " norm row");
    std::vector<double> acc((size_t)n, 1.0);
    vk.acc_sum(acc.data(), a.data(), n);
    bool aok = true;
    for (int64_t i = 0; i < n; ++i) aok = aok && acc[(size_t)i] == 1.0 + (double)a[(size_t)i];
    std::vector<float> am(a);
    am[(size_t)(n / 2)] = NAN;
    vk.acc_max(am.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i)
      aok = aok && (i == n / 2 ? std::isnan(am[(size_t)i]) : am[(size_t)i] == std::fmax(a[(size_t)i], b[(size_t)i]));
    check(aok, tag + " column accumulate sum/max");
  }
  std::vector<float> withnan = {1, 2, NAN, 3};
  check(std::isnan(vk.max(withnan.data(), 4)), isa + " max with NaN is NaN");
}

void test_casts(const cpu::VecKernels& vk, const std::string& isa) {
  // Every f16 / bf16 bit pattern up, and a spread of f32 values (+ edges) down.
  std::vector<uint16_t> h(65536);
  for (int i = 0; i < 65536; ++i) h[(size_t)i] = (uint16_t)i;
  std::vector<float> f(65536);
  bool ok = true;
  vk.f16_to_f32(h.data(), f.data(), 65535);
  for (int i = 0; i < 65535; ++i) {
    float w = f16_to_f32((uint16_t)i);
    ok = ok && (std::isnan(w) ? std::isnan(f[(size_t)i]) : std::memcmp(&w, &f[(size_t)i], 4) == 0);
  }
  check(ok, isa + " f16 -> f32 (all patterns)");
  ok = true;
  vk.bf16_to_f32(h.data(), f.data(), 65535);
  for (int i = 0; i < 65535; ++i) {
    float w = bf16_to_f32((uint16_t)i);
    ok = ok && (std::isnan(w) ? std::isnan(f[(size_t)i]) : std::memcmp(&w, &f[(size_t)i], 4) == 0);
  }
  check(ok, isa + " bf16 -> f32 (all patterns)");
  std::vector<float> src;
  for (float v : {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f, 65519.0f, 65520.0f, 1e-8f, 6e-8f, 3e-8f, 1e-40f,
                  3.4e38f, -1e-45f})
    src.push_back(v);
  for (int i = 0; i < 100003; ++i) {
    uint32_t u = (uint32_t)(philox_uniform(21, (uint64_t)i) * 4294967295.0);
    float v;
    std::memcpy(&v, &u, 4);
    src.push_back(v);
  }
  std::vector<uint16_t> out(src.size());
  vk.f32_to_f16(src.data(), out.data(), (int64_t)src.size());
  ok = true;
  for (size_t i = 0; i < src.size(); ++i) {
    uint16_t w = f32_to_f16(src[i]);
    bool wn = (w & 0x7c00) == 0x7c00 && (w & 0x3ff), gn = (out[i] & 0x7c00) == 0x7c00 && (out[i] & 0x3ff);
    ok = ok && (wn ? gn : out[i] == w);
  }
  check(ok, isa + " f32 -> f16 (round to nearest even, NaN stays NaN)");
  vk.f32_to_bf16(src.data(), out.data(), (int64_t)src.size());
  ok = true;
  for (size_t i = 0; i < src.size(); ++i) ok = ok && out[i] == f32_to_bf16(src[i]);
  check(ok, isa + " f32 -> bf16 (bit-exact)");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--verbose")) g_verbose = true;
  int ran = 0;
  for (cpu::Isa want : {cpu::Isa::AVX512, cpu::Isa::AVX2}) {
    cpu::set_isa(want);
    const cpu::VecKernels* vk = cpu::vec_kernels();
    if (cpu::isa() != want || !vk) {
      std::printf("isa %s: not supported here, skipped\n", cpu::isa_name(want));
      continue;
    }
    ++ran;
    test_unary(*vk, vk->name);
    test_rows(*vk, vk->name);
    test_casts(*vk, vk->name);
  }
  cpu::set_isa(cpu::Isa::GENERIC);
  check(cpu::vec_kernels() == nullptr, "generic isa has no vector table (ops use their scalar loops)");
  std::printf("vecmath (%d vector ISAs): %d passed, %d failed\n", ran, g_passed, g_failed);
  return g_failed ? 1 : 0;
}
