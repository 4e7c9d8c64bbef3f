// Machine measurements for `engram bench kv`.
#pragma once
#include <cstddef>

namespace engram {
namespace quant {

// Best-of-reps read bandwidth in GB/s (1e9 bytes/s) of a `bytes` buffer read
// by every pool thread (each a contiguous slice), with AVX2 loads when available.
double measure_read_bandwidth(size_t bytes, int reps);

}  // namespace quant
}  // namespace engram
