// The layer-level tensor-parallel cases, shared by the in-process test (P threads) and the MPI
// test (P processes under mpirun). Each case runs the sharded layers on one rank and, on the same
// rank, the single-process bit_linear quantized with the same groups; it returns both so that
// the caller asserts (Catch's macros are not thread-safe, so the in-process test asserts after
// the threads have joined).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <bitlin/bitlin.hpp>
#include <bitlin/distributed/parallel_linear.hpp>

#include "test_util.hpp"

namespace tp_cases {

using namespace bitlin;
using namespace bitlin::distributed;

using bitlin_test::randn;

// Inputs with the awkward rows: an all-zero token (the absmax floor), a token whose magnitude
// lives in one shard only, huge and tiny magnitudes.
inline matrix_f adversarial_input(index_t T, index_t K, std::uint32_t seed) {
  matrix_f x = randn(T, K, seed);
  if (T > 1) x.row(1).setZero();
  if (T > 2) {
    x.row(2).setZero();
    x(2, K - 1) = 3.0f;
  }
  if (T > 3) x.row(3) *= 1e4f;
  if (T > 4) x.row(4) *= 1e-6f;
  return x;
}

struct outcome {
  std::string name;
  matrix_f sharded, single;    // equal bit for bit when the case passes
  bool integers_equal = true;  // the rank's quantized inputs, weights and int32 products
};

// Column-parallel: per-shard weight scales = the full layer's row_groups(N / P).
template <class WK, int AB>
outcome column_case(const communicator& comm, index_t N, index_t K, index_t T, std::uint32_t seed,
                    bool with_bias) {
  const int P = comm.size();
  const matrix_f W = randn(N, K, seed), x = adversarial_input(T, K, seed + 1);
  const matrix_f b = randn(1, N, seed + 2);
  const float* bias = with_bias ? b.data() : nullptr;
  typename bit_linear<WK, AB>::options full_opt;
  full_opt.weight_groups = scale_groups::row_groups(N / P);
  const auto full = bit_linear<WK, AB>::from_float(W, bias, full_opt);
  const auto cp = column_parallel_linear<WK, AB>::from_float(comm, W, bias);
  // The same shard from the full layer's quantized weights must be the same layer.
  const auto cq =
      column_parallel_linear<WK, AB>::from_quantized(comm, full.weights(), full.scales(), bias);
  outcome o;
  o.name = std::string("column N=") + std::to_string(N) + " K=" + std::to_string(K) +
           " T=" + std::to_string(T);
  o.single = full.forward(x);
  o.sharded = cp.forward(x);
  const shard_range s = cp.shard();
  o.integers_equal =
      cp.local().weights() == full.weights().middleRows(s.begin, s.size()) &&
      cq.local().weights() == cp.local().weights() &&
      cp.local().scales().values == cq.local().scales().values &&
      cp.local().scales().values.size() == 1 &&
      cp.local().scales().values[0] == full.scales().values[static_cast<std::size_t>(comm.rank())];
  o.integers_equal = o.integers_equal && cq.forward(x) == o.sharded &&
                     cp.forward_local(x) == o.single.middleCols(s.begin, s.size());
  return o;
}

// Row-parallel: per-shard weight scales = the full layer's scale_groups{0, K / P} (or finer,
// `in_shard` inside each shard), activation scales per (token, shard) = k_blocks(K / P).
template <class WK, int AB>
outcome row_case(const communicator& comm, index_t N, index_t K, index_t T, std::uint32_t seed,
                 bool with_bias, scale_groups weight_in_shard = scale_groups::per_tensor(),
                 index_t act_block = 0) {
  const int P = comm.size();
  const index_t ks = K / P;
  const matrix_f W = randn(N, K, seed), x = adversarial_input(T, K, seed + 1);
  const matrix_f b = randn(1, N, seed + 2);
  const float* bias = with_bias ? b.data() : nullptr;
  using layer = bit_linear<WK, AB>;
  typename layer::options shard_opt;
  shard_opt.weight_groups = weight_in_shard;
  shard_opt.act_groups = act_block ? scale_groups::k_blocks(act_block) : scale_groups::per_row();
  typename layer::options full_opt;
  full_opt.weight_groups = {weight_in_shard.rows_per_group,
                            weight_in_shard.cols_per_group ? weight_in_shard.cols_per_group : ks};
  full_opt.act_groups = scale_groups::k_blocks(act_block ? act_block : ks);
  const auto full = layer::from_float(W, bias, full_opt);
  const auto rp = row_parallel_linear<WK, AB>::from_float(comm, W, bias, shard_opt);
  outcome o;
  o.name = std::string("row N=") + std::to_string(N) + " K=" + std::to_string(K) +
           " T=" + std::to_string(T);
  o.single = full.forward(x);
  o.sharded = rp.forward_full(x);

  // The integers this rank multiplies are the full layer's, restricted to the shard.
  const shard_range s = rp.shard();
  const quantized_activations xf = full.quantize_input(x);
  const quantized_activations xl = rp.local().quantize_input(x.middleCols(s.begin, s.size()));
  bool eq = xl.q == xf.q.middleCols(s.begin, s.size());
  for (index_t t = 0; t < T; ++t)
    for (index_t k = 0; k < ks; ++k)
      eq = eq && xl.scales[static_cast<std::size_t>(xl.layout.index(t, k))] ==
                     xf.scales[static_cast<std::size_t>(xf.layout.index(t, s.begin + k))];
  const matrix_i8 wl = rp.local().weights();
  eq = eq && wl == full.weights().middleCols(s.begin, s.size());
  const weight_scales& sl = rp.local().scales();
  for (index_t n = 0; n < N; ++n)
    for (index_t k = 0; k < ks; ++k)
      eq = eq &&
           sl.values[static_cast<std::size_t>(sl.layout.index(n, k))] ==
               full.scales()
                   .values[static_cast<std::size_t>(full.scales().layout.index(n, s.begin + k))];
  // int32 products of the shard on the fast kernels = the reference product of the full
  // matrices' shard columns.
  const ternary_gemm_weights packed(wl);
  matrix_i32 fast(T, N);
  ternary_gemm(packed, xl.q.data(), T, xl.q.cols(), fast.data(), N);
  eq = eq && fast == reference_gemm(matrix_i8(xf.q.middleCols(s.begin, s.size())),
                                    matrix_i8(full.weights().middleCols(s.begin, s.size())));
  o.integers_equal = eq;
  return o;
}

// Megatron MLP: column-parallel (output left split) feeding row-parallel, no communication in
// between; against the two single-process layers with the same groups.
inline outcome mlp_case(const communicator& comm, index_t H, index_t F, index_t T,
                        std::uint32_t seed) {
  const int P = comm.size();
  const matrix_f W1 = randn(F, H, seed), W2 = randn(H, F, seed + 1);
  const matrix_f x = randn(T, H, seed + 2), b2 = randn(1, H, seed + 3);
  bit_linear<>::options o1, o2;
  o1.weight_groups = scale_groups::row_groups(F / P);
  o2.weight_groups = {0, F / P};
  o2.act_groups = scale_groups::k_blocks(F / P);
  const auto f1 = bit_linear<>::from_float(W1, nullptr, o1);
  const auto f2 = bit_linear<>::from_float(W2, b2.data(), o2);
  const auto c1 = column_parallel_linear<>::from_float(comm, W1);
  const auto r2 = row_parallel_linear<>::from_float(comm, W2, b2.data());
  outcome o;
  o.name = "mlp H=" + std::to_string(H) + " F=" + std::to_string(F) + " T=" + std::to_string(T);
  o.single = f2.forward(f1.forward(x));
  o.sharded = r2.forward(c1.forward_local(x));
  return o;
}

// Every case of the suite on this rank (sizes divisible by 1, 2 and 3).
inline std::vector<outcome> all_cases(const communicator& comm) {
  std::vector<outcome> v;
  for (index_t T : {1, 5, 9}) {
    v.push_back(column_case<ternary, 8>(comm, 24, 40, T, 11, true));
    v.push_back(column_case<ternary, 8>(comm, 12, 300, T, 12, false));
    v.push_back(column_case<binary, 4>(comm, 36, 64, T, 13, true));
    v.push_back(row_case<ternary, 8>(comm, 10, 48, T, 21, true));
    v.push_back(row_case<ternary, 8>(comm, 33, 96, T, 22, false, scale_groups::per_row()));
    v.push_back(row_case<binary, 8>(comm, 16, 72, T, 23, true));
    v.push_back(row_case<ternary, 4>(comm, 7, 600, T, 24, true));
    v.push_back(mlp_case(comm, 32, 96, T, 31));
  }
  return v;
}

// 0 + a_0 + a_1 + ... in rank order, with partials chosen so that another order would round
// differently (large values that cancel and small ones lost next to them).
inline std::vector<float> reduction_partial(int rank, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float big = (rank % 2 == 0 ? 1.0f : -1.0f) * 1e8f;
    v[i] = (rank == 0 || rank == 1)
               ? big
               : 1.0f + static_cast<float>(i) * 0.25f + static_cast<float>(rank);
  }
  return v;
}

inline std::vector<float> reduction_expected(int ranks, std::size_t n) {
  std::vector<float> s(n, 0.0f);
  for (int r = 0; r < ranks; ++r) {
    const std::vector<float> p = reduction_partial(r, n);
    for (std::size_t i = 0; i < n; ++i) s[i] += p[i];
  }
  return s;
}

}  // namespace tp_cases
