// A CPU emulation of a CUDA thread block for the token-loop bodies of
// cuda/hd/*_body.h: `n` real threads run the body, X::sync() is a barrier
// (__syncthreads), and rows_dot hands rows to other threads than the
// elementwise loops (on the GPU a warp per row) and yields before each write,
// so a missing sync() shows up as a wrong result. Used by test_cuda_math and
// by the parity harness's "cuda-emu" pass.
#pragma once
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace engram {
namespace cuda {

// A barrier for the emulated block's __syncthreads.
struct Barrier {
  std::mutex m;
  std::condition_variable cv;
  int n, count = 0, gen = 0;
  explicit Barrier(int n_) : n(n_) {}
  void wait() {
    std::unique_lock<std::mutex> l(m);
    const int g = gen;
    if (++count == n) {
      count = 0;
      ++gen;
      cv.notify_all();
    } else {
      cv.wait(l, [&] { return g != gen; });
    }
  }
};

// Thread `id` of an emulated block of `n` threads (n = 1: a plain sequential run).
struct EmuExec {
  int id, n;
  Barrier* bar;
  int tid() const { return id; }
  int nt() const { return n; }
  void sync() const {
    if (n > 1) bar->wait();
  }
  // Rows go to threads in the reverse of the elementwise loops' order (on the
  // GPU a warp per row: other threads than the next phase's), and each thread
  // yields before writing, so a missing sync() shows up as a wrong result.
  void rows_dot(const float* M, const float* x, int m, int w, float* out) const {
    for (int r = n - 1 - id; r < m; r += n) {
      float acc = 0.0f;
      for (int e = 0; e < w; ++e) acc += M[(int64_t)r * w + e] * x[e];
      if (n > 1) std::this_thread::yield();
      out[r] = acc;
    }
  }
};

// Runs body(bh, exec) for every (b, h) on an emulated block of `nthreads` threads.
template <class Body>
void emulate_blocks(int BH, int smem_floats, int nthreads, const Body& body) {
  for (int bh = 0; bh < BH; ++bh) {
    std::vector<float> sm((size_t)smem_floats, NAN);
    Barrier bar(nthreads);
    std::vector<std::thread> th;
    for (int i = 1; i < nthreads; ++i) th.emplace_back([&, i] { body(bh, sm.data(), EmuExec{i, nthreads, &bar}); });
    body(bh, sm.data(), EmuExec{0, nthreads, &bar});
    for (auto& x : th) x.join();
  }
}


}  // namespace cuda
}  // namespace engram
