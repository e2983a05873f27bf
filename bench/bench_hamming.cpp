// Hamming top-k search: bitlin's hamming_index on every ISA path against FAISS's IndexBinaryFlat
// (when the program is built with it), in the same run and on the same random codes:
//   hamming_topk/<impl>/<N>x<B>/queries:<Q>/k:<k>/threads:<t>
// N = 1,000,000 codes, B = 256 and 1024 bits, Q = 1 and 64 queries, k = 10, threads 1 and 2.
// Counters: scan_GBps = Q * N * B/8 bytes compared per second (the logical scan); db_GBps = the
// database bytes streamed per second (N * B/8 per search, reused from cache across a batch);
// read_bw_frac = db_GBps / read_GBps, the machine's read bandwidth for that thread count measured
// by this program (stream_read's loop over 512 MiB; for single queries just before and after the
// timing loop, the higher of the two). Before timing, each bitlin path's
// k distances per query are checked against FAISS's (ids may differ on ties: FAISS does not order
// ties by index).
#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "bench_support.hpp"

#include "bitlin/search/hamming_index.hpp"

#if defined(BITLIN_BENCH_HAVE_FAISS)
#include <faiss/IndexBinaryFlat.h>
#include <omp.h>
#endif

namespace bitlin_bench {
namespace {

constexpr index hamming_n = 1000000;
constexpr index hamming_k = 10;

struct hamming_data {
  index bits = 0;
  bitlin::matrix_u8 codes, queries;  // [N x B/8], [64 x B/8]
  std::map<int, std::unique_ptr<bitlin::hamming_index>> index_by_isa;
#if defined(BITLIN_BENCH_HAVE_FAISS)
  std::unique_ptr<faiss::IndexBinaryFlat> faiss;
#endif
};

hamming_data& data_for(index bits) {
  static hamming_data d;
  if (d.bits != bits) {
    d = hamming_data{};
    d.bits = bits;
    std::mt19937_64 rng(0x5eed0100u + static_cast<std::uint64_t>(bits));
    d.codes.resize(hamming_n, bits / 8);
    d.queries.resize(64, bits / 8);
    for (index i = 0; i < d.codes.size(); ++i) d.codes.data()[i] = static_cast<std::uint8_t>(rng());
    for (index i = 0; i < d.queries.size(); ++i)
      d.queries.data()[i] = static_cast<std::uint8_t>(rng());
  }
  return d;
}

const bitlin::executor& pool_for(int threads) {
  if (threads <= 1) return bitlin::serial();
  static std::map<int, std::unique_ptr<bitlin::thread_pool>> pools;
  auto& slot = pools[threads];
  if (!slot) slot = std::make_unique<bitlin::thread_pool>(threads);
  return *slot;
}

// The read bandwidth a single-query scan is compared with: measured just before and just after
// its timing loop (the higher of the two is used), as this host's DRAM bandwidth moves by a third
// within minutes with its neighbours' load and a once-per-run figure made the fraction a
// measure of the drift. Batches (compute-bound) use the once-per-run figure.
double adjacent_read_gbps(index queries, int threads) {
  return queries == 1 ? read_gbps_now(threads) : measured_read_gbps(threads);
}

// `bw`: the read bandwidth the fraction is taken of (GB/s).
void set_counters(benchmark::State& state, index bits, index queries, double bw) {
  const double db = static_cast<double>(hamming_n) * static_cast<double>(bits / 8);
  state.counters["scan_GBps"] = benchmark::Counter(db * static_cast<double>(queries) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["db_GBps"] =
      benchmark::Counter(db * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  // Seconds per iteration are only known after the loop: store the fraction's numerator as a
  // rate too (db bytes / read bandwidth, in seconds per second of run).
  state.counters["read_GBps"] = bw;
  if (bw > 0)
    state.counters["read_bw_frac"] =
        benchmark::Counter(db * 1e-9 / bw, benchmark::Counter::kIsIterationInvariantRate);
}

#if defined(BITLIN_BENCH_HAVE_FAISS)
faiss::IndexBinaryFlat& faiss_for(hamming_data& d) {
  if (!d.faiss) {
    d.faiss = std::make_unique<faiss::IndexBinaryFlat>(static_cast<int>(d.bits));
    d.faiss->add(hamming_n, d.codes.data());
  }
  return *d.faiss;
}

void faiss_bench(benchmark::State& state, index bits, index queries, int threads) {
  hamming_data& d = data_for(bits);
  faiss::IndexBinaryFlat& fx = faiss_for(d);
  omp_set_num_threads(threads);
  std::vector<std::int32_t> dist(static_cast<std::size_t>(queries * hamming_k));
  std::vector<faiss::IndexBinary::idx_t> ids(static_cast<std::size_t>(queries * hamming_k));
  fx.search(queries, d.queries.data(), hamming_k, dist.data(), ids.data());
  const double bw_before = adjacent_read_gbps(queries, threads);
  for (auto _ : state) {
    fx.search(queries, d.queries.data(), hamming_k, dist.data(), ids.data());
    benchmark::DoNotOptimize(dist.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, bits, queries, std::max(bw_before, adjacent_read_gbps(queries, threads)));
}
#endif

void bitlin_hamming_bench(benchmark::State& state, bitlin::isa target, index bits, index queries,
                          int threads) {
  hamming_data& d = data_for(bits);
  auto& slot = d.index_by_isa[static_cast<int>(target)];
  if (!slot) {
    slot = std::make_unique<bitlin::hamming_index>(bits, target);
    slot->add(d.codes);
  }
  const bitlin::executor& ex = pool_for(threads);
  const auto q = d.queries.topRows(queries);
  bitlin::hamming_topk r = slot->search(q, hamming_k, ex);
#if defined(BITLIN_BENCH_HAVE_FAISS)
  {
    faiss::IndexBinaryFlat& fx = faiss_for(d);
    std::vector<std::int32_t> dist(static_cast<std::size_t>(queries * hamming_k));
    std::vector<faiss::IndexBinary::idx_t> ids(static_cast<std::size_t>(queries * hamming_k));
    fx.search(queries, d.queries.data(), hamming_k, dist.data(), ids.data());
    if (dist != r.distances) {
      state.SkipWithError("distances differ from FAISS");
      return;
    }
  }
#endif
  const double bw_before = adjacent_read_gbps(queries, threads);
  for (auto _ : state) {
    r = slot->search(q, hamming_k, ex);
    benchmark::DoNotOptimize(r.ids.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, bits, queries, std::max(bw_before, adjacent_read_gbps(queries, threads)));
}

}  // namespace

void register_hamming_benchmarks() {
  for (index bits : {index{256}, index{1024}}) {
    for (index queries : {index{1}, index{64}}) {
      for (int t : bench_threads()) {
        const std::string tail = "/" + std::to_string(hamming_n) + "x" + std::to_string(bits) +
                                 "/queries:" + std::to_string(queries) +
                                 "/k:" + std::to_string(hamming_k) +
                                 "/threads:" + std::to_string(t);
        for (bitlin::isa target : bitlin::supported_isas()) {
          const std::string name =
              std::string("hamming_topk/bitlin_") + bitlin::isa_name(target) + tail;
          benchmark::RegisterBenchmark(name.c_str(),
                                       [target, bits, queries, t](benchmark::State& s) {
                                         bitlin_hamming_bench(s, target, bits, queries, t);
                                       })
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond);
        }
#if defined(BITLIN_BENCH_HAVE_FAISS)
        const std::string name = "hamming_topk/faiss" + tail;
        benchmark::RegisterBenchmark(
            name.c_str(),
            [bits, queries, t](benchmark::State& s) { faiss_bench(s, bits, queries, t); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
#endif
      }
    }
  }
}

}  // namespace bitlin_bench
