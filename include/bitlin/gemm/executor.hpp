// Where the kernels' parallel loops run. The kernels only ever ask for "run body over these
// disjoint chunks of [0, n)"; every output element is computed by exactly one chunk, in the same
// order whatever the chunking, so results never depend on the executor or the thread count.
// serial() is the default; thread_pool is a small std::thread pool for users without OpenMP;
// openmp_executor exists when the user compiles with OpenMP.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace bitlin {

class executor {
 public:
  virtual ~executor() = default;
  virtual int threads() const = 0;
  // Calls body(begin, end) over disjoint chunks covering [0, n), each at least `grain` long
  // except possibly the last. Returns when all chunks are done; rethrows the first exception.
  virtual void parallel_for(index_t n, index_t grain,
                            const std::function<void(index_t, index_t)>& body) const = 0;
};

class serial_executor final : public executor {
 public:
  int threads() const override { return 1; }
  void parallel_for(index_t n, index_t,
                    const std::function<void(index_t, index_t)>& body) const override {
    if (n > 0) body(0, n);
  }
};

inline const executor& serial() {
  static const serial_executor instance;
  return instance;
}

namespace detail {
// Chunk length: at least `grain`, and about four chunks per thread so that a thread slowed down by
// a neighbour on a shared machine does not hold up the others.
inline index_t chunk_length(index_t n, index_t grain, int threads) {
  const index_t g = std::max<index_t>(grain, 1);
  const index_t target = (n + 4 * threads - 1) / (4 * static_cast<index_t>(threads));
  return std::max(g, target);
}
}  // namespace detail

namespace detail {
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins until pred() holds or about `micros` microseconds pass; true if pred() held. Handing a
// job to a sleeping thread costs a futex wake-up (tens of microseconds on a busy machine), as much
// as a whole hot GEMV, so both sides spin briefly before they block.
template <class Pred>
bool spin_until(Pred pred, int micros) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      spin_pause();
    }
    if (std::chrono::steady_clock::now() >= end) return pred();
  }
}
}  // namespace detail

// A fixed set of worker threads; the calling thread works too, so thread_pool(2) starts one
// worker. One parallel_for runs at a time per pool (concurrent callers queue up). Idle workers
// spin for up to spin_micros after each job before they sleep (0 disables spinning).
class thread_pool final : public executor {
 public:
  explicit thread_pool(int threads, int spin_micros = 200)
      : threads_(threads), spin_micros_(spin_micros) {
    BITLIN_REQUIRE(threads >= 1, value_error, "thread_pool: threads must be >= 1, got ", threads);
    workers_.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const override { return threads_; }

  void parallel_for(index_t n, index_t grain,
                    const std::function<void(index_t, index_t)>& body) const override {
    if (n <= 0) return;
    const index_t len = detail::chunk_length(n, grain, threads_);
    const index_t chunks = (n + len - 1) / len;
    if (threads_ == 1 || chunks == 1) {
      body(0, n);
      return;
    }
    std::lock_guard<std::mutex> one_job(job_mutex_);
    job_ = job{&body, n, len, chunks};
    next_.store(0);
    error_ = nullptr;
    busy_.store(static_cast<int>(workers_.size()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_chunks();
    if (!detail::spin_until([this] { return busy_.load(std::memory_order_acquire) == 0; },
                            spin_micros_)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  struct job {
    const std::function<void(index_t, index_t)>* body = nullptr;
    index_t n = 0, len = 0, chunks = 0;
  };

  void run_chunks() const {
    for (;;) {
      const index_t c = next_.fetch_add(1);
      if (c >= job_.chunks) return;
      const index_t b = c * job_.len, e = std::min(job_.n, b + job_.len);
      try {
        (*job_.body)(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void worker_loop() const {
    unsigned long long seen = 0;
    for (;;) {
      const auto ready = [&] {
        return stop_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen;
      };
      if (!detail::spin_until(ready, spin_micros_)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, ready);
      }
      if (stop_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      run_chunks();
      if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's predicate check
        done_.notify_one();
      }
    }
  }

  int threads_;
  int spin_micros_;
  std::vector<std::thread> workers_;
  mutable std::mutex job_mutex_;  // serializes parallel_for calls
  mutable std::mutex mutex_;      // for sleeping and waking, and error_
  mutable std::condition_variable wake_, done_;
  mutable job job_;  // published by the release increment of generation_
  mutable std::atomic<index_t> next_{0};
  mutable std::exception_ptr error_;
  mutable std::atomic<int> busy_{0};
  mutable std::atomic<unsigned long long> generation_{0};
  std::atomic<bool> stop_{false};
};

#if defined(_OPENMP)
// Runs the chunks on OpenMP threads (threads <= 0: omp_get_max_threads()).
class openmp_executor final : public executor {
 public:
  explicit openmp_executor(int threads = 0)
      : threads_(threads > 0 ? threads : omp_get_max_threads()) {}
  int threads() const override { return threads_; }
  void parallel_for(index_t n, index_t grain,
                    const std::function<void(index_t, index_t)>& body) const override {
    if (n <= 0) return;
    const index_t len = detail::chunk_length(n, grain, threads_);
    const index_t chunks = (n + len - 1) / len;
    if (threads_ == 1 || chunks == 1) {
      body(0, n);
      return;
    }
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
    for (index_t c = 0; c < chunks; ++c) {
      try {
        body(c * len, std::min(n, (c + 1) * len));
      } catch (...) {
#pragma omp critical(bitlin_openmp_executor_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }

 private:
  int threads_;
};
#endif

}  // namespace bitlin
