// Combine rules of the CUDA reductions and scans (host + device, checked by
// test/native/test_cuda_math.cpp): the online-softmax state (running max and
// sum of exp, mergeable in any order), log-space addition for logcumsumexp,
// and the scan operator with its identity. Plain C++ only.
#pragma once
#include <cmath>

#include "elem.h"

namespace engram {
namespace cuda {

// exp(m_old - m_new) with the -inf cases defined: when the new max is still
// -inf nothing has been summed yet, so the factor is 1 (not exp(NaN)).
ENGRAM_HD float online_rescale(float m_old, float m_new) {
  return m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
}

// Softmax over a lane in one pass: m = max seen so far, s = sum exp(x - m).
struct SoftmaxState {
  float m, s;
};
ENGRAM_HD SoftmaxState softmax_identity() { return SoftmaxState{-INFINITY, 0.0f}; }
ENGRAM_HD SoftmaxState softmax_push(SoftmaxState st, float x) {
  // fmaxf ignores NaN like the CPU's std::fmax; exp(NaN - m) then poisons s
  // (also when m is still -inf), and s stays NaN through every later merge.
  const float m = fmaxf(st.m, x);
  const float e = (x == -INFINITY) ? 0.0f : expf(x - m);
  return SoftmaxState{m, st.s * online_rescale(st.m, m) + e};
}
ENGRAM_HD SoftmaxState softmax_merge(SoftmaxState a, SoftmaxState b) {
  float m = fmaxf(a.m, b.m);
  return SoftmaxState{m, a.s * online_rescale(a.m, m) + b.s * online_rescale(b.m, m)};
}
// The max used for the output exp(x - m) / s (all -inf lane: m = 0, s = 0 -> NaN like the CPU).
ENGRAM_HD float softmax_shift(const SoftmaxState& st) { return st.m == -INFINITY ? 0.0f : st.m; }

// log(exp(a) + exp(b)) without overflow; -inf is the identity.
ENGRAM_HD float log_add(float a, float b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  float m = a > b ? a : b;
  return m + log1pf(expf(-fabsf(a - b)));
}

// cumsum (a + b, identity 0) or logcumsumexp (log_add, identity -inf).
struct ScanOp {
  bool log_space;
  ENGRAM_HD float identity() const { return log_space ? -INFINITY : 0.0f; }
  ENGRAM_HD float operator()(float a, float b) const { return log_space ? log_add(a, b) : a + b; }
};

// Compensated (Kahan) summation: one thread summing a long lane stays accurate.
struct KahanSum {
  float s, c;
};
ENGRAM_HD KahanSum kahan_add(KahanSum k, float v) {
  const float y = v - k.c;
  const float t = k.s + y;
  return KahanSum{t, (t - k.s) - y};
}

// Element of a lane visited at step s of a scan (reverse scans walk backwards).
ENGRAM_HD int64_t scan_position(int64_t s, int64_t len, bool reverse) { return reverse ? len - 1 - s : s; }

}  // namespace cuda
}  // namespace engram
