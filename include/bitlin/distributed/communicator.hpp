// The collectives tensor parallelism needs, behind a small interface, so that the sharded layers
// and model are written once and run over MPI (distributed/mpi.hpp, the real transport), over a
// single process (serial_communicator: P = 1) or over P threads of one process
// (run_in_process: tests and the clang/AArch64 builds, where no MPI is linked).
//
// Determinism: MPI_Allreduce may combine partial sums in any order (it differs between
// algorithms, process counts and runs), so float results would not be repeatable. The one
// reduction the layers use, ordered_all_reduce_sum, moves the partial sums with all-to-all and
// all-gather (the same bytes per rank as a ring all-reduce, 2 (P-1)/P of the vector) and adds
// them in rank order, starting from +0: every rank gets the same bits on every run, equal to a
// single process adding the P partials in that order.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bitlin/core/error.hpp"

namespace bitlin::distributed {

class communicator {
 public:
  virtual ~communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // recv holds size() blocks of `bytes`: block r is rank r's `send`, on every rank.
  virtual void all_gather(const void* send, std::size_t bytes, void* recv) const = 0;
  // send and recv hold size() blocks of `bytes`; block r of send goes to rank r, and block r of
  // recv is what rank r sent to this rank.
  virtual void all_to_all(const void* send, std::size_t bytes, void* recv) const = 0;
  // `bytes` of buf on rank `root` are copied into buf on every rank.
  virtual void broadcast(void* buf, std::size_t bytes, int root) const = 0;

  // Payload bytes this rank has sent to other ranks so far (its own block is not counted): for
  // the measurements of what tensor parallelism costs per token.
  std::size_t bytes_sent() const { return sent_; }
  void reset_bytes_sent() const { sent_ = 0; }

 protected:
  void count_sent(std::size_t bytes) const { sent_ += bytes; }

 private:
  mutable std::size_t sent_ = 0;
};

// The one-process communicator: every collective is a copy.
class serial_communicator final : public communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_gather(const void* send, std::size_t bytes, void* recv) const override {
    copy(send, bytes, recv);
  }
  void all_to_all(const void* send, std::size_t bytes, void* recv) const override {
    copy(send, bytes, recv);
  }
  void broadcast(void*, std::size_t, int root) const override {
    BITLIN_REQUIRE(root == 0, value_error, "serial_communicator: broadcast root ", root,
                   " is not rank 0");
  }

 private:
  static void copy(const void* send, std::size_t bytes, void* recv) {
    if (bytes > 0 && send != recv) std::memmove(recv, send, bytes);
  }
};

inline const communicator& serial_comm() {
  static const serial_communicator instance;
  return instance;
}

// Typed helpers over the byte collectives.
template <class T>
std::vector<T> all_gather(const communicator& comm, const T* send, std::size_t count) {
  std::vector<T> out(count * static_cast<std::size_t>(comm.size()));
  comm.all_gather(send, count * sizeof(T), out.data());
  return out;
}

// data[0 .. n) = sum over ranks r = 0, 1, ..., P-1 of rank r's data, added in that order from +0
// (so bit-identical on every rank and every run). Each rank sums one chunk of ceil(n / P) values
// and the sums are gathered.
// Integer sums (int32 partial products) take the same path; they are exact in any order.
template <class T>
void ordered_all_reduce_sum(const communicator& comm, T* data, std::size_t n) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, std::int32_t>,
                "ordered_all_reduce_sum: float or int32");
  const auto P = static_cast<std::size_t>(comm.size());
  if (P == 1 || n == 0) {
    // Adding to +0 only changes -0 to +0; keep the P-rank convention for P = 1 as well.
    for (std::size_t i = 0; i < n; ++i) data[i] = T(0) + data[i];
    return;
  }
  const std::size_t chunk = (n + P - 1) / P;
  std::vector<T> send(chunk * P, T(0)), recv(chunk * P);
  std::copy(data, data + n, send.begin());
  comm.all_to_all(send.data(), chunk * sizeof(T), recv.data());
  std::vector<T> mine(chunk, T(0));
  for (std::size_t r = 0; r < P; ++r)
    for (std::size_t i = 0; i < chunk; ++i) mine[i] += recv[r * chunk + i];
  comm.all_gather(mine.data(), chunk * sizeof(T), send.data());
  std::copy(send.begin(), send.begin() + static_cast<std::ptrdiff_t>(n), data);
}

