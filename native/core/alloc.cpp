// Allocation front end: counts live buffers/bytes per device and poisons
// fresh buffers when asked. The memory itself comes from the backends.
#include "engram/alloc.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "engram/backend.h"

namespace engram {

namespace {
struct Counters {
  std::atomic<int64_t> live_buffers{0}, live_bytes{0}, peak_bytes{0}, total_allocs{0};
};
Counters g_counters[kNumDeviceTypes];

bool env_poison() {
  const char* e = std::getenv("ENGRAM_POISON");
  return e && *e && *e != '0';
}
std::atomic<bool> g_poison{env_poison()};
}  // namespace

void set_poison(bool on) { g_poison = on; }
bool poison_enabled() { return g_poison; }

void* device_alloc(DeviceType dev, size_t bytes) {
  Backend& be = backend_for(dev);
  require_available(dev);
  void* p = be.allocate(bytes);
  if (!p) fail(ErrorCode::E_OOM, "out of memory: could not allocate ", bytes, " bytes on ", device_name(dev));
  Counters& c = g_counters[(int)dev];
  c.live_buffers++;
  c.total_allocs++;
  int64_t now = (c.live_bytes += (int64_t)bytes);
  int64_t peak = c.peak_bytes.load();
  while (now > peak && !c.peak_bytes.compare_exchange_weak(peak, now)) {
  }
  if (g_poison && bytes) be.fill_bytes(p, 0xff, bytes);
  return p;
}

void device_free(DeviceType dev, void* p, size_t bytes) noexcept {
  if (!p) return;
  backend_for(dev).deallocate(p, bytes);
  Counters& c = g_counters[(int)dev];
  c.live_buffers--;
  c.live_bytes -= (int64_t)bytes;
}

MemoryStats memory_stats(DeviceType dev) {
  const Counters& c = g_counters[(int)dev];
  MemoryStats s;
  s.live_buffers = c.live_buffers;
  s.live_bytes = c.live_bytes;
  s.peak_bytes = c.peak_bytes;
  s.total_allocs = c.total_allocs;
  return s;
}

void fill_bytes(DeviceType dev, void* p, int byte, size_t bytes) {
  if (bytes) backend_for(dev).fill_bytes(p, byte, bytes);
}

void copy_bytes(void* dst, DeviceType dst_dev, const void* src, DeviceType src_dev, size_t bytes) {
  if (!bytes) return;
  if (dst_dev == DeviceType::CPU && src_dev == DeviceType::CPU) {
    std::memcpy(dst, src, bytes);
  } else if (src_dev == DeviceType::CPU) {
    backend_for(dst_dev).copy_from_host(dst, src, bytes);
  } else if (dst_dev == DeviceType::CPU) {
    backend_for(src_dev).copy_to_host(dst, src, bytes);
  } else {
    backend_for(dst_dev).copy_on_device(dst, src, bytes);
  }
}

}  // namespace engram
