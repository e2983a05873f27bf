// The portable Hamming kernel: 64-bit XOR + popcount per word (the compiler's builtin, a single
// instruction where the target has one). The fallback on every CPU and the model of the others.
#pragma once

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"

namespace bitlin {
namespace kernels {

inline int popcount64(std::uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_popcountll(v);
#else
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<int>((v * 0x0101010101010101ull) >> 56);
#endif
}

inline void hamming_scalar(const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d,
                           index_t nd, index_t ldd, index_t bytes, std::int32_t* out, index_t ldo) {
  for (index_t i = 0; i < nq; ++i) {
    const std::uint8_t* qi = q + i * ldq;
    for (index_t j = 0; j < nd; ++j) {
      const std::uint8_t* dj = d + j * ldd;
      std::int64_t s = 0;
      for (index_t b = 0; b < bytes; b += 8) {
        std::uint64_t a, w;
        std::memcpy(&a, qi + b, 8);
        std::memcpy(&w, dj + b, 8);
        s += popcount64(a ^ w);
      }
      out[i * ldo + j] = static_cast<std::int32_t>(s);
    }
  }
}

inline index_t first_below_scalar(const std::int32_t* d, index_t n, std::int32_t bound) {
  for (index_t j = 0; j < n; ++j)
    if (d[j] < bound) return j;
  return n;
}

inline void hamming_tile_pack_scalar(const std::uint8_t* d, index_t nd, index_t ldd,
                                     index_t positions, std::uint8_t* tiles) {
  constexpr index_t T = hamming_tile_rows;
  const index_t ntiles = (nd + T - 1) / T;
  for (index_t t = 0; t < ntiles; ++t) {
    std::uint8_t* tile = tiles + t * positions * T;
    for (index_t r = 0; r < T; ++r) {
      const index_t row = t * T + r;
      for (index_t p = 0; p < positions; ++p) tile[p * T + r] = row < nd ? d[row * ldd + p] : 0;
    }
  }
}

inline void hamming_tiles_scalar(const std::uint8_t* tables, index_t nq, index_t positions,
                                 const std::uint8_t* tiles, index_t ntiles, std::int32_t* out,
                                 index_t ldo) {
  constexpr index_t T = hamming_tile_rows;
  for (index_t i = 0; i < nq; ++i) {
    const std::uint8_t* tab = tables + i * positions * hamming_table_bytes;
    for (index_t t = 0; t < ntiles; ++t) {
      const std::uint8_t* tile = tiles + t * positions * T;
      for (index_t r = 0; r < T; ++r) {
        std::int32_t s = 0;
        for (index_t p = 0; p < positions; ++p) {
          const unsigned v = tile[p * T + r];
          s += tab[p * hamming_table_bytes + (v & 15u)] +
               tab[p * hamming_table_bytes + 16 + (v >> 4)];
        }
        out[i * ldo + t * T + r] = s;
      }
    }
  }
}

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&hamming_scalar);
}
inline kernel_entry<detail::first_below_fn> first_below_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&first_below_scalar);
}
inline kernel_entry<detail::hamming_tile_pack_fn> hamming_tile_pack_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&hamming_tile_pack_scalar);
}
inline kernel_entry<detail::hamming_tiles_fn> hamming_tiles_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&hamming_tiles_scalar);
}

}  // namespace kernels
}  // namespace bitlin
