// sum / mean / max over one axis. Output element l is lane l of the input
// (row-major over the other dims), which is exactly the output's layout.
// Fast path (vec.h): a contiguous lane is one SIMD row reduction; a
// non-last axis of a contiguous tensor [outer, len, inner] accumulates whole
// inner rows into per-column accumulators. Sums accumulate in double.
#include <cmath>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../vec.h"

namespace engram {
namespace cpu {

namespace {

// Reductions on the SIMD kernels: lanes with a unit step (any other strides)
// are row reductions; otherwise X is made contiguous, [outer, len, inner].
void vec_reduce(const VecKernels& vk, const Tensor& X0, const Tensor& O, int ax, OpId op) {
  const Tensor X = X0.size(ax) <= 1 || X0.stride(ax) == 1 ? X0 : contiguous(X0);
  const Dims& sh = X.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; ++d) outer *= sh[d];
  for (int d = ax + 1; d < sh.n; ++d) inner *= sh[d];
  const int64_t len = sh[ax];
  const bool is_max = op == OpId::MAX;
  auto finish = [&](double v) { return (float)(op == OpId::MEAN ? v / (double)len : v); };
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = O.data<T>();
    if (len <= 1 || X.stride(ax) == 1) {
      Lanes li = make_lanes(X.shape(), X.strides(), ax);
      const T* x = X.data<T>();
      parallel_for(li.count, std::max<int64_t>(1, 16384 / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
        float buf[kVecChunk];
        for (int64_t l = b; l < e; ++l) {
          const T* xp = x + li.offset(l);
          double acc = 0;
          float mx = -INFINITY;
          for (int64_t j = 0; j < len; j += kVecChunk) {
            const int64_t m = std::min(kVecChunk, len - j);
            const float* row = row_f32(vk, xp + j, m, buf);
            if (is_max) {
              const float v = vk.max(row, m);
              mx = std::isnan(v) || std::isnan(mx) ? NAN : std::fmax(mx, v);
            } else {
              acc += vk.sum(row, m);
            }
          }
          o[l] = from_f32<T>(is_max ? mx : finish(acc));
        }
      });
      return;
    }
    // Column accumulation over the reduced axis: out[o, i] = op_j x[o, j, i].
    const T* x = X.data<T>();
    const int64_t seg = 1024, nseg = (inner + seg - 1) / seg;
    parallel_for(outer * nseg, std::max<int64_t>(1, 65536 / std::max<int64_t>(len * std::min(inner, seg), 1)),
                 [&](int64_t b, int64_t e) {
                   double dacc[1024];
                   float facc[1024], buf[1024];
                   for (int64_t it = b; it < e; ++it) {
                     const int64_t oi = it / nseg, i0 = it % nseg * seg, m = std::min(seg, inner - i0);
                     for (int64_t i = 0; i < m; ++i) dacc[i] = 0.0, facc[i] = -INFINITY;
                     for (int64_t j = 0; j < len; ++j) {
                       const float* row = row_f32(vk, x + (oi * len + j) * inner + i0, m, buf);
                       if (is_max) vk.acc_max(facc, row, m);
                       else vk.acc_sum(dacc, row, m);
                     }
                     T* op = o + oi * inner + i0;
                     for (int64_t i = 0; i < m; ++i) op[i] = from_f32<T>(is_max ? facc[i] : finish(dacc[i]));
                   }
                 });
  });
}

}  // namespace

void cpu_reduce(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), op_name(c.op));
  Lanes li = make_lanes(X.shape(), X.strides(), ax);
  const OpId op = c.op;
  if (const VecKernels* vk = vec_kernels()) {
    vec_reduce(*vk, X, O, ax, op);
    return;
  }
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
