// Random weights in a kernel layout's alphabet, shared by the kernel tests.
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

}  // namespace bitlin_test
