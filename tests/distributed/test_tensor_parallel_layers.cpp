// Tensor-parallel BitLinear without MPI: P ranks as P threads (in_process_group) and the serial
// communicator. The same cases run under mpirun in mpi_test_tensor_parallel.cpp.
#include <bitlin/distributed/communicator.hpp>
#include <mutex>

#include "catch.hpp"
#include "tp_layer_cases.hpp"

using namespace bitlin;
using namespace bitlin::distributed;

namespace {
// Runs all_cases on P threads and returns every rank's outcomes.
std::vector<std::vector<tp_cases::outcome>> run_cases(int P) {
  std::vector<std::vector<tp_cases::outcome>> out(static_cast<std::size_t>(P));
  run_in_process(P, [&](const communicator& comm) {
    out[static_cast<std::size_t>(comm.rank())] = tp_cases::all_cases(comm);
  });
  return out;
}
}  // namespace

TEST_CASE("sharded layers equal the single-process layers with the same groups", "[tp]") {
  for (int P : {1, 2, 3}) {
    const auto ranks = run_cases(P);
    for (std::size_t r = 0; r < ranks.size(); ++r)
      for (std::size_t i = 0; i < ranks[r].size(); ++i) {
        const tp_cases::outcome& o = ranks[r][i];
        INFO("P = " << P << ", rank " << r << ": " << o.name);
        CHECK(o.integers_equal);
        CHECK(o.sharded == o.single);
        CHECK(o.sharded == ranks[0][i].sharded);  // every rank holds the same bits
      }
  }
}

TEST_CASE("the serial communicator is one rank of everything", "[tp]") {
  const auto v = tp_cases::all_cases(serial_comm());
  for (const auto& o : v) {
    INFO(o.name);
    CHECK(o.integers_equal);
    CHECK(o.sharded == o.single);
  }
}

TEST_CASE("ordered_all_reduce_sum adds in rank order on every rank", "[tp]") {
  for (int P : {1, 2, 3, 5}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
      std::vector<std::vector<float>> got(static_cast<std::size_t>(P));
      std::vector<std::size_t> sent(static_cast<std::size_t>(P));
      run_in_process(P, [&](const communicator& comm) {
        std::vector<float> v = tp_cases::reduction_partial(comm.rank(), n);
        ordered_all_reduce_sum(comm, v.data(), n);
        got[static_cast<std::size_t>(comm.rank())] = v;
        sent[static_cast<std::size_t>(comm.rank())] = comm.bytes_sent();
      });
      const std::vector<float> expect = tp_cases::reduction_expected(P, n);
      for (int r = 0; r < P; ++r) {
        INFO("P = " << P << ", n = " << n << ", rank " << r);
        CHECK(got[static_cast<std::size_t>(r)] == expect);
        // all-to-all plus all-gather of ceil(n/P) floats: 2 (P-1) ceil(n/P) floats per rank.
        const std::size_t chunk =
            (n + static_cast<std::size_t>(P) - 1) / static_cast<std::size_t>(P);
        CHECK(sent[static_cast<std::size_t>(r)] ==
              (P == 1 ? 0 : 2 * static_cast<std::size_t>(P - 1) * chunk * sizeof(float)));
      }
    }
  }
  // The cases are built so that the order matters: adding the partials in reverse differs.
  std::vector<float> rev(7, 0.0f);
  for (int r = 2; r >= 0; --r) {
    const auto p = tp_cases::reduction_partial(r, 7);
    for (std::size_t i = 0; i < 7; ++i) rev[i] += p[i];
  }
  CHECK(rev != tp_cases::reduction_expected(3, 7));
}

TEST_CASE("tensor-parallel layers reject what cannot be sharded", "[tp]") {
  const matrix_f W = tp_cases::randn(10, 20, 1);
  std::vector<std::string> messages(3);
  run_in_process(3, [&](const communicator& comm) {
    auto& msg = messages[static_cast<std::size_t>(comm.rank())];
    try {
      (void)column_parallel_linear<>::from_float(comm, W);
    } catch (const shape_error& e) {
      msg += std::string(e.what()) + "|";
    }
    try {
      (void)row_parallel_linear<>::from_float(comm, W);
    } catch (const shape_error& e) {
      msg += std::string(e.what()) + "|";
    }
  });
  for (const auto& m : messages) {
    CHECK(m.find("10 is not divisible by 3") != std::string::npos);
    CHECK(m.find("20 is not divisible by 3") != std::string::npos);
  }
  bit_linear<>::options opt;
  opt.norm = norm_kind::rms_norm;
  CHECK_THROWS_AS(row_parallel_linear<>::from_float(serial_comm(), W, nullptr, opt), value_error);
  // Row groups of 4 straddle the boundary of 2 shards of 5 rows.
  const auto tw = absmean_ternary(W, scale_groups::row_groups(4));
  CHECK_THROWS_AS(slice_scales(tw.scales, 0, 5, 0, 20), shape_error);
  CHECK(slice_scales(tw.scales, 4, 8, 0, 20).values == std::vector<float>{tw.scales.values[1]});
  // A failing rank releases the ranks waiting in a collective, and its error is the one reported.
  CHECK_THROWS_WITH(run_in_process(3,
                                   [](const communicator& comm) {
                                     if (comm.rank() == 1) throw value_error("rank 1 broke");
                                     float v = 1.0f;
                                     ordered_all_reduce_sum(comm, &v, 1);
                                   }),
                    "rank 1 broke");
}
