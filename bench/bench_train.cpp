// bitlin_bench_train: one training step (forward, backward, AdamW update) of the BitNet decoder
// that examples/bitnet_train trains, against the same architecture with float Linear layers, same
// shapes, batch, threads and run:
//   train_step/<weights>/<shape>/threads:<t>
// <weights> is ternary (BitNet b1.58: quantized forward on bitlin's integer kernels, STE backward
// in float), binary (BitNet b1) or float (Eigen products everywhere). The counter tokens/s is
// batch x context per second. Shapes: "default" is bitnet_train's default model, "wide" a 4x
// larger one (hidden 256, ffn 768, 4 layers) where the projections dominate more.
// The CPU column is the whole process's CPU time (every worker of the pool), so on a shared,
// loaded machine it is the figure to compare; pass --benchmark_repetitions=N and compare the
// medians of variants from the same run.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "bitlin/train/model.hpp"
#include "bitlin/train/optim.hpp"

namespace {

using namespace bitlin::train;
using bitlin::index_t;

struct bench_shape {
  const char* name;
  index_t hidden, ffn, layers, heads, kv_heads, context, batch, vocab;
};

void train_step(benchmark::State& state, bench_shape bs, weight_mode wm, int threads) {
  model_shape m;
  m.vocab = bs.vocab;
  m.hidden = bs.hidden;
  m.ffn = bs.ffn;
  m.layers = bs.layers;
  m.heads = bs.heads;
  m.kv_heads = bs.kv_heads;
  m.context = bs.context;
  m.weights = wm;
  model_params<float> p = init_params<float>(m, 1);
  adamw_state st = make_adamw_state(p);
  optimizer_options o;
  bitlin::thread_pool pool(threads);
  rng r(3);
  std::vector<std::int32_t> windows(static_cast<std::size_t>(bs.batch * (bs.context + 1)));
  for (auto& id : windows)
    id = static_cast<std::int32_t>(r.below(static_cast<std::uint64_t>(bs.vocab)));
  for (auto _ : state) {
    model_params<float> g = p.zeros_like();
    const double loss = loss_and_grad(p, m, windows, bs.batch, &g, pool);
    adamw_step(p, g, st, o);
    benchmark::DoNotOptimize(loss);
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(bs.batch * bs.context),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  const bench_shape shapes[] = {{"default", 128, 256, 2, 4, 2, 64, 8, 512},
                                {"wide", 256, 768, 4, 8, 4, 64, 8, 512}};
  for (const auto& s : shapes)
    for (int t : {1, 2})
      for (weight_mode wm :
           {weight_mode::ternary, weight_mode::binary, weight_mode::full_precision}) {
        const std::string name = std::string("train_step/") + weight_mode_name(wm) + "/" + s.name +
                                 "/threads:" + std::to_string(t);
        benchmark::RegisterBenchmark(name.c_str(), train_step, s, wm, t)
            ->UseRealTime()
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(1.0);
      }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
