// Linked instead of cuda/quant/*.cu in builds without CUDA: a CUDA KV cache
// cannot be created there (the device is unavailable), so this is never
// reached in practice; it fails cleanly if it is.
#include "engram/error.h"
#include "quant_cuda.h"

namespace engram {
namespace quant {

void cuda_kv_attend(const CudaAttendArgs&) {
  fail(ErrorCode::E_DEVICE, "KVCache: the addon was built without CUDA");
}

}  // namespace quant
}  // namespace engram
