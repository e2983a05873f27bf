// Shared plumbing for bitlin_bench: the shape/token/thread grid every benchmark family sweeps, the
// counters that make results comparable across implementations, deterministic random inputs and a
// small persistent thread team for the code that has no executor of its own (the Eigen baseline's
// row split, the reference kernel, the machine benchmarks).
//
// Everything here is defined out of line in bench_support.cpp. That matters: bench_eigen.cpp is
// compiled with -march=native, and an inline function shared between it and the portable sources
// would be an ODR violation whose winning copy the linker picks at random.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bitlin_bench {

using index = std::ptrdiff_t;
using bench_fn = std::function<void(benchmark::State&)>;

// One N x K weight shape (N = output features, K = input features).
struct shape {
  index n;
  index k;
};

// What a benchmark measures: one token (gemv), many tokens (gemm), or one token with weights that
// cannot stay in the last-level cache (gemv_cold).
enum class kind { gemv, gemm, gemv_cold };

const char* kind_name(kind k);

// The grid of issue 3: BitNet-2B shapes plus two Llama-style ones, tokens 1..512, 1 and 2 threads.
const std::vector<shape>& bench_shapes();
const std::vector<index>& gemm_tokens();  // tokens > 1; tokens == 1 is the gemv family
const std::vector<int>& bench_threads();

// Largest token count at which the (scalar, serial) reference kernel is still benchmarked.
constexpr index max_ref_tokens = 32;

// "gemv/<impl>/<N>x<K>/threads:<t>", "gemm/<impl>/<N>x<K>/tokens:<M>/threads:<t>",
// "gemv_cold/<impl>/<N>x<K>/threads:<t>".
std::string bench_name(kind k, const std::string& impl, shape s, index tokens, int threads);

// GMACs (N*K*tokens per second, in G) and weight_GBps (weight bytes streamed per second, in GB).
// Call after the timing loop; both are iteration-invariant rates over the reported (real) time.
void set_gemm_counters(benchmark::State& state, shape s, index tokens, double weight_bytes);

// Bytes the cold-GEMV benchmarks cycle through: 4x the last-level cache (sysconf, then /sys,
// else 32 MiB), clamped to [256 MiB, 1 GiB] because this VM reports the whole socket's L3
// (hundreds of MiB) while a core only sees its own CCD's share. BITLIN_BENCH_COLD_MIB overrides.
std::size_t last_level_cache_bytes();
std::size_t cold_set_bytes();
// Number of distinct copies of a matrix of `matrix_bytes` needed to cover cold_set_bytes() (>= 2).
index cold_copies(std::size_t matrix_bytes);

// Deterministic random inputs: uniform int8 activations and uniform trits {-1, 0, 1}.
void fill_random_int8(std::int8_t* dst, std::size_t n, std::uint64_t seed);
void fill_random_trits(std::int8_t* dst, std::size_t n, std::uint64_t seed);

// A persistent team of `threads` threads (the caller is member 0). run(body) calls body(i) on
// every member i in [0, threads) and returns when all are done. Workers spin briefly before
// sleeping so that back-to-back calls (one per benchmark iteration) do not pay a wake-up each.
class team {
 public:
  explicit team(int threads);
  ~team();
  team(const team&) = delete;
  team& operator=(const team&) = delete;
  int threads() const;
  void run(const std::function<void(int)>& body);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

// One cached team per thread count, created on first use and kept for the process lifetime.
team& shared_team(int threads);

// Splits [0, n) into `parts` contiguous ranges; range i is [split_begin(n, parts, i),
// split_begin(n, parts, i + 1)), rounded to multiples of `align` except at the end.
index split_begin(index n, int parts, int i, index align = 1);

// What the machine is, for every benchmark program's output and JSON context: the CPU model as
// /proc/cpuinfo names it ("model name" on x86; "Model", "Hardware" or implementer/part on Arm;
// "unknown CPU" elsewhere) and the logical CPU count.
std::string cpu_model();
// Adds cpu_model, isa (the kernels the dispatcher runs) and isas_supported to Google Benchmark's
// context (printed in the console header and stored in the JSON) and prints them on one line.
void describe_machine(const std::string& isa_in_use, const std::string& isas_supported);

// Registration hooks, one per source file; main.cpp calls them in a fixed order.
void register_machine_benchmarks();  // stream_read, peak_int8
// The best of five sums over 512 MiB (stream_read's loop) by `threads` threads, in GB/s; measured
// once per thread count and cached, for counters stated as a fraction of read bandwidth.
double measured_read_gbps(int threads);
// The same measurement now (the best of `passes`), not cached: for a fraction whose numerator was
// measured in the seconds around it, on a host whose bandwidth drifts with its neighbours' load.
double read_gbps_now(int threads, int passes = 3);
// gemv_threads/bitlin_<isa>[_split_all]/<N>x<K>/threads:<t> (bench_ternary.cpp): whether 2
// threads beat 1 on small and large GEMVs, with and without the library's work threshold.
void register_thread_threshold_benchmarks();
// hamming_topk/<impl>/<N>x<B>/queries:<Q>/k:<k>/threads:<t> (bench_hamming.cpp).
void register_hamming_benchmarks();

// An implementation of the product for one grid point, or nothing where it does not apply.
struct impl_bench {
  std::string impl;
  bench_fn fn;
};
// Eigen float baseline (bench_eigen.cpp, compiled with -march=native).
std::vector<impl_bench> eigen_benchmarks(kind k, shape s, index tokens, int threads);
// bitlin_<isa> for every supported ISA, and ref (bench_ternary.cpp).
std::vector<impl_bench> ternary_benchmarks(kind k, shape s, index tokens, int threads);
// bitlin_<isa>_xnor: binary x binary (bench_xnor.cpp), same families and shapes.
std::vector<impl_bench> xnor_benchmarks(kind k, shape s, index tokens, int threads);

}  // namespace bitlin_bench
