// bitlin_bench_tp: tensor parallelism over MPI against one process, in the same run. Run it as
//   mpirun --allow-run-as-root -np 2 --mca btl self,vader bench/bitlin_bench_tp
// (any process count the model's head counts allow; 1 gives the baselines alone). The model is
// BitNet-2B-shaped per layer (hidden 2560, intermediate 6912, 20 heads, head_dim 128) with 4 KV
// heads instead of 5 (so that 2 and 4 ranks divide them), 4 layers and a 32000-token BF16 head
// (BITLIN_BENCH_TP_LAYERS changes the depth); random weights, made in memory on every rank.
//   tp/prefill:<T>/ranks:<P>    a T-token prompt from an empty cache, all ranks, 1 thread each
//   tp/decode/ranks:<P>         one token after a 64-token prompt, all ranks
//   single/prefill:<T>/threads:<t>, single/decode/threads:<t>   the unsharded model in one process
//       on rank 0 while the other ranks sleep (they wait for it without spinning)
// Counters: tokens_per_s (wall clock: the benchmarks use real time, since ranks and pool threads
// are not the calling thread), and for tp the bytes rank 0 sent per token (bytes_per_token; decode:
// with the logits all-gather) and per token and layer (bytes_per_token_layer; decode: the layers
// alone). Iteration counts are fixed (every rank must run the
// same number of collective steps).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "bitlin/distributed/mpi.hpp"
#include "bitlin/distributed/sharded_bitnet.hpp"
#include "bitlin/testing/random_model.hpp"

namespace {
using bitlin::index_t;
using namespace bitlin::model;
using namespace bitlin::distributed;

const mpi_communicator* world = nullptr;

bitnet_config tp_config() {
  bitnet_config c;
  c.vocab_size = 32000;
  c.hidden_size = 2560;
  c.intermediate_size = 6912;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 20;
  c.num_key_value_heads = 4;
  c.head_dim = 128;
  c.max_position_embeddings = 4096;
  c.tie_word_embeddings = true;
  if (const char* l = std::getenv("BITLIN_BENCH_TP_LAYERS")) c.num_hidden_layers = std::atoi(l);
  c.validate();
  return c;
}

// The same random tensors on every rank (same seed).
const random_model_parts& model_parts() {
  static const random_model_parts p(tp_config(), 1);
  return p;
}

const sharded_bitnet_model& sharded() {
  static const sharded_bitnet_model m(*world, model_parts().config, model_parts().embed,
                                      model_parts().blocks, model_parts().final_norm);
  return m;
}

const bitnet_model& single() {
  static const bitnet_model m = model_parts().build();
  return m;
}

bitlin::thread_pool& pool(int threads) {
  static bitlin::thread_pool p1(1), p2(2);
  return threads == 1 ? p1 : p2;
}

std::vector<std::int64_t> ids(index_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = (i * 7919 + 13) % 32000;
  return v;
}

template <class Model>
void prefill(benchmark::State& state, const Model& m, index_t T, const bitlin::executor& ex) {
  const auto prompt = ids(T);
  for (auto _ : state) {
    kv_cache cache = m.new_cache();
    const auto logits = m.forward(prompt.data(), T, cache, logits_for::last, ex);
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
}

template <class Model>
void decode(benchmark::State& state, const Model& m, const bitlin::executor& ex) {
  const index_t prompt = 64;
  const auto p = ids(prompt);
  kv_cache cache = m.new_cache();
  cache.reserve(prompt + 1024);
  m.forward(p.data(), prompt, cache, logits_for::none, ex);
  std::int64_t next = 42;
  for (auto _ : state) {
    const auto logits = m.forward(&next, 1, cache, logits_for::last, ex);
    next = 1 + static_cast<std::int64_t>(logits(0, 0) > 0.0f);
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

void tp_counters(benchmark::State& state, double tokens) {
  const double per_token = static_cast<double>(world->bytes_sent()) / tokens;
  state.counters["bytes_per_token"] = per_token;
  state.counters["bytes_per_token_layer"] =
      per_token / static_cast<double>(model_parts().config.num_hidden_layers);
}

void bm_tp_prefill(benchmark::State& state) {
  const index_t T = state.range(0);
  sharded();  // built before the counter is reset
  world->reset_bytes_sent();
  prefill(state, sharded(), T, pool(1));
  // Includes one logits row per prompt (the last token's).
  tp_counters(state, static_cast<double>(T * static_cast<index_t>(state.iterations())));
}

void bm_tp_decode(benchmark::State& state) {
  sharded();
  decode(state, sharded(), pool(1));
  // The bytes of one decode step, measured apart so the 64-token prompt is not counted: the layers
  // alone (no logits), then the step with its logits all-gather.
  kv_cache cache = sharded().new_cache();
  const auto p = ids(8);
  sharded().forward(p.data(), 8, cache, logits_for::none, pool(1));
  world->reset_bytes_sent();
  std::int64_t next = 3;
  sharded().forward(&next, 1, cache, logits_for::none, pool(1));
  tp_counters(state, 1.0);
  world->reset_bytes_sent();
  sharded().forward(&next, 1, cache, logits_for::last, pool(1));
  state.counters["bytes_per_token"] = static_cast<double>(world->bytes_sent());
}

void bm_single_prefill(benchmark::State& state) {
  prefill(state, single(), state.range(0), pool(static_cast<int>(state.range(1))));
}
void bm_single_decode(benchmark::State& state) {
  decode(state, single(), pool(static_cast<int>(state.range(0))));
}

// Waits for rank 0 without spinning on a core (MPI's own waits poll, which would steal the core
// rank 0's second thread runs on).
void idle_barrier() {
  MPI_Request req;
  MPI_Ibarrier(world->native(), &req);
  int done = 0;
  while (!done) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}
}  // namespace

int main(int argc, char** argv) {
  mpi_environment env(&argc, &argv);
  const mpi_communicator comm;
  world = &comm;
  const std::string P = std::to_string(comm.size());
  for (index_t T : {64, 256})
    benchmark::RegisterBenchmark(("tp/prefill:" + std::to_string(T) + "/ranks:" + P).c_str(),
                                 bm_tp_prefill)
        ->Arg(T)
        ->Iterations(T == 64 ? 6 : 2)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("tp/decode/ranks:" + P).c_str(), bm_tp_decode)
      ->Iterations(40)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  if (comm.rank() == 0) {
    for (int t : {1, 2}) {
      for (index_t T : {64, 256})
        benchmark::RegisterBenchmark(
            ("single/prefill:" + std::to_string(T) + "/threads:" + std::to_string(t)).c_str(),
            bm_single_prefill)
            ->Args({T, t})
            ->Iterations(T == 64 ? 6 : 2)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("single/decode/threads:" + std::to_string(t)).c_str(),
                                   bm_single_decode)
          ->Arg(t)
          ->Iterations(40)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (comm.rank() != 0) {
    // Same tp benchmarks in lockstep, silently.
    if (!std::freopen("/dev/null", "w", stdout)) return 1;
  }
  // The tp benchmarks first on every rank; then rank 0 alone runs the baselines.
  benchmark::RunSpecifiedBenchmarks();
  idle_barrier();
  benchmark::Shutdown();
  return 0;
}
