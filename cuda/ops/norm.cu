// RMSNorm and LayerNorm over the last axis on the GPU: a warp (or a block,
// for long rows) per row; statistics in f32 with the CPU's two passes
// (mean, then the sum of squared deviations); weight/bias optional, any float
// dtype, possibly strided. y has x's dtype and is contiguous.
#include "../kernels.cuh"
#include "../lanes.cuh"

namespace engram {
namespace cuda {

namespace {
struct Affine {
  const void* p;  // nullptr: absent
  DType dtype;
  int64_t stride;
  float dflt;
  __device__ float at(int64_t j) const { return p ? load_any(p, j * stride, dtype) : dflt; }
};

template <int TPL, class T>
__global__ void norm_kernel(const T* __restrict__ x, LaneIndex L, T* __restrict__ o, Affine w, Affine b, float eps,
                            bool rms) {
  __shared__ float scratch[kThreads / 32];
  using G = LaneGroups<TPL>;
  const int64_t D = L.len;
  for (int64_t lane = G::first(); lane < L.count; lane += G::stride()) {
    const T* xp = x + lane_offset(L, lane);
    float mean = 0.0f;
    if (!rms) {
      float s = 0.0f;
      for (int64_t j = G::rank(); j < D; j += TPL) s += to_f32(xp[j * L.step]);
      mean = group_reduce<TPL>(s, AddOp(), scratch) / (float)D;
    }
    float sq = 0.0f;
    for (int64_t j = G::rank(); j < D; j += TPL) {
      const float d = to_f32(xp[j * L.step]) - mean;
      sq += d * d;
    }
    sq = group_reduce<TPL>(sq, AddOp(), scratch);
    const float inv = 1.0f / sqrtf(sq / (float)D + eps);
    T* op = o + lane * D;
    for (int64_t j = G::rank(); j < D; j += TPL)
      op[j] = from_f32<T>((to_f32(xp[j * L.step]) - mean) * inv * w.at(j) + b.at(j));
  }
}

Affine affine(const OpCall& c, int i, float dflt) {
  if (!c.has_input(i)) return Affine{nullptr, DType::F32, 0, dflt};
  const Tensor& t = c.in[i];
  return Affine{t.raw(), t.dtype(), t.stride(0), dflt};
}
}  // namespace

void launch_norm(OpCall& c) {
  const Tensor &X = c.in[0], &O = c.out[0];
  const bool rms = c.op == OpId::RMS_NORM;
  const float eps = c.p<NormParams>().eps;
  const LaneIndex L = lanes_of(X.shape(), X.strides(), X.ndim() - 1);
  const Affine w = affine(c, 1, 1.0f), b = affine(c, 2, 0.0f);
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(X.raw());
    T* o = static_cast<T*>(O.raw());
    if (long_lanes(L.len))
      norm_kernel<kThreads, T><<<LaneGroups<kThreads>::blocks(L.count), kThreads, 0, stream()>>>(x, L, o, w, b, eps, rms);
    else
      norm_kernel<32, T><<<LaneGroups<32>::blocks(L.count), kThreads, 0, stream()>>>(x, L, o, w, b, eps, rms);
  });
  ENGRAM_CUDA_LAUNCHED("norm kernel");
}

}  // namespace cuda
}  // namespace engram
