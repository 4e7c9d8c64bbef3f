// RMSNorm and LayerNorm over the last axis (weight/bias optional, any float
// dtype). Fast path: SIMD sums accumulated in double and a fused
// (x - mean) * inv * w + b row kernel (vec.h); scalar f32 loops on the
// generic ISA; double in the reference.
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../kernels.h"
#include "../vec.h"

namespace engram {
namespace cpu {

namespace {
std::vector<float> load_vec(const OpCall& c, int i, int64_t D, float def) {
  std::vector<float> v((size_t)D, def);
  if (c.has_input(i))
    for (int64_t j = 0; j < D; ++j) v[(size_t)j] = read_f32(c.in[i], j * c.in[i].stride(0));
  return v;
}
}  // namespace

void cpu_norm(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const bool rms = c.op == OpId::RMS_NORM;
  const float eps = c.p<NormParams>().eps;
  const int ax = X.ndim() - 1;
  Lanes li = make_lanes(X.shape(), X.strides(), ax);
  const int64_t D = li.len;
  std::vector<float> w = load_vec(c, 1, D, 1.0f), bias = load_vec(c, 2, D, 0.0f);
  const VecKernels* vk = vec_kernels();
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* o = O.data<T>();
    if (vk) {
      const float* wp = c.has_input(1) ? w.data() : nullptr;
      const float* bp = c.has_input(2) ? bias.data() : nullptr;
      parallel_for(li.count, std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
        std::vector<float> buf((size_t)D), ybuf((size_t)D);
        for (int64_t l = b; l < e; ++l) {
          const T* xp = x + li.offset(l);
          T* op = o + l * D;
          const float* row;
          if (li.step == 1) {
            row = row_f32(*vk, xp, D, buf.data());
          } else {
            for (int64_t j = 0; j < D; ++j) buf[(size_t)j] = to_f32(xp[j * li.step]);
            row = buf.data();
          }
          const float mean = rms ? 0.0f : (float)(vk->sum(row, D) / (double)D);
          const double var = vk->sumsq(row, mean, D) / (double)D;
          const float inv = (float)(1.0 / std::sqrt(var + (double)eps));
          float* y = out_f32(op, ybuf.data());
          vk->norm(row, mean, inv, wp, bp, y, D);
          store_row(*vk, y, op, D);
        }
      });
      return;
    }
    parallel_for(li.count, std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      std::vector<float> row((size_t)D);
      for (int64_t l = b; l < e; ++l) {
        const T* xp = x + li.offset(l);
        T* op = o + l * D;
        float mean = 0.0f, sq = 0.0f;
        for (int64_t j = 0; j < D; ++j) {
          float v = to_f32(xp[j * li.step]);
          row[(size_t)j] = v;
          mean += v;
        }
        mean = rms ? 0.0f : mean / (float)D;
        for (int64_t j = 0; j < D; ++j) {
          float d = row[(size_t)j] - mean;
          sq += d * d;
        }
        float inv = 1.0f / std::sqrt(sq / (float)D + eps);
        for (int64_t j = 0; j < D; ++j)
          op[j] = from_f32<T>((row[(size_t)j] - mean) * inv * w[(size_t)j] + bias[(size_t)j]);
      }
    });
  });
}

void ref_norm(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const bool rms = c.op == OpId::RMS_NORM;
  const double eps = c.p<NormParams>().eps;
  Lanes li = make_lanes(X.shape(), X.strides(), X.ndim() - 1);
  const int64_t D = li.len;
  std::vector<float> w = load_vec(c, 1, D, 1.0f), bias = load_vec(c, 2, D, 0.0f);
  for (int64_t l = 0; l < li.count; ++l) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < D; ++j) mean += read_f32(X, li.offset(l) + j * li.step);
    mean = rms ? 0.0 : mean / (double)D;
    for (int64_t j = 0; j < D; ++j) {
      double d = read_f32(X, li.offset(l) + j * li.step) - mean;
      var += d * d;
    }
    double inv = 1.0 / std::sqrt(var / (double)D + eps);
    for (int64_t j = 0; j < D; ++j) {
      double v = (read_f32(X, li.offset(l) + j * li.step) - mean) * inv * w[(size_t)j] + bias[(size_t)j];
      write_f32(O, l * D + j, (float)v);
    }
  }
}

}  // namespace cpu
}  // namespace engram