// Same, in double (the per-shard statistics of a split normalization; few values, so gathered
// whole).
inline void ordered_all_reduce_sum(const communicator& comm, double* data, std::size_t n) {
  const auto P = static_cast<std::size_t>(comm.size());
  if (n == 0) return;
  std::vector<double> all(n * P);
  comm.all_gather(data, n * sizeof(double), all.data());
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (std::size_t r = 0; r < P; ++r) s += all[r * n + i];
    data[i] = s;
  }
}

// Thrown on the ranks of an in-process group whose collective was abandoned by a failing rank.
class rank_aborted : public error {
 public:
  using error::error;
};

// P ranks as P threads of this process. The collectives meet at a barrier; a rank that throws
// releases the others (they throw too) instead of leaving them waiting for ever.
class in_process_group {
 public:
  explicit in_process_group(int ranks) : ranks_(ranks), slots_(static_cast<std::size_t>(ranks)) {
    BITLIN_REQUIRE(ranks >= 1, value_error, "in_process_group: ", ranks, " ranks");
  }
  int size() const { return ranks_; }

  void publish(int rank, const void* p) { slots_[static_cast<std::size_t>(rank)] = p; }
  const void* slot(int rank) const { return slots_[static_cast<std::size_t>(rank)]; }

  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (aborted_) throw rank_aborted("in_process_group: another rank failed");
    const unsigned gen = generation_;
    if (++arrived_ == ranks_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != gen || aborted_; });
    if (aborted_) throw rank_aborted("in_process_group: another rank failed");
  }
  void abort() {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  int ranks_;
  std::vector<const void*> slots_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  unsigned generation_ = 0;
  bool aborted_ = false;
};

class in_process_communicator final : public communicator {
 public:
  in_process_communicator(in_process_group& g, int rank) : group_(&g), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }

  void all_gather(const void* send, std::size_t bytes, void* recv) const override {
    exchange(send, [&](int r, const char* theirs) {
      std::memcpy(static_cast<char*>(recv) + static_cast<std::size_t>(r) * bytes, theirs, bytes);
    });
    count_sent(bytes * static_cast<std::size_t>(size() - 1));
  }
  void all_to_all(const void* send, std::size_t bytes, void* recv) const override {
    exchange(send, [&](int r, const char* theirs) {
      std::memcpy(static_cast<char*>(recv) + static_cast<std::size_t>(r) * bytes,
                  theirs + static_cast<std::size_t>(rank_) * bytes, bytes);
    });
    count_sent(bytes * static_cast<std::size_t>(size() - 1));
  }
  void broadcast(void* buf, std::size_t bytes, int root) const override {
    BITLIN_REQUIRE(root >= 0 && root < size(), value_error, "broadcast: root ", root,
                   " is not a rank of ", size());
    group_->publish(rank_, buf);
    group_->barrier();
    if (rank_ != root && bytes > 0) std::memcpy(buf, group_->slot(root), bytes);
    group_->barrier();
    if (rank_ == root) count_sent(bytes * static_cast<std::size_t>(size() - 1));
  }

 private:
  template <class Copy>
  void exchange(const void* send, Copy copy) const {
    group_->publish(rank_, send);
    group_->barrier();
    for (int r = 0; r < size(); ++r) copy(r, static_cast<const char*>(group_->slot(r)));
    // Nobody may reuse its send buffer before every rank has read it.
    group_->barrier();
  }

  in_process_group* group_;
  int rank_;
};

// Runs body(comm) on `ranks` threads, one rank each; rethrows the first exception of any rank.
inline void run_in_process(int ranks, const std::function<void(const communicator&)>& body) {
  in_process_group group(ranks);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        in_process_communicator comm(group, r);
        body(comm);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
        group.abort();
      }
    });
  for (auto& t : threads) t.join();
  // The failing rank's own error, not the rank_aborted it caused elsewhere.
  std::exception_ptr first_aborted;
  for (auto& e : errors) {
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const rank_aborted&) {
      if (!first_aborted) first_aborted = e;
    }
  }
  if (first_aborted) std::rethrow_exception(first_aborted);
}

}  // namespace bitlin::distributed
