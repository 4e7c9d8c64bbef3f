// Device allocators with live counters. Every Storage goes through here, so
// memory_stats() is the ground truth for leak tests ("memory() is zero after
// dispose"). With poisoning on (tests), fresh buffers are filled with 0xFF
// bytes, which is NaN in f32, f16 and bf16, so a kernel that leaves part of
// its output unwritten fails its parity check.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor.h"

namespace engram {

struct MemoryStats {
  int64_t live_buffers = 0;  // live storages (a tensor and its views share one)
  int64_t live_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t total_allocs = 0;
};

void* device_alloc(DeviceType dev, size_t bytes);  // E_OOM on failure, E_DEVICE if unavailable
void device_free(DeviceType dev, void* p, size_t bytes) noexcept;
MemoryStats memory_stats(DeviceType dev);

void set_poison(bool on);  // also enabled by ENGRAM_POISON=1 in the environment
bool poison_enabled();

void fill_bytes(DeviceType dev, void* p, int byte, size_t bytes);

// Byte copies between devices (host <-> device, device <-> device).
void copy_bytes(void* dst, DeviceType dst_dev, const void* src, DeviceType src_dev, size_t bytes);

}  // namespace engram
