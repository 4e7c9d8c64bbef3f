// Linked instead of cuda/*.cu when the addon is built without CUDA (no nvcc,
// ENGRAM_CUDA=OFF, or the node-gyp fallback). The backend exists and says why
// it is unavailable; every use is an E_DEVICE error.
#include "engram/backend.h"

namespace engram {

namespace {
class CudaStub final : public Backend {
 public:
  DeviceType device() const override { return DeviceType::CUDA; }
  bool available() const override { return false; }
  BackendInfo info() const override {
    BackendInfo i;
    i.name = "cuda";
    i.compiled = false;
    i.available = false;
    i.reason = "the addon was built without CUDA (no nvcc at build time, ENGRAM_CUDA=OFF, or the node-gyp build)";
    return i;
  }
  bool supports_op(const OpCall&) const override { return false; }
  void run(OpCall&) override { fail(ErrorCode::E_DEVICE, info().reason); }
  void* allocate(size_t) override { return nullptr; }
  void deallocate(void*, size_t) noexcept override {}
  void fill_bytes(void*, int, size_t) override { fail(ErrorCode::E_DEVICE, info().reason); }
  void copy_from_host(void*, const void*, size_t) override { fail(ErrorCode::E_DEVICE, info().reason); }
  void copy_to_host(void*, const void*, size_t) override { fail(ErrorCode::E_DEVICE, info().reason); }
  void copy_on_device(void*, const void*, size_t) override { fail(ErrorCode::E_DEVICE, info().reason); }
  void synchronize() override {}
};
}  // namespace

Backend& cuda_backend() {
  static CudaStub* b = new CudaStub();
  return *b;
}

}  // namespace engram
