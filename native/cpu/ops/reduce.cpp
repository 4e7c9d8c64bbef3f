// sum / mean / max over one axis. Output element l is lane l of the input
// (row-major over the other dims), which is exactly the output's layout.
#include <cmath>

#include "../cpu_common.h"
#include "../kernels.h"

namespace engram {
namespace cpu {

void cpu_reduce(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), op_name(c.op));
  Lanes li = make_lanes(X.shape(), X.strides(), ax);
  const OpId op = c.op;
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* o = O.data<T>();
    parallel_for(li.count, std::max<int64_t>(1, 8192 / std::max<int64_t>(li.len, 1)), [&](int64_t b, int64_t e) {
      for (int64_t l = b; l < e; ++l) {
        const T* xp = x + li.offset(l);
        float r;
        if (op == OpId::MAX) {
          r = -INFINITY;
          for (int64_t j = 0; j < li.len; ++j) {
            float v = to_f32(xp[j * li.step]);
            r = (v > r || std::isnan(v)) ? v : r;
            if (std::isnan(r)) break;
          }
        } else {
          // Pairwise-ish: 8 partial sums keep long lanes accurate and vectorisable.
          float part[8] = {};
          int64_t j = 0;
          for (; j + 8 <= li.len; j += 8)
            for (int q = 0; q < 8; ++q) part[q] += to_f32(xp[(j + q) * li.step]);
          for (; j < li.len; ++j) part[0] += to_f32(xp[j * li.step]);
          r = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
          if (op == OpId::MEAN) r /= (float)li.len;
        }
        o[l] = from_f32<T>(r);
      }
    });
  });
}

void ref_reduce(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), op_name(c.op));
  Lanes li = make_lanes(X.shape(), X.strides(), ax);
  for (int64_t l = 0; l < li.count; ++l) {
    double r = c.op == OpId::MAX ? -INFINITY : 0.0;
    for (int64_t j = 0; j < li.len; ++j) {
      double v = read_f32(X, li.offset(l) + j * li.step);
      if (c.op == OpId::MAX) r = (v > r || std::isnan(v) || std::isnan(r)) ? (std::isnan(r) ? r : v) : r;
      else r += v;
    }
    if (c.op == OpId::MEAN) r /= (double)li.len;
    write_f32(O, l, (float)r);
  }
}

}  // namespace cpu
}  // namespace engram
