// The tensor-parallel BitNet model without MPI (P ranks as P threads), on both fixture checkpoints
// and a random model, in one pass and through the KV cache, logits and greedy tokens: with
// per-token activation scales bit-identical to the unsharded model (so inside the fixture band);
// with per-shard scales bit-identical to the single-process model with the same groups. The same
// cases run under mpirun in mpi_test_tensor_parallel_model.cpp.
#include <cstdio>
#include <mutex>

#include "catch.hpp"
#include "tp_model_cases.hpp"

using namespace bitlin;
using namespace bitlin::distributed;

namespace {
struct rank_result {
  matrix_f logits;  // tp_model::run's [2 T, vocab]
  std::vector<std::int64_t> tokens;
};

std::vector<rank_result> run_sharded(const tp_model::model_parts& m, int P,
                                     tp_activation_scales mode) {
  std::vector<rank_result> out(static_cast<std::size_t>(P));
  run_in_process(P, [&](const communicator& comm) {
    const sharded_bitnet_model model = tp_model::sharded_model(comm, m, mode);
    auto& r = out[static_cast<std::size_t>(comm.rank())];
    r.logits = tp_model::run(model, m.ids);
    r.tokens = tp_model::greedy(model, m.ids, 6);
  });
  return out;
}

void check_model(const std::string& tag, const tp_model::model_parts& m) {
  const model::bitnet_model plain = tp_model::single_model(m, 1);
  const matrix_f plain_logits = tp_model::run(plain, m.ids);
  const auto plain_tokens = tp_model::greedy(plain, m.ids, 6);
  const index_t T = static_cast<index_t>(m.ids.size());
  for (int P : {1, 2, 3, 4}) {
    if (!tp_model::divides(m, P)) continue;
    INFO(tag << ", P = " << P);
    // Per-token activation scales: the unsharded model's logits and tokens, bit for bit.
    const auto exact = run_sharded(m, P, tp_activation_scales::per_token);
    for (std::size_t r = 0; r < exact.size(); ++r) {
      INFO("per-token scales, rank " << r);
      CHECK(exact[r].logits == plain_logits);
      CHECK(exact[r].tokens == plain_tokens);
    }
    if (tag != "random") {
      const auto b = tp_model::reference_band(tag, exact[0].logits.topRows(T));
      CHECK(b.within());
    }
    // Per-shard scales: the single-process model with the same groups, bit for bit.
    const model::bitnet_model single = tp_model::single_model(m, P);
    const matrix_f want = tp_model::run(single, m.ids);
    const auto want_tokens = tp_model::greedy(single, m.ids, 6);
    const auto grouped = run_sharded(m, P, tp_activation_scales::per_shard);
    for (std::size_t r = 0; r < grouped.size(); ++r) {
      INFO("per-shard scales, rank " << r);
      CHECK(grouped[r].logits == want);
      CHECK(grouped[r].tokens == want_tokens);
    }
    if (P == 1) CHECK(want == plain_logits);  // tp_groups = 1 is the ordinary model
    // What the paper's group quantization changes (a measurement, printed).
    const auto d = bitlin_test::compare(grouped[0].logits, plain_logits);
    std::printf(
        "[%s, %d ranks] per-shard scales vs the unsharded model: max %.4f%% median %.4f%% "
        "of max|logit|%s\n",
        tag.c_str(), P, 100 * d.max_rel, 100 * d.median_rel,
        grouped[0].tokens == plain_tokens ? ", same greedy tokens" : ", greedy tokens differ");
  }
}
}  // namespace

TEST_CASE("sharded BitNet = the single-process model with the same groups (fixtures)", "[tp]") {
  for (const char* tag : {"tiny", "tiny_auto"}) check_model(tag, tp_model::fixture_parts(tag));
}

TEST_CASE("sharded BitNet on 1, 2 and 3 ranks (random model, uneven vocabulary shards)", "[tp]") {
  check_model("random", tp_model::random_parts(7));
}

TEST_CASE("sharding a model the ranks do not divide is an error naming the head counts", "[tp]") {
  const auto m = tp_model::fixture_parts("tiny");  // 4 heads, 2 KV heads
  std::string msg;
  std::mutex mu;
  run_in_process(3, [&](const communicator& comm) {
    try {
      (void)tp_model::sharded_model(comm, m, tp_activation_scales::per_token);
    } catch (const shape_error& e) {
      std::lock_guard<std::mutex> lock(mu);
      msg = e.what();
    }
  });
  CHECK(msg.find("3 ranks must divide num_attention_heads (4)") != std::string::npos);
}
