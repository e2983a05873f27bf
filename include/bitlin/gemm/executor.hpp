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
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace bitlin {

// A non-owning reference to the loop body, a callable void(index_t begin, index_t end). Unlike
// std::function it never allocates, whatever the body captures: a decode step makes hundreds of
// parallel_for calls and must not touch the heap. The callable must outlive the call (a lambda
// passed directly to parallel_for does).
class chunk_body {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, chunk_body>>>
  chunk_body(const F& f)  // NOLINT: implicit, so that call sites pass lambdas as they are
      : obj_(&f),
        call_([](const void* o, index_t b, index_t e) { (*static_cast<const F*>(o))(b, e); }) {}
  void operator()(index_t b, index_t e) const { call_(obj_, b, e); }

 private:
  const void* obj_;
  void (*call_)(const void*, index_t, index_t);
};

class executor {
 public:
  virtual ~executor() = default;
  virtual int threads() const = 0;
  // Calls body(begin, end) over disjoint chunks covering [0, n), each at least `grain` long
  // except possibly the last. Returns when all chunks are done; rethrows the first exception.
  virtual void parallel_for(index_t n, index_t grain, chunk_body body) const = 0;
};

class serial_executor final : public executor {
 public:
  int threads() const override { return 1; }
  void parallel_for(index_t n, index_t, chunk_body body) const override {
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
// worker. One parallel_for runs at a time per pool (concurrent callers queue up). Chunks are
// claimed through one atomic ticket (job generation | chunk count | next chunk), so the caller
// waits only for chunks to finish, never for a descheduled worker to check in. Idle workers spin
// for up to spin_micros after each job before they sleep (0 disables spinning).
class thread_pool final : public executor {
 public:
  explicit thread_pool(int threads, int spin_micros = 50)
      : threads_(threads), spin_micros_(spin_micros) {
    BITLIN_REQUIRE(threads >= 1 && threads <= max_threads, value_error,
                   "thread_pool: threads must be in [1, ", max_threads, "], got ", threads);
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

  void parallel_for(index_t n, index_t grain, chunk_body body) const override {
    if (n <= 0) return;
    const index_t len = detail::chunk_length(n, grain, threads_);
    const index_t chunks = (n + len - 1) / len;
    if (threads_ == 1 || chunks == 1) {
      body(0, n);
      return;
    }
    std::lock_guard<std::mutex> one_job(job_mutex_);
    // chunk_length makes chunks <= 4 * threads + 1, far below the ticket's 20-bit field.
    body_ = &body;
    n_ = n;
    len_ = len;
    error_ = nullptr;
    done_chunks_.store(0);
    const std::uint64_t gen = (ticket_.load() >> 40) + 1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ticket_.store((gen << 40) | (static_cast<std::uint64_t>(chunks) << 20));
    }
    wake_.notify_all();
    run_chunks(gen);
    const auto finished = [&] { return done_chunks_.load() == chunks; };
    if (!detail::spin_until(finished, spin_micros_)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, finished);
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr int max_threads = 1 << 16;
  static constexpr std::uint64_t field = (1u << 20) - 1;

  // Claims and runs chunks of job `gen` until none is left (or a newer job replaced it). A claimed
  // chunk keeps its job alive: the caller does not return before every chunk is done.
  void run_chunks(std::uint64_t gen) const {
    std::uint64_t t = ticket_.load();
    for (;;) {
      if ((t >> 40) != gen) return;
      const std::uint64_t chunks = (t >> 20) & field, next = t & field;
      if (next >= chunks) return;
      if (!ticket_.compare_exchange_weak(t, t + 1)) continue;
      const index_t b = static_cast<index_t>(next) * len_, e = std::min(n_, b + len_);
      try {
        (*body_)(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      if (done_chunks_.fetch_add(1) + 1 == static_cast<index_t>(chunks)) {
        std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's predicate check
        done_.notify_one();
      }
      t = ticket_.load();
    }
  }

  void worker_loop() const {
    std::uint64_t seen = 0;
    for (;;) {
      const auto ready = [&] { return stop_.load() || (ticket_.load() >> 40) != seen; };
      if (!detail::spin_until(ready, spin_micros_)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, ready);
      }
      if (stop_.load()) return;
      seen = ticket_.load() >> 40;
      run_chunks(seen);
    }
  }

  int threads_;
  int spin_micros_;
  std::vector<std::thread> workers_;
  mutable std::mutex job_mutex_;  // serializes parallel_for calls
  mutable std::mutex mutex_;      // for sleeping and waking, and error_
  mutable std::condition_variable wake_, done_;
  // The current job; written before its ticket is published (sequentially consistent atomics).
  mutable const chunk_body* body_ = nullptr;
  mutable index_t n_ = 0, len_ = 0;
  mutable std::exception_ptr error_;
  mutable std::atomic<std::uint64_t> ticket_{0};  // generation << 40 | chunks << 20 | next
  mutable std::atomic<index_t> done_chunks_{0};
  std::atomic<bool> stop_{false};
};

#if defined(_OPENMP)
// Runs the chunks on OpenMP threads (threads <= 0: omp_get_max_threads()).
class openmp_executor final : public executor {
 public:
  explicit openmp_executor(int threads = 0)
      : threads_(threads > 0 ? threads : omp_get_max_threads()) {}
  int threads() const override { return threads_; }
  void parallel_for(index_t n, index_t grain, chunk_body body) const override {
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
