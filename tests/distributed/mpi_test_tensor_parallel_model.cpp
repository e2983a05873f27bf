// The tensor-parallel BitNet model over MPI, run by ctest under mpirun with 1, 2 and 3 processes
// (label "mpi"): each rank runs its shard and, alone, the single-process reference; the fixture
// checkpoints run where the process count divides their head counts (1 and 2), the random model
// (6 heads over 3 KV heads) on every count.
#include <bitlin/distributed/mpi.hpp>

#include "catch.hpp"
#include "mpi_world.hpp"
#include "tp_model_cases.hpp"

using namespace bitlin;
using namespace bitlin::distributed;

namespace {
using bitlin_test::mpi_world;

void check_model(const std::string& tag, const tp_model::model_parts& m) {
  const int P = mpi_world().size();
  if (!tp_model::divides(m, P)) {
    WARN(tag << ": " << P << " ranks do not divide its head counts; not run");
    return;
  }
  INFO(tag << ", P = " << P << ", rank " << mpi_world().rank());
  const model::bitnet_model plain = tp_model::single_model(m, 1);
  const matrix_f plain_logits = tp_model::run(plain, m.ids);
  const auto plain_tokens = tp_model::greedy(plain, m.ids, 6);

  const sharded_bitnet_model exact =
      tp_model::sharded_model(mpi_world(), m, tp_activation_scales::per_token);
  const matrix_f exact_logits = tp_model::run(exact, m.ids);
  CHECK(exact_logits == plain_logits);
  CHECK(tp_model::greedy(exact, m.ids, 6) == plain_tokens);
  if (tag != "random") {
    const index_t T = static_cast<index_t>(m.ids.size());
    CHECK(tp_model::reference_band(tag, exact_logits.topRows(T)).within());
  }

  const model::bitnet_model single = tp_model::single_model(m, P);
  const sharded_bitnet_model grouped =
      tp_model::sharded_model(mpi_world(), m, tp_activation_scales::per_shard);
  const matrix_f grouped_logits = tp_model::run(grouped, m.ids);
  CHECK(grouped_logits == tp_model::run(single, m.ids));
  CHECK(tp_model::greedy(grouped, m.ids, 6) == tp_model::greedy(single, m.ids, 6));
  // Repeatable: a second pass gives the same bits.
  CHECK(tp_model::run(grouped, m.ids) == grouped_logits);
}
}  // namespace

TEST_CASE("MPI: sharded BitNet on the fixture checkpoints", "[mpi]") {
  for (const char* tag : {"tiny", "tiny_auto"}) check_model(tag, tp_model::fixture_parts(tag));
}

TEST_CASE("MPI: sharded BitNet, random model with 6 heads over 3 KV heads", "[mpi]") {
  check_model("random", tp_model::random_parts(7));
}
