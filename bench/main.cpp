// bitlin_bench: every kernel benchmark in one binary, so that kernels, baselines and the
// machine's own limits come from the same run. Registration is shape-major (all kinds, token
// counts, thread counts and implementations of one shape, then the next shape) because each
// implementation caches its inputs for the current shape only.
//
// Names (with Google Benchmark's "/real_time" suffix: every benchmark reports wall time, the
// only meaningful time when worker threads do the work):
//   gemv/<impl>/<N>x<K>/threads:<t>   (impl: ref, bitlin_<isa>, bitlin_<isa>_b1,
//                                      bitlin_<isa>_xnor, eigen_f32, ...)
//   gemm/<impl>/<N>x<K>/tokens:<M>/threads:<t>
//   gemv_cold/<impl>/<N>x<K>/threads:<t>
//   stream_read/<bytes>/threads:<t>
//   peak_int8/<instr>/threads:<t>
//   hamming_topk/<impl>/<N>x<B>/queries:<Q>/k:<k>/threads:<t>   (bench_hamming.cpp)
// scripts/bench_table.py turns the JSON output into ratio tables.
#include <cstdio>

#include "bench_support.hpp"

namespace {

using namespace bitlin_bench;

std::vector<impl_bench> impls_at(kind k, shape s, index tokens, int threads) {
  std::vector<impl_bench> impls = ternary_benchmarks(k, s, tokens, threads);
  for (impl_bench& e : xnor_benchmarks(k, s, tokens, threads)) impls.push_back(std::move(e));
  for (impl_bench& e : eigen_benchmarks(k, s, tokens, threads)) impls.push_back(std::move(e));
  return impls;
}

void register_one(kind k, shape s, index tokens, int threads, impl_bench& e) {
  const std::string name = bench_name(k, e.impl, s, tokens, threads);
  benchmark::RegisterBenchmark(name.c_str(), std::move(e.fn))
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

void register_grid_point(kind k, shape s, index tokens, int threads) {
  for (impl_bench& e : impls_at(k, s, tokens, threads)) register_one(k, s, tokens, threads, e);
}

// Cold runs are ordered implementation-major so that one cycled set of weight copies (about
// 1 GiB, built per implementation) serves every thread count before the next is built.
void register_cold(shape s) {
  std::vector<std::vector<impl_bench>> per_threads;
  for (int t : bench_threads()) per_threads.push_back(impls_at(kind::gemv_cold, s, 1, t));
  for (std::size_t i = 0; i < per_threads.front().size(); ++i)
    for (std::size_t j = 0; j < per_threads.size(); ++j)
      if (i < per_threads[j].size())
        register_one(kind::gemv_cold, s, 1, bench_threads()[j], per_threads[j][i]);
}

}  // namespace

int main(int argc, char** argv) {
  register_machine_benchmarks();
  for (shape s : bench_shapes()) {
    for (int t : bench_threads()) register_grid_point(kind::gemv, s, 1, t);
    for (index m : gemm_tokens())
      for (int t : bench_threads()) register_grid_point(kind::gemm, s, m, t);
    register_cold(s);
  }
  register_hamming_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("cold_set_MiB", std::to_string(cold_set_bytes() >> 20));
  benchmark::AddCustomContext("llc_reported_MiB", std::to_string(last_level_cache_bytes() >> 20));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
