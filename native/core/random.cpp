// randn / rand_uniform: filled on the CPU in parallel (values depend only on
// seed and index), cast to the requested dtype, then moved to the device.
#include "engram/alloc.h"
#include "engram/engine.h"
#include "engram/philox.h"
#include "engram/threadpool.h"

namespace engram {

static Tensor fill_random(const Dims& shape, uint64_t seed, DType dtype, DeviceType dev, bool normal) {
  ENGRAM_CHECK(is_float(dtype), DTYPE, normal ? "randn" : "rand", ": dtype must be f32, f16 or bf16, got ",
               dtype_name(dtype));
  Tensor t = Tensor::empty(shape, DType::F32, DeviceType::CPU);
  float* p = t.data<float>();
  int64_t n = t.numel();
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = normal ? philox_normal(seed, (uint64_t)i) : philox_uniform(seed, (uint64_t)i);
  });
  if (dtype != DType::F32) {
    Attrs a;
    a.set_string("to", dtype_name(dtype));
    t = call_op1(OpId::CAST, {t}, a);
  }
  return to_device(t, dev);
}

Tensor randn(const Dims& shape, uint64_t seed, DType dtype, DeviceType dev) {
  return fill_random(shape, seed, dtype, dev, true);
}
Tensor rand_uniform(const Dims& shape, uint64_t seed, DType dtype, DeviceType dev) {
  return fill_random(shape, seed, dtype, dev, false);
}

}  // namespace engram
