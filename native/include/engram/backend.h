// Backend interface. A backend owns one device type: memory (allocate, copy)
// and op execution (supports_op, run). The CPU backend is always there; the
// CUDA backend exists in every build and reports why it is unavailable when
// the addon was built without CUDA or the machine has no GPU/driver.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "engine.h"

namespace engram {

struct BackendInfo {
  std::string name;         // "cpu", "cuda"
  bool compiled = false;    // code for this backend is in the binary
  bool available = false;   // usable on this machine now
  std::string reason;       // why not available
  int threads = 0;          // CPU: pool size
  std::vector<std::string> features;  // CPU: isa features in use; CUDA: "sm_90", "tensor-cores"
  std::string isa;          // CPU: kernel family picked at load ("avx512", "avx2+fma", "generic")
  std::string device_name;  // CUDA: GPU name
  int64_t total_memory = 0; // CUDA: bytes
  int device_count = 0;
  int compute_capability = 0;  // CUDA: major*10+minor
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType device() const = 0;
  virtual BackendInfo info() const = 0;
  virtual bool available() const = 0;

  // Can this backend run this call (op, dtypes, layout)? Unsupported
  // combinations are skipped by the parity harness and are E_UNSUPPORTED for users.
  virtual bool supports_op(const OpCall& call) const = 0;
  // Outputs are allocated (on this device) before run is called.
  virtual void run(OpCall& call) = 0;

  virtual void* allocate(size_t bytes) = 0;  // nullptr on failure
  virtual void deallocate(void* p, size_t bytes) noexcept = 0;
  virtual void fill_bytes(void* p, int byte, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_on_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;
};

Backend& backend_for(DeviceType dev);       // always returns; check available()
Backend& cpu_backend();
Backend& cuda_backend();                    // defined in cuda/ (or the stub)
void require_available(DeviceType dev);     // E_DEVICE with the reason if not

}  // namespace engram
