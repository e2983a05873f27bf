// The communicator over MPI, the transport tensor-parallel bitlin runs on between processes and
// machines. Only this header includes <mpi.h>; it is part of the optional CMake target bitlin::mpi
// (created when find_package(MPI COMPONENTS CXX) succeeds), so bitlin::bitlin never needs MPI.
// Collectives use MPI_BYTE payloads and no MPI reduction operator: the sums are done by
// ordered_all_reduce_sum in rank order (see communicator.hpp), which keeps results repeatable.
#pragma once

#include <mpi.h>

#include <climits>
#include <string>

#include "bitlin/distributed/communicator.hpp"

namespace bitlin::distributed {

// An MPI call that failed; the message names the call and MPI's error string.
class mpi_error : public error {
 public:
  using error::error;
};

namespace detail {
inline void mpi_check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw mpi_error(::bitlin::detail::concat(call, " failed: ", std::string(text, len)));
}

inline int mpi_count(std::size_t bytes, const char* what) {
  BITLIN_REQUIRE(bytes <= static_cast<std::size_t>(INT_MAX), shape_error, what, ": ", bytes,
                 " bytes per rank exceed MPI's int count");
  return static_cast<int>(bytes);
}
}  // namespace detail

// MPI_Init / MPI_Finalize for the lifetime of the object, unless MPI was already initialized (then
// whoever initialized it finalizes it). Errors are returned to the caller as exceptions rather
// than aborting the job.
class mpi_environment {
 public:
  mpi_environment(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      detail::mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided),
                        "MPI_Init_thread");
      owner_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  mpi_environment(const mpi_environment&) = delete;
  mpi_environment& operator=(const mpi_environment&) = delete;
  ~mpi_environment() {
    if (owner_) MPI_Finalize();
  }

 private:
  bool owner_ = false;
};

class mpi_communicator final : public communicator {
 public:
  explicit mpi_communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    detail::mpi_check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::mpi_check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm native() const { return comm_; }

  void all_gather(const void* send, std::size_t bytes, void* recv) const override {
    const int n = detail::mpi_count(bytes, "mpi_communicator::all_gather");
    detail::mpi_check(MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, comm_), "MPI_Allgather");
    count_sent(bytes * static_cast<std::size_t>(size_ - 1));
  }
  void all_to_all(const void* send, std::size_t bytes, void* recv) const override {
    const int n = detail::mpi_count(bytes, "mpi_communicator::all_to_all");
    detail::mpi_check(MPI_Alltoall(send, n, MPI_BYTE, recv, n, MPI_BYTE, comm_), "MPI_Alltoall");
    count_sent(bytes * static_cast<std::size_t>(size_ - 1));
  }
  void broadcast(void* buf, std::size_t bytes, int root) const override {
    BITLIN_REQUIRE(root >= 0 && root < size_, value_error, "broadcast: root ", root,
                   " is not a rank of ", size_);
    const int n = detail::mpi_count(bytes, "mpi_communicator::broadcast");
    detail::mpi_check(MPI_Bcast(buf, n, MPI_BYTE, root, comm_), "MPI_Bcast");
    // Counted at the root as if it sent to every rank (what a flat broadcast moves).
    if (rank_ == root) count_sent(bytes * static_cast<std::size_t>(size_ - 1));
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace bitlin::distributed
