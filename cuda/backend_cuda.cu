// The CUDA backend: device discovery (never throws when there is no GPU or
// driver: the backend reports unavailable with the runtime's reason), memory,
// copies, and the kernel dispatch. cudart is linked statically, so the addon
// loads on machines without the toolkit.
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "common.cuh"
#include "engram/backend.h"
#include "kernels.cuh"

namespace engram {
namespace cuda {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear sticky-free errors
  if (e == cudaErrorMemoryAllocation) fail(ErrorCode::E_OOM, "CUDA out of memory (", what, ")");
  fail(ErrorCode::E_CUDA, "CUDA error ", (int)e, " (", cudaGetErrorName(e), ": ", cudaGetErrorString(e), ") in ", what);
}

cudaStream_t stream() { return cudaStreamPerThread; }

StridedIndex make_index(const Dims& shape, const Dims& strides) {
  StridedIndex ix;
  ix.n = shape.n;
  for (int i = 0; i < kMaxDims; ++i) {
    ix.shape[i] = i < shape.n ? shape[i] : 1;
    ix.strides[i] = i < shape.n ? strides[i] : 0;
  }
  return ix;
}
StridedIndex make_index(const Tensor& t) { return make_index(t.shape(), t.strides()); }

namespace {

struct Probe {
  bool ok = false;
  std::string reason;
  int count = 0;
  cudaDeviceProp prop{};
};

const Probe& probe() {
  static Probe p;
  static std::once_flag once;
  std::call_once(once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      p.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(e) + " (cudaGetDeviceCount returned " +
                 std::to_string((int)e) + ")";
      return;
    }
    if (n == 0) {
      p.reason = "no CUDA device found";
      return;
    }
    p.count = n;
    e = cudaGetDeviceProperties(&p.prop, 0);
    if (e != cudaSuccess) {
      cudaGetLastError();
      p.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorString(e);
      return;
    }
    if (p.prop.major < 8) {
      p.reason = "GPU " + std::string(p.prop.name) + " is sm_" + std::to_string(p.prop.major * 10 + p.prop.minor) +
                 "; engram's kernels are built for sm_80 and newer";
      return;
    }
    p.ok = true;
  });
  return p;
}

class CudaBackend final : public Backend {
 public:
  DeviceType device() const override { return DeviceType::CUDA; }
  bool available() const override { return probe().ok; }
  BackendInfo info() const override {
    const Probe& p = probe();
    BackendInfo i;
    i.name = "cuda";
    i.compiled = true;
    i.available = p.ok;
    i.reason = p.reason;
    i.device_count = p.count;
    if (p.count > 0) {
      i.device_name = p.prop.name;
      i.total_memory = (int64_t)p.prop.totalGlobalMem;
      i.compute_capability = p.prop.major * 10 + p.prop.minor;
      i.features.push_back("sm_" + std::to_string(i.compute_capability));
      if (p.prop.major >= 8) i.features.push_back("tensor-cores(bf16,f16)");
    }
    return i;
  }
  bool supports_op(const OpCall& call) const override { return kernel_for(call) != nullptr; }
  void run(OpCall& call) override {
    Kernel k = kernel_for(call);
    ENGRAM_CHECK(k, UNSUPPORTED, op_name(call.op), ": no CUDA kernel for these inputs");
    k(call);
  }

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void deallocate(void* p, size_t) noexcept override {
    // Kernels on the stream may still read p: cudaFree synchronises implicitly.
    cudaFree(p);
  }
  void fill_bytes(void* p, int byte, size_t bytes) override {
    ENGRAM_CUDA_CHECK(cudaMemsetAsync(p, byte, bytes, stream()));
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
    ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  void copy_on_device(void* dst, const void* src, size_t bytes) override {
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
  }
  void synchronize() override { ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream())); }
};

}  // namespace
}  // namespace cuda

Backend& cuda_backend() {
  static cuda::CudaBackend* b = new cuda::CudaBackend();
  return *b;
}

}  // namespace engram
