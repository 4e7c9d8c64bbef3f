// Fork/join pool: workers spin briefly, then sleep on a condition variable.
// One job at a time; the caller participates; nested or concurrent calls run
// inline (see threadpool.h).
#include "engram/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define ENGRAM_PAUSE() _mm_pause()
#else
#define ENGRAM_PAUSE() std::this_thread::yield()
#endif

namespace engram {

namespace {

thread_local bool t_in_region = false;
thread_local bool t_never_wait = false;

int default_threads() {
  if (const char* e = std::getenv("ENGRAM_NUM_THREADS")) {
    int n = std::atoi(e);
    if (n >= 1) return std::min(n, 256);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? (int)std::min(hc, 256u) : 1;
}

// One parallel region. Immutable but for its counters; workers hold it by
// shared_ptr so a late-waking worker never touches the next job's state. A
// worker only calls fn after claiming an index < ntasks, and the caller cannot
// return before that task finishes, so fn outlives every call to it.
struct Job {
  const std::function<void(int, int)>* fn;
  int ntasks;
  std::atomic<int> next{0};
  std::atomic<int> remaining;
  std::mutex err_m;
  std::exception_ptr error;
  Job(const std::function<void(int, int)>* f, int n) : fn(f), ntasks(n), remaining(n) {}

  void work() {
    for (;;) {
      int t = next.fetch_add(1);
      if (t >= ntasks) break;
      try {
        (*fn)(t, ntasks);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_m);
        if (!error) error = std::current_exception();
      }
      remaining.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

class Pool {
 public:
  Pool() : want_(default_threads()) {}

  int threads() const { return want_; }
  void set_threads(int n) { want_ = std::max(1, std::min(n, 256)); }

  void run(int ntasks, const std::function<void(int, int)>& fn) {
    if (t_in_region) {  // nested: the enclosing task owns this thread
      run_inline(ntasks, fn);
      return;
    }
    // One job at a time: a second top-level job (another async op) waits for
    // the pool instead of oversubscribing the cores, which would starve the
    // JS thread of CPU time. A thread marked latency-sensitive (the JS thread)
    // never waits behind background work: it runs its job inline instead.
    std::unique_lock<std::mutex> busy(busy_, std::defer_lock);
    if (t_never_wait) {
      if (!busy.try_lock()) {
        run_inline(ntasks, fn);
        return;
      }
    } else {
      busy.lock();
    }
    ensure_workers(ntasks - 1);
    auto job = std::make_shared<Job>(&fn, ntasks);
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    t_in_region = true;
    job->work();
    t_in_region = false;
    while (job->remaining.load(std::memory_order_acquire) > 0) ENGRAM_PAUSE();
    {
      std::lock_guard<std::mutex> lk(m_);
      job_.reset();
    }
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  static void run_inline(int ntasks, const std::function<void(int, int)>& fn) {
    bool outer = t_in_region;
    t_in_region = true;
    try {
      for (int t = 0; t < ntasks; ++t) fn(t, ntasks);
    } catch (...) {
      t_in_region = outer;
      throw;
    }
    t_in_region = outer;
  }

  void ensure_workers(int n) {
    while ((int)workers_.size() < n) {
      uint64_t gen = generation_.load();
      workers_.emplace_back([this, gen] { loop(gen); });
      workers_.back().detach();  // the pool lives for the whole process
    }
  }

  void loop(uint64_t seen) {
    t_in_region = true;
    for (;;) {
      // Spin a little first: back-to-back parallel regions (chunk loops) are common.
      for (int i = 0; i < 20000 && generation_.load(std::memory_order_acquire) == seen; ++i) ENGRAM_PAUSE();
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        job = job_;
      }
      if (job) job->work();
    }
  }

  std::atomic<int> want_;
  std::vector<std::thread> workers_;
  std::mutex m_, busy_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::shared_ptr<Job> job_;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static teardown order
  return *p;
}

}  // namespace

int num_threads() { return pool().threads(); }
void set_num_threads(int n) { pool().set_threads(n); }
bool in_parallel_region() { return t_in_region; }
void set_never_wait_for_pool(bool on) { t_never_wait = on; }

void parallel_tasks(int max_tasks, const std::function<void(int, int)>& fn) {
  int nt = std::max(1, std::min(max_tasks, num_threads()));
  if (nt == 1 || t_in_region) {
    fn(0, 1);
    return;
  }
  pool().run(nt, fn);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t max_chunks = (n + grain - 1) / grain;
  int nt = (int)std::min<int64_t>(num_threads(), max_chunks);
  if (nt <= 1 || t_in_region) {
    fn(0, n);
    return;
  }
  // A few chunks per thread for balance, each at least `grain` items.
  int64_t chunks = std::min<int64_t>(max_chunks, (int64_t)nt * 4);
  int64_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  std::atomic<int64_t> next{0};
  pool().run(nt, [&](int, int) {
    for (;;) {
      int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) break;
      int64_t b = c * step, e = std::min(n, b + step);
      fn(b, e);
    }
  });
}

}  // namespace engram
