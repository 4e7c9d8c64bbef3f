// A fork/join thread pool sized to the machine (ENGRAM_NUM_THREADS overrides).
// The calling thread takes part in the work. A parallel_for issued from inside
// a pool task runs inline on that thread; one issued while another thread
// holds the pool (two async ops at once) waits for it, so concurrent jobs
// never oversubscribe the cores.
#pragma once
#include <cstdint>
#include <functional>

namespace engram {

int num_threads();            // threads a parallel_for may use (>= 1)
void set_num_threads(int n);  // 1 disables threading; clamps to [1, 256]
bool in_parallel_region();    // true inside a pool task
// Marks the calling thread latency-sensitive: when the pool is busy with
// another thread's job, its parallel regions run inline instead of waiting
// (the addon sets this on the JS thread, so sync calls never queue behind
// async work).
void set_never_wait_for_pool(bool on);

// Calls fn(begin, end) on disjoint ranges covering [0, n). Ranges hold at
// least `grain` items (the last may hold fewer).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Calls fn(t, nt) once for each t in [0, nt) with nt = min(num_threads(), max_tasks).
void parallel_tasks(int max_tasks, const std::function<void(int, int)>& fn);

}  // namespace engram
