// cumsum and logcumsumexp along one axis (exclusive / reverse options).
// logcumsumexp keeps a running max so large inputs do not overflow.
#include <cmath>

#include "../cpu_common.h"
#include "../kernels.h"

namespace engram {
namespace cpu {

namespace {
// log(exp(a) + exp(b)) without overflow; -inf is the identity.
inline double log_add(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  double m = a > b ? a : b;
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}
}  // namespace

template <class Acc, class Read, class Write>
static void scan_lane(int64_t len, bool log_space, bool exclusive, bool reverse, Read rd, Write wr) {
  Acc acc = log_space ? (Acc)-INFINITY : (Acc)0;
  for (int64_t s = 0; s < len; ++s) {
    int64_t j = reverse ? len - 1 - s : s;
    Acc v = (Acc)rd(j);
    if (exclusive) wr(j, acc);
    acc = log_space ? (Acc)log_add(acc, v) : acc + v;
    if (!exclusive) wr(j, acc);
  }
}

void cpu_scan(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const AxisParams p = c.p<AxisParams>();
  int ax = norm_axis(p.axis, X.ndim(), op_name(c.op));
  Lanes li = make_lanes(X.shape(), X.strides(), ax), lo = make_lanes(O.shape(), O.strides(), ax);
  const bool lg = c.op == OpId::LOGCUMSUMEXP;
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* o = O.data<T>();
    parallel_for(li.count, std::max<int64_t>(1, 4096 / std::max<int64_t>(li.len, 1)), [&](int64_t b, int64_t e) {
      for (int64_t l = b; l < e; ++l) {
        const T* xp = x + li.offset(l);
        T* op = o + lo.offset(l);
        // double accumulator: long f32 scans otherwise drift by ~len*eps.
        scan_lane<double>(
            li.len, lg, p.exclusive, p.reverse, [&](int64_t j) { return to_f32(xp[j * li.step]); },
            [&](int64_t j, double v) { op[j * lo.step] = from_f32<T>((float)v); });
      }
    });
  });
}

void ref_scan(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const AxisParams p = c.p<AxisParams>();
  int ax = norm_axis(p.axis, X.ndim(), op_name(c.op));
  Lanes li = make_lanes(X.shape(), X.strides(), ax), lo = make_lanes(O.shape(), O.strides(), ax);
  const bool lg = c.op == OpId::LOGCUMSUMEXP;
  for (int64_t l = 0; l < li.count; ++l) {
    // Direct definition, O(len^2): y_j = (log) sum over the included terms.
    for (int64_t j = 0; j < li.len; ++j) {
      double acc = lg ? -INFINITY : 0.0;
      for (int64_t i = 0; i < li.len; ++i) {
        bool inc = p.reverse ? (p.exclusive ? i > j : i >= j) : (p.exclusive ? i < j : i <= j);
        if (!inc) continue;
        double v = read_f32(X, li.offset(l) + i * li.step);
        acc = lg ? log_add(acc, v) : acc + v;
      }
      write_f32(O, lo.offset(l) + j * lo.step, (float)acc);
    }
  }
}

}  // namespace cpu
}  // namespace engram
