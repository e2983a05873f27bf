// Tensor-parallel BitLinear over MPI: run by ctest under mpirun with 1, 2 and 3 processes (label
// "mpi"). Every rank checks its sharded result against the single-process layer with the same
// groups, computed on that rank, and against rank 0's bits. Every rank reports; mpirun fails when
// any rank does.
#include <bitlin/distributed/mpi.hpp>

#include "catch.hpp"
#include "mpi_world.hpp"
#include "tp_layer_cases.hpp"

using namespace bitlin;
using namespace bitlin::distributed;

namespace {
using bitlin_test::mpi_world;

// True on every rank iff `mine` equals rank 0's matrix bit for bit.
bool same_as_rank0(const matrix_f& mine) {
  matrix_f root = mine;
  mpi_world().broadcast(root.data(), static_cast<std::size_t>(root.size()) * sizeof(float), 0);
  return std::memcmp(root.data(), mine.data(),
                     static_cast<std::size_t>(mine.size()) * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("MPI: sharded layers equal the single-process layers with the same groups", "[mpi]") {
  const auto v = tp_cases::all_cases(mpi_world());
  for (const auto& o : v) {
    INFO("P = " << mpi_world().size() << ", rank " << mpi_world().rank() << ": " << o.name);
    CHECK(o.integers_equal);
    CHECK(o.sharded == o.single);
    CHECK(same_as_rank0(o.sharded));
  }
  // Repeatable: a second run of the whole suite gives the same bits.
  const auto again = tp_cases::all_cases(mpi_world());
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(again[i].sharded == v[i].sharded);
}

TEST_CASE("MPI: ordered_all_reduce_sum adds in rank order", "[mpi]") {
  for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
    std::vector<float> x = tp_cases::reduction_partial(mpi_world().rank(), n);
    mpi_world().reset_bytes_sent();
    ordered_all_reduce_sum(mpi_world(), x.data(), n);
    INFO("n = " << n);
    CHECK(x == tp_cases::reduction_expected(mpi_world().size(), n));
    const auto P = static_cast<std::size_t>(mpi_world().size());
    CHECK(mpi_world().bytes_sent() ==
          (P == 1 ? 0 : 2 * (P - 1) * ((n + P - 1) / P) * sizeof(float)));
  }
  std::vector<double> d{static_cast<double>(mpi_world().rank()) + 0.5};
  ordered_all_reduce_sum(mpi_world(), d.data(), 1);
  CHECK(d[0] == 0.5 * mpi_world().size() * mpi_world().size());
}
