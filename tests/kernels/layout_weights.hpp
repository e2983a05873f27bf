// Operands for the kernel tests: random weights in a layout's alphabet and the accumulator
// extremes.
#pragma once

#include <bitlin/gemm/ternary_gemm.hpp>

#include <cstdint>
#include <random>
#include <type_traits>

namespace bitlin_test {

// {-1, 0, 1} uniformly, or {-1, 1} for a binary layout.
template <class Layout>
bitlin::matrix_i8 random_weights(bitlin::index_t n, bitlin::index_t k, std::mt19937& rng) {
  constexpr bool binary_only =
      std::is_same_v<typename bitlin::kernel_layout_traits<Layout>::weight_kind, bitlin::binary>;
  std::uniform_int_distribution<int> d(-1, 1);
  bitlin::matrix_i8 w(n, k);
  for (bitlin::index_t i = 0; i < w.size(); ++i) {
    int v = d(rng);
    if (binary_only && v == 0) v = (rng() & 1) ? 1 : -1;
    w.data()[i] = static_cast<std::int8_t>(v);
  }
  return w;
}

// Sets both thresholds for a scope (the settings are global) and puts them back.
struct lut_thresholds {
  bitlin::index_t tokens = bitlin::lut_min_tokens(), rows = bitlin::lut_min_rows();
  lut_thresholds(bitlin::index_t t, bitlin::index_t r) {
    bitlin::set_lut_min_tokens(t);
    bitlin::set_lut_min_rows(r);
  }
  ~lut_thresholds() {
    bitlin::set_lut_min_tokens(tokens);
    bitlin::set_lut_min_rows(rows);
  }
  lut_thresholds(const lut_thresholds&) = delete;
  lut_thresholds& operator=(const lut_thresholds&) = delete;
};

// Any int8 uniformly.
inline bitlin::matrix_i8 random_acts(bitlin::index_t t, bitlin::index_t k, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  bitlin::matrix_i8 x(t, k);
  for (bitlin::index_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<std::int8_t>(d(rng));
  return x;
}

// The accumulator extremes over K: weights all -1, all +1, alternating; activations all -128,
// all +127 and the two alternations (products of +-128 and +-127 of either sign).
struct extreme_operands {
  bitlin::matrix_i8 W, X;  // [3 x k], [4 x k]
  explicit extreme_operands(bitlin::index_t k) : W(3, k), X(4, k) {
    for (bitlin::index_t j = 0; j < k; ++j) {
      W(0, j) = -1;
      W(1, j) = 1;
      W(2, j) = static_cast<std::int8_t>(j % 2 ? 1 : -1);
      X(0, j) = -128;
      X(1, j) = 127;
      X(2, j) = static_cast<std::int8_t>(j % 2 ? 127 : -128);
      X(3, j) = static_cast<std::int8_t>(j % 2 ? -128 : 127);
    }
  }
};

}  // namespace bitlin_test
