// A minimal test runner and helpers for the quantized-KV native tests
// (test_quant.cpp, test_kvcache.cpp). Each binary prints one line per failure
// and closes with "N passed, N failed"; `--filter substr` runs a subset.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engram/error.h"
#include "engram/philox.h"

namespace qtest {

struct Test {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Test>& registry() {
  static std::vector<Test> r;
  return r;
}
struct Reg {
  Reg(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); }
};
#define QTEST(name)                                  \
  static void name();                                \
  static ::qtest::Reg name##_reg(#name, name);       \
  static void name()

struct Failure {
  std::string msg;
};
inline int& checks() {
  static int n = 0;
  return n;
}

#define QCHECK(cond, ...)                                                         \
  do {                                                                            \
    ++::qtest::checks();                                                          \
    if (!(cond)) {                                                                \
      std::ostringstream os_;                                                     \
      os_ << __FILE__ << ":" << __LINE__ << ": " #cond " — ";                     \
      ::qtest::detail_cat(os_, __VA_ARGS__);                                      \
      throw ::qtest::Failure{os_.str()};                                          \
    }                                                                             \
  } while (0)

inline void detail_cat(std::ostringstream&) {}
template <class T, class... R>
void detail_cat(std::ostringstream& os, const T& v, const R&... r) {
  os << v;
  detail_cat(os, r...);
}

// Expects fn to throw engram::Error with `code`.
template <class F>
void expect_error(engram::ErrorCode code, F&& fn, const char* what) {
  ++checks();
  try {
    fn();
  } catch (const engram::Error& e) {
    if (e.code() != code) {
      std::ostringstream os;
      os << what << ": expected " << engram::error_code_name(code) << ", got " << engram::error_code_name(e.code())
         << " (" << e.what() << ")";
      throw Failure{os.str()};
    }
    return;
  }
  throw Failure{std::string(what) + ": expected an error, none thrown"};
}

inline std::vector<float> gauss(size_t n, uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = engram::philox_normal(seed, i) * scale;
  return v;
}

inline void normalise_rows(std::vector<float>& x, int d) {
  for (size_t r = 0; r < x.size() / (size_t)d; ++r) {
    double s = 0;
    for (int k = 0; k < d; ++k) s += (double)x[r * d + k] * x[r * d + k];
    float inv = (float)(1.0 / std::sqrt(s));
    for (int k = 0; k < d; ++k) x[r * d + k] *= inv;
  }
}

// max |a - b| / (atol + rtol * max|b|)
inline double rel_err(const float* a, const float* b, size_t n, double atol = 1e-30) {
  double mx = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::fmax(scale, std::fabs((double)b[i]));
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    mx = std::fmax(mx, std::fabs((double)a[i] - b[i]));
  }
  return mx / (atol + scale);
}

inline int run_all(int argc, char** argv, const char* title) {
  std::string filter;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!std::strcmp(argv[i], "--verbose")) verbose = true;
  }
  int passed = 0, failed = 0;
  for (auto& t : registry()) {
    if (!filter.empty() && std::string(t.name).find(filter) == std::string::npos) continue;
    try {
      t.fn();
      ++passed;
      if (verbose) std::printf("ok   %s\n", t.name);
    } catch (const Failure& f) {
      ++failed;
      std::printf("FAIL %s: %s\n", t.name, f.msg.c_str());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL %s: threw %s\n", t.name, e.what());
    }
  }
  std::printf("%s: %d checks\n%d passed, %d failed\n", title, checks(), passed, failed);
  return failed ? 1 : 0;
}

}  // namespace qtest
