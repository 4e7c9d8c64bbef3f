// The CUDA backend: device discovery (never throws when there is no GPU or
// driver: the backend reports unavailable with the runtime's reason), memory
// (a stream-ordered caching pool: cudaMallocAsync/cudaFreeAsync on the
// default memory pool, which keeps freed blocks for reuse), copies, and the
// kernel dispatch. Everything is issued on one stream shared by all host
// threads, so an op launched from the JS thread and one from an async worker
// see each other's results in launch order. cudart is linked statically, so
// the addon loads on machines without the toolkit.
#include <cuda_runtime.h>

#include <cstdint>
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

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t st = nullptr;
    if (cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) != cudaSuccess) {
      cudaGetLastError();
      st = cudaStreamLegacy;  // still one stream for every thread
    }
    return st;
  }();
  return s;
}

StridedIndex make_index(const Dims& shape, const Dims& strides) { return index_of(shape, strides); }
StridedIndex make_index(const Tensor& t) { return index_of(t.shape(), t.strides()); }

namespace {

struct Probe {
  bool ok = false;
  std::string reason;
  int count = 0;
  bool pools = false;  // stream-ordered allocator (cudaMallocAsync) supported
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
    int pools = 0;
    if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, 0) != cudaSuccess) {
      cudaGetLastError();
      pools = 0;
    }
    p.pools = pools != 0;
    p.ok = true;
  });
  return p;
}

// The default memory pool, told to keep freed memory cached (the release
// threshold defaults to 0: give everything back at each synchronisation).
cudaMemPool_t caching_pool() {
  static cudaMemPool_t pool = [] {
    cudaMemPool_t mp = nullptr;
    if (cudaDeviceGetDefaultMemPool(&mp, 0) != cudaSuccess) {
      cudaGetLastError();
      return (cudaMemPool_t) nullptr;
    }
    uint64_t keep = UINT64_MAX;
    if (cudaMemPoolSetAttribute(mp, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess) cudaGetLastError();
    return mp;
  }();
  return pool;
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
    const size_t n = bytes ? bytes : 1;
    if (pooled()) {
      cudaError_t e = cudaMallocAsync(&p, n, stream());
      if (e == cudaErrorMemoryAllocation) {
        // Hand cached blocks back to the driver and try once more.
        cudaGetLastError();
        cudaStreamSynchronize(stream());
        cudaMemPoolTrimTo(caching_pool(), 0);
        cudaGetLastError();
        e = cudaMallocAsync(&p, n, stream());
      }
      if (e != cudaSuccess) {
        cudaGetLastError();
        return nullptr;
      }
      return p;
    }
    if (cudaMalloc(&p, n) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void deallocate(void* p, size_t) noexcept override {
    // Stream-ordered: kernels already queued on the stream may still read p.
    // (cudaFree, the fallback, synchronises the device implicitly.)
    cudaError_t e = pooled() ? cudaFreeAsync(p, stream()) : cudaFree(p);
    if (e != cudaSuccess) cudaGetLastError();  // e.g. at process exit, after the runtime shut down
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

 private:
  static bool pooled() {
    static const bool on = probe().pools && caching_pool() != nullptr;
    return on;
  }
};

}  // namespace

const cudaDeviceProp& device_prop() { return probe().prop; }

}  // namespace cuda

Backend& cuda_backend() {
  static cuda::CudaBackend* b = new cuda::CudaBackend();
  return *b;
}

}  // namespace engram
