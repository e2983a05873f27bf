// eigen_f32: the float baseline a user would otherwise pick, Y = X * W^T with W the [N, K] float
// weight matrix (row-major, as bitlin stores it) and X the int8 activations converted to float.
//
// This file alone is compiled with -march=native (bench/CMakeLists.txt): Eigen picks its SIMD
// width at compile time, so without it the baseline would run SSE2 code and the ratios would
// flatter bitlin. bitlin's kernels do not need the flag (they dispatch at run time). The file
// includes no bitlin header, and it is listed first among bitlin_bench's sources so that the native
// copies of any Eigen template instantiated in both this and a portable file are the ones the
// linker keeps.
//
// Threads: Eigen never parallelizes a matrix-vector product, and its OpenMP GEMM splits poorly
// at few tokens, so for t > 1 the output features (rows of W) are split into t contiguous blocks,
// each computed by Eigen single-threaded on its own thread of a persistent team. That is what a
// user would do, and the same split bitlin's executor makes. Eigen's own OpenMP GEMM can be chosen
// instead with BITLIN_BENCH_EIGEN_OMP=1 when built with OpenMP.
#include <Eigen/Core>

#include <cstdlib>
#include <memory>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_support.hpp"

namespace bitlin_bench {
namespace {

using matrix_rf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Inputs for the current shape; replaced when the shape changes so memory stays bounded.
struct eigen_data {
  shape s{0, 0};
  matrix_rf w;                  // [N, K]
  matrix_rf x;                  // [512, K]
  matrix_rf y;                  // [512, N]
  std::vector<matrix_rf> cold;  // distinct copies of w for gemv_cold
};

eigen_data& data_for(shape s, bool need_cold) {
  static eigen_data d;
  if (d.s.n != s.n || d.s.k != s.k) {
    d = eigen_data{};
    d.s = s;
    std::vector<std::int8_t> tmp(static_cast<std::size_t>(s.n * s.k));
    fill_random_trits(tmp.data(), tmp.size(),
                      0x5eed0001u + static_cast<std::uint64_t>(s.n * 131 + s.k));
    d.w.resize(s.n, s.k);
    for (index i = 0; i < s.n * s.k; ++i)
      d.w.data()[i] = static_cast<float>(tmp[static_cast<std::size_t>(i)]);
    const index max_tokens = gemm_tokens().back();
    tmp.assign(static_cast<std::size_t>(max_tokens * s.k), 0);
    fill_random_int8(tmp.data(), tmp.size(), 0x5eed0002u);
    d.x.resize(max_tokens, s.k);
    for (index i = 0; i < max_tokens * s.k; ++i)
      d.x.data()[i] = static_cast<float>(tmp[static_cast<std::size_t>(i)]);
    d.y.setZero(max_tokens, s.n);
  }
  if (need_cold && d.cold.empty()) {
    const index copies = cold_copies(static_cast<std::size_t>(s.n * s.k) * sizeof(float));
    d.cold.assign(static_cast<std::size_t>(copies), d.w);
  }
  return d;
}

bool use_eigen_openmp() {
#ifdef _OPENMP
  const char* env = std::getenv("BITLIN_BENCH_EIGEN_OMP");
  return env != nullptr && env[0] == '1';
#else
  return false;
#endif
}

// y[:, rows] = x * w[rows, :]^T for one block of output features.
void product_block(const matrix_rf& w, const matrix_rf& x, matrix_rf& y, index tokens, index n0,
                   index n1) {
  if (n1 <= n0) return;
  if (tokens == 1) {
    // Matrix-vector: Eigen's row-major GEMV kernel (dot products along K).
    Eigen::Map<Eigen::VectorXf> yv(y.data() + n0, n1 - n0);
    yv.noalias() = w.middleRows(n0, n1 - n0) * x.row(0).transpose();
  } else {
    y.block(0, n0, tokens, n1 - n0).noalias() =
        x.topRows(tokens) * w.middleRows(n0, n1 - n0).transpose();
  }
}

void run_product(const matrix_rf& w, const matrix_rf& x, matrix_rf& y, index tokens, int threads,
                 team& tm, const std::function<void(int)>* split_body) {
  if (threads == 1) {
    product_block(w, x, y, tokens, 0, w.rows());
  } else if (tokens > 1 && use_eigen_openmp()) {
    y.topRows(tokens).noalias() = x.topRows(tokens) * w.transpose();
  } else {
    tm.run(*split_body);
  }
}

void eigen_bench(benchmark::State& state, kind k, shape s, index tokens, int threads) {
#ifdef _OPENMP
  // Built with OpenMP, Eigen would use every core by default; keep it at the requested count.
  Eigen::setNbThreads(threads > 1 && use_eigen_openmp() ? threads : 1);
#endif
  eigen_data& d = data_for(s, k == kind::gemv_cold);
  team& tm = shared_team(threads);
  const matrix_rf* w = &d.w;
  const std::function<void(int)> split_body = [&](int t) {
    product_block(*w, d.x, d.y, tokens, split_begin(s.n, threads, t, 16),
                  split_begin(s.n, threads, t + 1, 16));
  };
  // One untimed call faults in Eigen's blocking buffers and wakes the team (Google Benchmark 1.7
  // has no warm-up option, and the slowest cases run a single timed iteration).
  run_product(*w, d.x, d.y, tokens, threads, tm, &split_body);
  std::size_t next = 0;
  for (auto _ : state) {
    if (k == kind::gemv_cold) {
      w = &d.cold[next];
      next = next + 1 == d.cold.size() ? 0 : next + 1;
    }
    run_product(*w, d.x, d.y, tokens, threads, tm, &split_body);
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  set_gemm_counters(state, s, tokens, static_cast<double>(s.n * s.k) * sizeof(float));
  if (k == kind::gemv_cold) {
    state.SetLabel(std::to_string(d.cold.size()) + " copies, " +
                   std::to_string(d.cold.size() * static_cast<std::size_t>(s.n * s.k) * 4 >> 20) +
                   " MiB");
  }
}

}  // namespace

std::vector<impl_bench> eigen_benchmarks(kind k, shape s, index tokens, int threads) {
  return {{"eigen_f32", [k, s, tokens, threads](benchmark::State& st) {
             eigen_bench(st, k, s, tokens, threads);
           }}};
}

}  // namespace bitlin_bench
