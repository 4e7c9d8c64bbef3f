// The CPU backend: 64-byte aligned host memory, the thread pool, and the
// kernel dispatch. The switches have no default case: -Werror=switch makes a
// new op without a CPU kernel a compile error.
#include <cstdlib>
#include <cstring>

#include "cpu_features.h"
#include "engram/backend.h"
#include "engram/threadpool.h"
#include "gemm.h"
#include "kernels.h"

namespace engram {
namespace cpu {

namespace {

struct KernelPair {
  Kernel fast, ref;
};

KernelPair kernels_for(OpId id) {
  switch (id) {
    case OpId::MATMUL: return {cpu_matmul, ref_matmul};
    case OpId::ADD:
    case OpId::SUB:
    case OpId::MUL:
    case OpId::DIV: return {cpu_binary, ref_binary};
    case OpId::SCALE:
    case OpId::NEG:
    case OpId::ABS:
    case OpId::SQRT:
    case OpId::EXP:
    case OpId::LOG:
    case OpId::SIGMOID:
    case OpId::SILU:
    case OpId::GELU:
    case OpId::TANH:
    case OpId::RELU:
    case OpId::SOFTPLUS: return {cpu_unary, ref_unary};
    case OpId::SOFTMAX: return {cpu_softmax, ref_softmax};
    case OpId::RMS_NORM:
    case OpId::LAYER_NORM: return {cpu_norm, ref_norm};
    case OpId::SUM:
    case OpId::MEAN:
    case OpId::MAX: return {cpu_reduce, ref_reduce};
    case OpId::CUMSUM:
    case OpId::LOGCUMSUMEXP: return {cpu_scan, ref_scan};
    case OpId::COPY: return {cpu_copy, ref_copy};
    case OpId::CAST: return {cpu_cast, ref_cast};
    case OpId::GATHER: return {cpu_gather, ref_gather};
    case OpId::SDPA: return {cpu_sdpa, ref_sdpa};
    case OpId::CONCAT: return {cpu_concat, ref_concat};
    case OpId::CAUSAL_CONV1D: return {cpu_causal_conv1d, ref_causal_conv1d};
    case OpId::ROPE: return {cpu_rope, ref_rope};
    case OpId::SDPA_WINDOW: return {cpu_sdpa_window, ref_sdpa_window};
    case OpId::GATED_DELTA_RULE: return {cpu_gated_delta_rule, ref_gated_delta_rule};
    case OpId::TITANS_LINEAR: return {cpu_titans_linear, ref_titans_linear};
    case OpId::TITANS_MLP: return {cpu_titans_mlp, ref_titans_mlp};
    case OpId::TTT_LINEAR: return {cpu_ttt_linear, ref_ttt_linear};
    case OpId::TTT_MLP: return {cpu_ttt_mlp, ref_ttt_mlp};
    case OpId::TRELLIS: return {cpu_trellis, ref_trellis};
    case OpId::TNT: return {cpu_tnt, ref_tnt};
    case OpId::COUNT: break;
  }
  return {nullptr, nullptr};
}

class CpuBackend final : public Backend {
 public:
  DeviceType device() const override { return DeviceType::CPU; }
  bool available() const override { return true; }
  BackendInfo info() const override {
    BackendInfo i;
    i.name = "cpu";
    i.compiled = true;
    i.available = true;
    i.threads = num_threads();
    i.features = feature_list();
    i.isa = isa_name(isa());
    i.device_count = 1;
    return i;
  }
  bool supports_op(const OpCall& call) const override { return kernels_for(call.op).fast != nullptr; }
  void run(OpCall& call) override { kernels_for(call.op).fast(call); }

  void* allocate(size_t bytes) override {
    size_t b = (bytes + 63) & ~size_t(63);
    return std::aligned_alloc(64, b ? b : 64);
  }
  void deallocate(void* p, size_t) noexcept override { std::free(p); }
  void fill_bytes(void* p, int byte, size_t bytes) override { std::memset(p, byte, bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_on_device(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void synchronize() override {}
};

}  // namespace

void run_reference(OpCall& c) {
  KernelPair k = kernels_for(c.op);
  ENGRAM_CHECK(k.ref, UNSUPPORTED, op_name(c.op), ": no CPU reference");
  k.ref(c);
}

}  // namespace cpu

Backend& cpu_backend() {
  static cpu::CpuBackend* b = new cpu::CpuBackend();
  return *b;
}

}  // namespace engram
