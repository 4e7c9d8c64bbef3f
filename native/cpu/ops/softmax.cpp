// softmax over one axis: y = exp(x - max) / sum(exp(x - max)) per lane.
// Fast path: SIMD max / exp-sum / scale (vec.h) on each lane (gathered into a
// buffer when strided or f16/bf16); scalar loops on the generic ISA.
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../vec.h"

namespace engram {
namespace cpu {

void cpu_softmax(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), "softmax");
  Lanes li = make_lanes(X.shape(), X.strides(), ax), lo = make_lanes(O.shape(), O.strides(), ax);
  const VecKernels* vk = vec_kernels();
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* o = O.data<T>();
    if (vk) {
      parallel_for(li.count, std::max<int64_t>(1, 8192 / std::max<int64_t>(li.len, 1)), [&](int64_t b, int64_t e) {
        std::vector<float> buf((size_t)li.len), ex((size_t)li.len);
        for (int64_t l = b; l < e; ++l) {
          const T* xp = x + li.offset(l);
          T* op = o + lo.offset(l);
          const float* row;
          if (li.step == 1) {
            row = row_f32(*vk, xp, li.len, buf.data());
          } else {
            for (int64_t j = 0; j < li.len; ++j) buf[(size_t)j] = to_f32(xp[j * li.step]);
            row = buf.data();
          }
          float m = vk->max(row, li.len);
          if (m == -INFINITY) m = 0.0f;  // all -inf: exp gives 0s, 0/0 -> NaN like the reference
          const float s = vk->exp_sum(row, m, ex.data(), li.len);
          if (lo.step == 1) {
            float* y = out_f32(op, ex.data());
            vk->scale(ex.data(), 1.0f / s, y, li.len);
            store_row(*vk, y, op, li.len);
          } else {
            vk->scale(ex.data(), 1.0f / s, ex.data(), li.len);
            for (int64_t j = 0; j < li.len; ++j) op[j * lo.step] = from_f32<T>(ex[(size_t)j]);
          }
        }
      });
      return;
    }
    parallel_for(li.count, std::max<int64_t>(1, 4096 / std::max<int64_t>(li.len, 1)), [&](int64_t b, int64_t e) {
      std::vector<float> buf((size_t)li.len);
      for (int64_t l = b; l < e; ++l) {
        const T* xp = x + li.offset(l);
        T* op = o + lo.offset(l);
        float m = -INFINITY;
        for (int64_t j = 0; j < li.len; ++j) {
          buf[(size_t)j] = to_f32(xp[j * li.step]);
          m = std::fmax(m, buf[(size_t)j]);
        }
        if (m == -INFINITY) m = 0.0f;  // all -inf: exp gives 0s, 0/0 -> NaN like the reference
        float s = 0.0f;
        for (int64_t j = 0; j < li.len; ++j) {
          buf[(size_t)j] = std::exp(buf[(size_t)j] - m);
          s += buf[(size_t)j];
        }
        float inv = 1.0f / s;
        for (int64_t j = 0; j < li.len; ++j) op[j * lo.step] = from_f32<T>(buf[(size_t)j] * inv);
      }
    });
  });
}

void ref_softmax(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  int ax = norm_axis(c.p<AxisParams>().axis, X.ndim(), "softmax");
  Lanes li = make_lanes(X.shape(), X.strides(), ax), lo = make_lanes(O.shape(), O.strides(), ax);
  for (int64_t l = 0; l < li.count; ++l) {
    double m = -INFINITY;
    for (int64_t j = 0; j < li.len; ++j) m = std::fmax(m, (double)read_f32(X, li.offset(l) + j * li.step));
    if (m == -INFINITY) m = 0;
    double s = 0;
    for (int64_t j = 0; j < li.len; ++j) s += std::exp((double)read_f32(X, li.offset(l) + j * li.step) - m);
    for (int64_t j = 0; j < li.len; ++j)
      write_f32(O, lo.offset(l) + j * lo.step,
                (float)(std::exp((double)read_f32(X, li.offset(l) + j * li.step) - m) / s));
  }
}

}  // namespace cpu
}  // namespace engram
